"""The gateway (gRPC server + Envoy) for a benchmark, in a process of its own.

    python -m bench.serve_stack --data-dir DIR [--models-dir DIR] [options]

Starts the stack with `pluggably.stack.start_stack`, loads the preload models
(on every runtime with `--all-runtimes`), then prints one JSON line on stdout:

    {"grpc_port": ..., "http_port": ..., "https_port": ..., "admin_port": ..., "cert_file": ..., "pid": ...}

and serves until SIGTERM or SIGINT (or, with `--exit-on-stdin-eof`, until its
stdin ends: the benchmark that started it is gone), then drains and stops Envoy.
Logs (JSON lines) go to stderr; Envoy's output to `<data-dir>/envoy.log`.
Run it from the repository root (`--tiny-models` imports `tests.support`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from pluggably.settings import (
    Settings,
)
from tests.support.loopback import settings_for_test

log = logging.getLogger("bench.serve_stack")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="state: Envoy config, certificate, logs")
    parser.add_argument("--models-dir", type=Path, help="default: <data-dir>/models")
    parser.add_argument(
        "--tiny-models", action="store_true", help="build the test suite's tiny models into --models-dir if missing"
    )
    parser.add_argument(
        "--prepare-default-model", action="store_true", help="convert SmolLM2 into --models-dir if missing"
    )
    parser.add_argument("--default-model", required=True, help="models.default_text_model")
    parser.add_argument("--preload", action="append", default=[], help="model to load before serving (repeatable)")
    parser.add_argument("--all-runtimes", action="store_true", help="load each preload model on every runtime")
    parser.add_argument("--max-concurrency", type=int, default=4, help="generation.max_concurrency")
    parser.add_argument("--max-queue", type=int, default=64, help="generation.max_queue")
    parser.add_argument("--threads", type=int, default=0, help="generation.threads (0: the runtime chooses)")
    parser.add_argument("--health-check-interval", type=float, default=1.0, help="envoy.health_check_interval_s")
    parser.add_argument(
        "--download-progress-interval",
        type=float,
        default=0.5,
        help="downloads.progress_interval_s (default: the production default, 0.5)",
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="stop when stdin ends (the parent that started it is gone)"
    )
    args = parser.parse_args(argv)
    args.models_dir = args.models_dir or args.data_dir / "models"
    return args


def build_settings(args: argparse.Namespace) -> Settings:
    return settings_for_test(
        args.data_dir,
        args.models_dir,
        envoy={"health_check_interval_s": args.health_check_interval},
        generation={"max_concurrency": args.max_concurrency, "max_queue": args.max_queue, "threads": args.threads},
        models={"default_text_model": args.default_model, "preload": tuple(args.preload)},
        logging={"level": args.log_level},
        downloads={"progress_interval_s": args.download_progress_interval},
    )


def prepare_models(args: argparse.Namespace) -> None:
    if args.tiny_models:
        from tests.support.tiny_models import CHAT_MODEL_ID, build_tiny_models

        if not (args.models_dir / CHAT_MODEL_ID).exists():
            log.info("building tiny models", extra={"models_dir": str(args.models_dir)})
            build_tiny_models(args.models_dir)
    if args.prepare_default_model:
        from pluggably.model_prep import prepare_default_model

        prepare_default_model(args.models_dir)


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Sets `stop` when stdin ends: the parent closed its end or died."""

    def read_until_eof() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=read_until_eof, name="stdin-watch", daemon=True).start()


async def serve(args: argparse.Namespace, settings: Settings) -> None:
    from pluggably.stack import start_stack

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if args.exit_on_stdin_eof:
        watch_stdin(loop, stop)

    stack = await start_stack(settings, envoy_log=settings.data_dir / "envoy.log")
    try:

        async def load() -> None:
            gateway = stack.gateway
            await gateway.preload()
            if args.all_runtimes:
                for reference in settings.models.preload:
                    model = gateway.catalog.find(reference)
                    if model is None:
                        raise SystemExit(f"serve_stack: preload model {reference!r} not found")
                    for runtime in model.runtimes:
                        if runtime in gateway.pool.runtimes:
                            await gateway.pool.get(model, runtime)

        loading = asyncio.create_task(load())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if loading.done():
            loading.result()
            ready = {
                "grpc_port": stack.gateway.port,
                "http_port": settings.envoy.http_port,
                "https_port": settings.envoy.https_port,
                "admin_port": settings.envoy.admin_port,
                "cert_file": str(stack.tls.cert_file.resolve()),
                "pid": os.getpid(),
            }
            print(json.dumps(ready), flush=True)
            await stopping
        else:
            loading.cancel()
    finally:
        await stack.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pluggably.logs import configure_logging

    configure_logging(args.log_level)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    prepare_models(args)
    asyncio.run(serve(args, build_settings(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
