"""`pluggably models pull` and following an operation to its end: live progress, Ctrl-C, the outcome."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import grpc
from google.longrunning import operations_pb2
from google.protobuf import duration_pb2
from google.rpc import code_pb2

from pluggably.cli.connection import Connection, rpc_error
from pluggably.cli.output import Model, download_metadata, operation_details, pulled, source
from pluggably.cli.progress import progress_view
from pluggably.cli.status import INTERRUPTED, OK, UNREACHABLE, USAGE, CliError, read_status, status_error
from pluggably.v1 import model_service_pb2, operation_watch_service_pb2

Source = model_service_pb2.ModelSource
# `org/name` with an optional `@revision`: a Hugging Face repository, as the hub spells ids.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[^\s@]+)?$")
# Request fields as the `pull` command line names them, for the gateway's field violations.
PULL_FIELDS = {
    "source": "SOURCE",
    "source.hugging_face.revision": "--revision",
    "source.hugging_face.allow_patterns": "--include",
    "model_id": "--id",
    "sha256": "--sha256",
}
SOURCE_FORMS = (
    "hf:ORG/NAME[@REVISION] or ORG/NAME[@REVISION] (Hugging Face), an http(s):// URL, "
    "or a local path (/absolute or ./relative)"
)
CANCEL_WAIT_S = 60


def parse_source(text: str, revision: str | None = None, include: list[str] | None = None) -> Source:
    """The source a SOURCE argument names; a relative local path is made absolute here, on the client."""
    hub_text = text.removeprefix("hf:") if text.startswith("hf:") else text if _HUB_ID.match(text) else None
    if hub_text is not None:
        repo_id, _, pinned_revision = hub_text.partition("@")
        if revision and pinned_revision and revision != pinned_revision:
            raise CliError(f"two revisions given: @{pinned_revision} in SOURCE and --revision {revision}", USAGE)
        hub = model_service_pb2.HuggingFaceSource(
            repo_id=repo_id, revision=revision or pinned_revision, allow_patterns=include or []
        )
        return Source(hugging_face=hub)
    if revision or include:
        raise CliError("--revision and --include apply to Hugging Face sources only", USAGE)
    if re.match(r"^https?://", text, re.IGNORECASE):
        return Source(url=text)
    if text.startswith(("/", "./", "../", "~")) or text in (".", "..") or Path(text).exists():
        path = Path(text).expanduser()
        if not path.is_absolute():  # relative to where the command runs: only this machine knows what it means
            path = path.resolve()
            if not path.exists():
                raise CliError(f"no such file or folder: {text}", USAGE)
        return Source(local_path=str(path))
    raise CliError(f"cannot tell what kind of source {text!r} is; use {SOURCE_FORMS}", USAGE)


def pull(conn: Connection, request: model_service_pb2.DownloadModelRequest, *, detach: bool) -> int:
    try:
        operation = conn.models.DownloadModel(request, timeout=conn.timeout_s)
    except grpc.RpcError as err:
        error = rpc_error(err, conn, PULL_FIELDS)
        running = error.report.metadata.get("operation", "") if error.report else ""
        if running:
            error.lines += (f"  follow it:  {conn.command('operations', 'wait', running)}",)
        raise error from None
    except KeyboardInterrupt:
        raise CliError(
            f"interrupted; the download may have started: see {conn.command('operations', 'list')}", INTERRUPTED
        ) from None
    metadata = download_metadata(operation)
    model = metadata.model if metadata else "the model"
    print(f"Pulling {source(request.source)} into {model} ({operation.name})", file=sys.stderr, flush=True)
    if detach:
        print(operation.name)
        print("\n".join(_how_to_follow(conn, operation.name)), file=sys.stderr)
        return OK
    return follow(conn, operation.name)


def follow(conn: Connection, name: str) -> int:
    """Watches the operation until it is done, showing its progress; Ctrl-C asks whether to cancel it."""
    view = progress_view(sys.stderr)
    stream = conn.watch.WatchOperation(operation_watch_service_pb2.WatchOperationRequest(name=name))
    last = None
    try:
        try:
            for last in stream:
                metadata = download_metadata(last)
                if metadata is not None:
                    view.update(metadata)
                if last.done:
                    break
        finally:
            view.close()
    except KeyboardInterrupt:
        stream.cancel()
        return _interrupted(conn, name)
    except grpc.RpcError as err:
        error = rpc_error(err, conn)
        if error.exit_code == UNREACHABLE:
            error = CliError(f"lost the gateway at {conn.address} while following {name}", UNREACHABLE)
        error.lines += ("  the operation may still be running:", *_how_to_follow(conn, name))
        raise error from None
    if last is None or not last.done:
        raise CliError(f"the gateway stopped reporting {name} before it finished", lines=_how_to_follow(conn, name))
    return outcome(last)


def outcome(operation: operations_pb2.Operation, *, cancelled_here: bool = False) -> int:
    """Prints a finished operation's result (stdout) or raises its error."""
    if operation.HasField("error"):
        report = read_status(operation.error)
        if report.code == code_pb2.CANCELLED and cancelled_here:
            print(f"Cancelled {operation.name}: nothing was registered.", file=sys.stderr)
            return INTERRUPTED
        if report.code == code_pb2.ALREADY_EXISTS and "revision" in report.metadata:
            print(f"{report.message}.", file=sys.stderr)  # the same revision is there already: pull is idempotent
            return OK
        raise status_error(report, PULL_FIELDS, prefix=f"{operation.name} failed: ")
    model = Model()
    print(pulled(model) if operation.response.Unpack(model) else operation_details(operation))
    return OK


