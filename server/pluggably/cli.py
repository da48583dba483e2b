"""The `pluggably` command.

    pluggably run            set up what is missing, then serve gRPC + Envoy (REST, SSE, TLS)
    pluggably serve          the gRPC server alone
    pluggably prepare-model  convert the default model into the models directory
    pluggably dev-cert       create the development TLS certificate
    pluggably envoy-config   print the Envoy configuration the gateway would use
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from pluggably.settings import ConfigError, Settings, load_settings

log = logging.getLogger("pluggably")


def _tls_files(settings: Settings) -> tuple[Path, Path]:
    from pluggably.devcert import ensure_dev_certificate

    if settings.envoy.tls_cert_file and settings.envoy.tls_key_file:
        return settings.envoy.tls_cert_file, settings.envoy.tls_key_file
    return ensure_dev_certificate(settings.certs_dir)


def _envoy_config(settings: Settings) -> str:
    from pluggably.app import SERVICE_NAMES
    from pluggably.edge.envoy_config import TlsFiles, render_envoy_config

    cert, key = _tls_files(settings)
    return render_envoy_config(settings, TlsFiles(cert, key), SERVICE_NAMES)


def _prepare_model(settings: Settings) -> Path:
    from pluggably.model_prep import prepare_default_model

    return prepare_default_model(settings.models_dir)


async def _run(settings: Settings) -> int:
    from pluggably.app import start_gateway
    from pluggably.edge.envoy_process import EnvoyProcess

    cert, _ = _tls_files(settings)
    config_file = settings.data_dir / "envoy" / "envoy.yaml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(_envoy_config(settings))

    envoy = EnvoyProcess(settings.envoy.binary, config_file, settings.envoy.admin_port)
    gateway = await start_gateway(settings)
    try:
        await asyncio.to_thread(envoy.start)
    except Exception:
        await gateway.stop(0)
        raise
    e = settings.envoy
    print(
        "\nPluggably is starting (GET /healthz turns 200 once the models are loaded):\n"
        f"  REST + SSE   http://{e.host}:{e.http_port}/v1/models\n"
        f"  REST (TLS)   https://{e.host}:{e.https_port}/v1/models   (CA: {cert})\n"
        f"  gRPC         {e.host}:{e.http_port} (plain), {e.host}:{e.https_port} (TLS) through Envoy;"
        f" {settings.server.host}:{gateway.port} direct\n"
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
        while envoy.process is not None and envoy.process.poll() is None:
            await asyncio.sleep(0.5)
        log.error("envoy exited; stopping the gateway")
        stop.set()

    watcher = asyncio.create_task(watch_envoy())
    preload = asyncio.create_task(gateway.preload())
    await stop.wait()
    log.info("stopping", extra={"grace_period_s": settings.server.grace_period_s})
    watcher.cancel()
    preload.cancel()
    # Health turns NOT_SERVING first, so /healthz fails while in-flight calls finish.
    await gateway.stop()
    await asyncio.to_thread(envoy.stop)
    return 0 if envoy.process is None or envoy.process.returncode in (0, -signal.SIGTERM) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pluggably", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="YAML config file (default: $PLUGGABLY_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="set up what is missing, then serve gRPC and Envoy")
    commands.add_parser("serve", help="serve the gRPC server alone")
    commands.add_parser("prepare-model", help="convert the default model (SmolLM2) into the models directory")
    commands.add_parser("dev-cert", help="create the development TLS certificate")
    commands.add_parser("envoy-config", help="print the Envoy configuration")
    args = parser.parse_args(argv)

    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(f"pluggably: {err}", file=sys.stderr)
        return 2
    from pluggably.logs import configure_logging

    configure_logging(settings.logging.level)

    if args.command == "prepare-model":
        print(_prepare_model(settings))
    elif args.command == "dev-cert":
        cert, key = _tls_files(settings)
        print(f"certificate: {cert}\nprivate key: {key}")
    elif args.command == "envoy-config":
        print(_envoy_config(settings))
    elif args.command == "serve":
        from pluggably.app import serve

        asyncio.run(serve(settings))
    else:
        _prepare_model(settings)
        return asyncio.run(_run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
