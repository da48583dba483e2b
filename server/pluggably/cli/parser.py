"""The command line of the client commands (`models`, `storage`, `operations`) and their dispatch.

Kept free of gRPC imports: gRPC reads its log settings when it loads, and the CLI, which reports every failure
itself, quiets gRPC's own log lines before loading it (pluggably.cli.models holds the commands).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

CLIENT_COMMANDS = ("models", "storage", "operations")
DEFAULT_TIMEOUT_S = 60.0


def run_client_command(args: argparse.Namespace) -> int:
    """Runs a parsed client command; returns its exit code (pluggably.cli.status)."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    from pluggably.cli.models import run

    return run(args)


def add_client_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds `models`, `storage` and `operations` to the `pluggably` command. Each leaf names its handler in
    pluggably.cli.models."""
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument(
        "--server",
        metavar="HOST:PORT",
        help="the gateway's gRPC address (default: server.host:server.port from the settings, 127.0.0.1:50051; "
        "with --tls, envoy.host:envoy.https_port)",
    )
    group.add_argument("--tls", action="store_true", help="connect with TLS, e.g. to Envoy's TLS listener")
    group.add_argument(
        "--ca",
        type=Path,
        metavar="FILE",
        help="PEM certificates to trust with TLS; implies --tls (default: the development certificate, if any)",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"deadline of each call, not of following a download (default {DEFAULT_TIMEOUT_S:g})",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON, as the REST API gives it")

    def leaf(
        parent: argparse._SubParsersAction,  # type: ignore[type-arg]
        name: str,
        handler: str,
        help: str,
        *,
        json: bool = False,
        model: bool = False,
    ) -> argparse.ArgumentParser:
        parser = parent.add_parser(
            name, help=help, description=help, parents=[connection, *([as_json] if json else [])]
        )
        parser.set_defaults(handler=handler)
        if model:
            parser.add_argument("model", metavar="MODEL", help="model id, alias or resource name (models/ID)")
        return parser

    models = commands.add_parser("models", help="list, pull, remove and pin the models of a running gateway")
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = leaf(actions, "list", "list_models", "list the models", json=True)
    listing.add_argument(
        "--filter", metavar="F", help="AIP-160 filter, e.g. 'modality = MODALITY_TEXT AND pinned = true'"
    )
    leaf(actions, "get", "get_model", "show one model", json=True, model=True)
    pulling = leaf(actions, "pull", "pull_model", "download a model, showing its progress")
    pulling.add_argument("source", metavar="SOURCE", help="hf:ORG/NAME[@REV] or ORG/NAME, an http(s) URL, or a path")
    pulling.add_argument("--id", metavar="MODEL_ID", help="the id to register it under (default: from the source)")
    pulling.add_argument("--revision", metavar="REV", help="Hugging Face branch, tag or commit (default: main)")
    pulling.add_argument(
        "--include", action="append", metavar="PATTERN", help="only the hub files matching this glob (repeatable)"
    )
    pulling.add_argument("--sha256", metavar="HEX", help="the expected SHA-256 of a single-file URL download")
    pulling.add_argument("--detach", action="store_true", help="start the download, print its operation and return")
    removing = leaf(actions, "rm", "remove_model", "delete a model and its files", model=True)
    removing.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    leaf(actions, "pin", "pin_model", "keep a model from retention and rm", model=True)
    leaf(actions, "unpin", "unpin_model", "let retention and rm remove a model again", model=True)
    pruning = leaf(actions, "prune", "prune", "remove orphaned files and apply the retention policy", json=True)
    pruning.add_argument("--dry-run", action="store_true", help="only show what would be removed")
    leaf(actions, "discover", "discover", "scan the models directory now", json=True)

    leaf(commands, "storage", "show_storage", "show the disk the models use, and the budget", json=True)

    operations = commands.add_parser("operations", help="follow or cancel long-running operations (downloads)")
    actions = operations.add_subparsers(dest="action", required=True, metavar="ACTION")
    leaf(actions, "list", "list_operations", "list the operations", json=True)
    for name, handler, help, as_json_too in (
        ("get", "get_operation", "show one operation", True),
        ("wait", "wait_operation", "follow an operation to its end, showing its progress", False),
        ("cancel", "cancel_operation", "cancel an operation and wait until it stops", False),
    ):
        leaf(actions, name, handler, help, json=as_json_too).add_argument(
            "name", metavar="NAME", help="operations/ID, or the ID"
        )
