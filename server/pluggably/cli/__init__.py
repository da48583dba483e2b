"""The `pluggably` command.

pluggably run            set up what is missing, then serve gRPC + Envoy (REST, SSE, TLS)
pluggably serve          the gRPC server alone
pluggably prepare-model  convert the default model into the models directory
pluggably dev-cert       create the development TLS certificate
pluggably envoy-config   print the Envoy configuration the gateway would use

Client commands, against a running gateway over gRPC (docs/cli.md):

pluggably models list|get|pull|rm|pin|unpin|prune|discover
pluggably storage
pluggably operations list|get|wait|cancel
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from pluggably.cli.parser import CLIENT_COMMANDS, add_client_commands, run_client_command
from pluggably.settings import ConfigError, Settings, load_settings

log = logging.getLogger("pluggably")


def _prepare_model(settings: Settings) -> Path | None:
    """Converts the built-in default model when it is the configured default and missing."""
    from pluggably.model_prep import DEFAULT_MODEL_ID, prepare_default_model

    if settings.models.default_text_model != DEFAULT_MODEL_ID:
        return None
    return prepare_default_model(settings.models_dir)


async def _run(settings: Settings) -> int:
    from pluggably.stack import start_stack

    stack = await start_stack(settings)
    e = settings.envoy
    print(
        "\nPluggably is starting (GET /healthz turns 200 once the models are loaded):\n"
        f"  REST + SSE   http://{e.host}:{e.http_port}/v1/models\n"
        f"  REST (TLS)   https://{e.host}:{e.https_port}/v1/models   (CA: {stack.tls.cert_file})\n"
        f"  gRPC         {e.host}:{e.http_port} (plain), {e.host}:{e.https_port} (TLS) through Envoy;"
        f" {settings.server.host}:{stack.gateway.port} direct\n"
        f"  Envoy admin  http://127.0.0.1:{e.admin_port}/\n"
        "Ctrl-C stops everything.\n",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def watch_envoy() -> None:
        assert stack.envoy.process is not None
        await asyncio.to_thread(stack.envoy.process.wait)
        if not stop.is_set():
            log.error("envoy exited; stopping the gateway")
            stop.set()

    watcher = asyncio.create_task(watch_envoy())
    preload = asyncio.create_task(stack.gateway.preload())
    await stop.wait()
    log.info("stopping", extra={"grace_period_s": settings.server.grace_period_s})
    watcher.cancel()
    preload.cancel()
    await stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pluggably", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="YAML config file (default: $PLUGGABLY_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="set up what is missing, then serve gRPC and Envoy")
    commands.add_parser("serve", help="serve the gRPC server alone")
    commands.add_parser("prepare-model", help="convert the default model (SmolLM2) into the models directory")
    commands.add_parser("dev-cert", help="create the development TLS certificate")
    commands.add_parser("envoy-config", help="print the Envoy configuration")
    add_client_commands(commands)
    args = parser.parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        return run_client_command(args)

    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(f"pluggably: {err}", file=sys.stderr)
        return 2
    from pluggably.core.redaction import Redactor
    from pluggably.logs import configure_logging

    configure_logging(settings.logging.level, redactor=Redactor(settings.secret_values()))

    if args.command == "prepare-model":
        from pluggably.model_prep import prepare_default_model

        print(prepare_default_model(settings.models_dir))
    elif args.command == "dev-cert":
        from pluggably.stack import tls_files

        tls = tls_files(settings)
        print(f"certificate: {tls.cert_file}\nprivate key: {tls.key_file}")
    elif args.command == "envoy-config":
        from pluggably.stack import envoy_config

        print(envoy_config(settings))
    elif args.command == "serve":
        from pluggably.app import serve

        asyncio.run(serve(settings))
    else:
        _prepare_model(settings)
        return asyncio.run(_run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
