"""The client commands: `pluggably models ...`, `pluggably storage`, `pluggably operations ...` over gRPC.

Each talks to a running gateway (docs/cli.md); the gateway does the work and judges every request. The command
line is in pluggably.cli.parser, the printing in pluggably.cli.output, `pull` and its progress in pluggably.cli.pull.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import grpc
from google.longrunning import operations_pb2
from google.protobuf import field_mask_pb2
from google.rpc import code_pb2

from pluggably.cli import output as out
from pluggably.cli.connection import Connection, connect, rpc_error
from pluggably.cli.pull import cancel, follow, parse_source, pull
from pluggably.cli.status import FAILED, INTERRUPTED, OK, USAGE, CliError, report_error
from pluggably.v1 import model_service_pb2

Handler = Callable[[argparse.Namespace, Connection], int]
STORAGE = "storage"
PAGE_SIZE = 1000


def model_name(reference: str) -> str:
    """`models/x` from `x` or `models/x` (x may be an alias)."""
    return reference if reference.startswith("models/") else f"models/{reference}"


def operation_name(reference: str) -> str:
    return reference if reference.startswith("operations/") else f"operations/{reference}"


# -- models -------------------------------------------------------------------------------------------------------


def all_pages(fetch: Callable[[str], Any], items: str) -> list[Any]:
    """Every item of a paginated List call; `fetch(page_token)` gets one page."""
    collected: list[Any] = []
    token = ""
    while True:
        page = fetch(token)
        collected += getattr(page, items)
        token = page.next_page_token
        if not token:
            return collected


def list_models(args: argparse.Namespace, conn: Connection) -> int:
    models = all_pages(
        lambda token: conn.models.ListModels(
            model_service_pb2.ListModelsRequest(page_size=PAGE_SIZE, page_token=token, filter=args.filter or ""),
            timeout=conn.timeout_s,
        ),
        "models",
    )
    print(out.as_json(models, "models") if args.json else out.model_table(models))
    return OK


def get_model(args: argparse.Namespace, conn: Connection) -> int:
    model = conn.models.GetModel(model_service_pb2.GetModelRequest(name=model_name(args.model)), timeout=conn.timeout_s)
    print(out.as_json(model) if args.json else out.model_details(model))
    return OK


def pull_model(args: argparse.Namespace, conn: Connection) -> int:
    request = model_service_pb2.DownloadModelRequest(
        source=parse_source(args.source, args.revision, args.include),
        model_id=args.id or "",
        sha256=(args.sha256 or "").lower(),
    )
    return pull(conn, request, detach=args.detach)


def remove_model(args: argparse.Namespace, conn: Connection) -> int:
    model = conn.models.GetModel(model_service_pb2.GetModelRequest(name=model_name(args.model)), timeout=conn.timeout_s)
    if not args.yes and not model.pinned:  # a pinned model is refused anyway: no need to ask first
        if not sys.stdin.isatty():
            raise CliError(f"not removing {model.name} without --yes (there is no terminal to ask on)", USAGE)
        if not _confirm(f"Remove {model.name} and its files ({out.size(model.size_bytes)})? [y/N] "):
            print("Nothing removed.", file=sys.stderr)
            return FAILED
    try:
        conn.models.DeleteModel(model_service_pb2.DeleteModelRequest(name=model.name), timeout=conn.timeout_s)
    except grpc.RpcError as err:
        error = rpc_error(err, conn)
        if model.pinned and err.code() == grpc.StatusCode.FAILED_PRECONDITION:  # type: ignore[attr-defined]
            error.lines += (f"  unpin it first:  {conn.command('models', 'unpin', out.model_id(model.name))}",)
        raise error from None
    print(f"Removed {model.name} ({out.size(model.size_bytes)}).")
    return OK


def pin_model(args: argparse.Namespace, conn: Connection) -> int:
    model = _set_pinned(conn, model_name(args.model), True)
    print(f"Pinned {model.name}: retention and `models rm` leave it alone.")
    return OK


def unpin_model(args: argparse.Namespace, conn: Connection) -> int:
    print(f"Unpinned {_set_pinned(conn, model_name(args.model), False).name}.")
    return OK


def _set_pinned(conn: Connection, name: str, pinned: bool) -> model_service_pb2.Model:
    request = model_service_pb2.UpdateModelRequest(
        model=model_service_pb2.Model(name=name, pinned=pinned), update_mask=field_mask_pb2.FieldMask(paths=["pinned"])
    )
    return conn.models.UpdateModel(request, timeout=conn.timeout_s)


def discover(args: argparse.Namespace, conn: Connection) -> int:
    found = conn.models.DiscoverModels(model_service_pb2.DiscoverModelsRequest(), timeout=conn.timeout_s)
    print(out.as_json(found) if args.json else out.discovery(found))
    return OK


def prune(args: argparse.Namespace, conn: Connection) -> int:
    request = model_service_pb2.CleanupStorageRequest(name=STORAGE, dry_run=args.dry_run)
    response = conn.models.CleanupStorage(request, timeout=conn.timeout_s)
    print(out.as_json(response) if args.json else out.cleanup(response))
    return OK


def show_storage(args: argparse.Namespace, conn: Connection) -> int:
    usage = conn.models.GetStorage(model_service_pb2.GetStorageRequest(name=STORAGE), timeout=conn.timeout_s)
    print(out.as_json(usage) if args.json else out.storage(usage))
    return OK


# -- operations ---------------------------------------------------------------------------------------------------


def list_operations(args: argparse.Namespace, conn: Connection) -> int:
    operations = all_pages(
        lambda token: conn.operations.ListOperations(
            operations_pb2.ListOperationsRequest(name="operations", page_size=PAGE_SIZE, page_token=token),
            timeout=conn.timeout_s,
        ),
        "operations",
    )
    print(out.as_json(operations, "operations") if args.json else out.operation_table(operations))
    return OK


def get_operation(args: argparse.Namespace, conn: Connection) -> int:
    request = operations_pb2.GetOperationRequest(name=operation_name(args.name))
    operation = conn.operations.GetOperation(request, timeout=conn.timeout_s)
    print(out.as_json(operation) if args.json else out.operation_details(operation))
    return OK


def cancel_operation(args: argparse.Namespace, conn: Connection) -> int:
    operation = cancel(conn, operation_name(args.name))
    if operation.error.code == code_pb2.CANCELLED:
        print(f"Cancelled {operation.name}.")
        return OK
    print(f"{operation.name} had already finished ({out.operation_state(operation)}): nothing to cancel.")
    return OK


def wait_operation(args: argparse.Namespace, conn: Connection) -> int:
    return follow(conn, operation_name(args.name))


HANDLERS: dict[str, Handler] = {
    handler.__name__: handler
    for handler in (
        list_models,
        get_model,
        pull_model,
        remove_model,
        pin_model,
        unpin_model,
        discover,
        prune,
        show_storage,
        list_operations,
        get_operation,
        cancel_operation,
        wait_operation,
    )
}


def run(args: argparse.Namespace) -> int:
    """Runs the command `args.handler` names (pluggably.cli.parser); returns its exit code."""
    try:
        conn = connect(
            args.server, config=args.config, tls=args.tls or args.ca is not None, ca=args.ca, timeout_s=args.timeout
        )
    except CliError as error:
        return report_error(error)
    try:
        return HANDLERS[args.handler](args, conn)
    except grpc.RpcError as err:
        return report_error(rpc_error(err, conn))
    except CliError as error:
        return report_error(error)
    except KeyboardInterrupt:
        print("\npluggably: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # e.g. `pluggably models list | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # keeps the final flush quiet
        return OK
    finally:
        conn.close()


def _confirm(question: str) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    try:
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return False
