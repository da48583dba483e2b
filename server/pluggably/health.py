"""gRPC health that tells the truth (SYS-REQ-007): a service is SERVING only when it can serve.

The overall status ("", what Envoy's `/healthz` and Kubernetes probes ask)
turns SERVING once start-up has loaded the preloaded models. Each service
has its own: a generation service is SERVING while an installed model of
its modality can be served (it still answers while NOT_SERVING, with
NO_MODEL_FOR_MODALITY naming the command that installs one), and a
service that is not built answers NOT_SERVING. Statuses follow the model
registry: `changed()` asks for a refresh, which runs in the background.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthReporter:
    def __init__(self, servicer: health_aio.HealthServicer, can_serve: Mapping[str, Callable[[], bool]]) -> None:
        self.servicer = servicer
        self._can_serve = dict(can_serve)
        self._ready = False
        self._changed = asyncio.Event()

    async def refresh(self) -> None:
        await self.servicer.set("", SERVING if self._ready else NOT_SERVING)
        for service, can_serve in self._can_serve.items():
            await self.servicer.set(service, SERVING if self._ready and can_serve() else NOT_SERVING)

    async def ready(self) -> None:
        """Start-up is done: report what can serve."""
        self._ready = True
        await self.refresh()

    def changed(self) -> None:
        """Something a status depends on changed (the model registry): refresh soon."""
        self._changed.set()

    async def follow_changes(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self.refresh()
