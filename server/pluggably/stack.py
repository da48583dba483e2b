"""The whole gateway in one process tree: the gRPC server plus its Envoy front.

Used by `pluggably run`, the system tests and the benchmarks, so all three run
the same thing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from pluggably.app import SERVICE_NAMES, Gateway, start_gateway
from pluggably.core.generation.backends import BackendRegistry
from pluggably.devcert import ensure_dev_certificate
from pluggably.edge.envoy_config import TlsFiles, render_envoy_config
from pluggably.edge.envoy_process import EnvoyProcess
from pluggably.settings import Settings


def tls_files(settings: Settings) -> TlsFiles:
    """The configured certificate, or the development one (created when missing)."""
    if settings.envoy.tls_cert_file and settings.envoy.tls_key_file:
        return TlsFiles(settings.envoy.tls_cert_file, settings.envoy.tls_key_file)
    return TlsFiles(*ensure_dev_certificate(settings.certs_dir))


def envoy_config(settings: Settings, grpc_port: int | None = None) -> str:
    """Envoy's bootstrap for these settings; `grpc_port` overrides a port-0 server setting."""
    if grpc_port is not None:
        settings = settings.model_copy(update={"server": settings.server.model_copy(update={"port": grpc_port})})
    return render_envoy_config(settings, tls_files(settings), SERVICE_NAMES)


@dataclass
class Stack:
    gateway: Gateway
    envoy: EnvoyProcess
    tls: TlsFiles

    async def stop(self) -> None:
        """Drains the server (health NOT_SERVING first), then stops Envoy."""
        await self.gateway.stop()
        await asyncio.to_thread(self.envoy.stop)


async def start_stack(
    settings: Settings,
    backends: BackendRegistry | None = None,
    envoy_log: Path | None = None,
) -> Stack:
    """Starts the server, then Envoy pointed at it. Call `gateway.preload()` to go SERVING."""
    config_file = settings.data_dir / "envoy" / "envoy.yaml"
    gateway = await start_gateway(settings, backends)
    try:
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(envoy_config(settings, grpc_port=gateway.port))
        envoy = EnvoyProcess(settings.envoy.binary, config_file, settings.envoy.admin_port, log_file=envoy_log)
        await envoy.start()
    except BaseException:
        await gateway.stop(0)
        raise
    return Stack(gateway, envoy, tls_files(settings))