def cancel(conn: Connection, name: str) -> operations_pb2.Operation:
    """Cancels the operation and waits (a bounded time) until it has stopped."""
    conn.operations.CancelOperation(operations_pb2.CancelOperationRequest(name=name), timeout=conn.timeout_s)
    wait = operations_pb2.WaitOperationRequest(name=name, timeout=duration_pb2.Duration(seconds=CANCEL_WAIT_S))
    operation = conn.operations.WaitOperation(wait, timeout=CANCEL_WAIT_S + conn.timeout_s)
    if not operation.done:
        raise CliError(
            f"{name} has not stopped within {CANCEL_WAIT_S} s of being cancelled",
            lines=(f"  see it:  {conn.command('operations', 'get', name)}",),
        )
    return operation


def _interrupted(conn: Connection, name: str) -> int:
    print(file=sys.stderr)
    if not sys.stdin.isatty():
        _left_running(conn, name, "Interrupted; ")
        return INTERRUPTED
    if _ask_cancel_or_leave() == "leave":
        _left_running(conn, name)
        return INTERRUPTED
    print(f"Cancelling {name} ...", file=sys.stderr, flush=True)
    try:
        operation = cancel(conn, name)
    except grpc.RpcError as err:
        raise rpc_error(err, conn) from None
    except KeyboardInterrupt:
        raise CliError(f"interrupted; see {conn.command('operations', 'get', name)}", INTERRUPTED) from None
    return outcome(operation, cancelled_here=True)


def _ask_cancel_or_leave() -> str:
    """Asks on the terminal; end of input or a second Ctrl-C leaves the download running."""
    while True:
        print("Cancel the download or leave it running in the background? [c/l] ", end="", file=sys.stderr, flush=True)
        try:
            line = sys.stdin.readline()
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return "leave"
        answer = line.strip().lower()
        if not line or answer in ("l", "leave"):
            return "leave"
        if answer in ("c", "cancel"):
            return "cancel"


def _left_running(conn: Connection, name: str, prefix: str = "") -> None:
    lines = [f"{prefix}{name} keeps running on the gateway.", *_how_to_follow(conn, name)]
    print("\n".join(lines), file=sys.stderr)


def _how_to_follow(conn: Connection, name: str) -> tuple[str, ...]:
    return (
        f"  follow it:  {conn.command('operations', 'wait', name)}",
        f"  cancel it:  {conn.command('operations', 'cancel', name)}",
    )
