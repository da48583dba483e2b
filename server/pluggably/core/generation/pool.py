"""Loads, keeps and unloads the backends of every modality, within a memory budget (SYS-NFR-003).

A backend is loaded on first use, with the factory its route names, and
kept for the next request. With `memory_budget_bytes` set, loading one that
would not fit first unloads the least recently used backends that no
request is using; a busy backend is never unloaded. A model's memory is
what discovery estimated from its weights (`ModelInfo.hardware`).

Loads run one at a time, off the event loop, each in a thread that ends
with it; requests for a model that is loading wait for that one load. A failed load is not kept: the next request
tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pluggably.core.errors import BackendUnavailableError, FailedPreconditionError
from pluggably.core.generation.router import Route
from pluggably.core.models import Runtime
from pluggably.core.units import decimal_bytes

log = logging.getLogger(__name__)

LOAD_RETRY_AFTER_S = 30.0
_Key = tuple[str, str, Runtime]  # model id, provider, runtime


@dataclass
class _Loaded:
    backend: Any
    memory_bytes: int
    leases: int = 0
    retired: bool = False  # out of the pool (model deleted, replaced or evicted); closed once unused


class ModelPool:
    def __init__(self, memory_budget_bytes: int = 0) -> None:
        self._budget = memory_budget_bytes
        self._loaded: OrderedDict[_Key, _Loaded] = OrderedDict()  # least recently used first
        self._requests: Counter[str] = Counter()
        self._load_lock = asyncio.Lock()

    @asynccontextmanager
    async def lease(self, route: Route) -> AsyncIterator[Any]:
        """The route's backend, loaded if need be, kept from unloading until the block ends."""
        self._requests[route.model.id] += 1  # busy from now: a model being loaded for a request stays
        try:
            entry = await self._get(route)
            entry.leases += 1
            try:
                yield entry.backend
            finally:
                entry.leases -= 1
                if entry.retired and not entry.leases:
                    self._close(entry)
        finally:
            self._requests[route.model.id] -= 1
            if not self._requests[route.model.id]:
                del self._requests[route.model.id]

    def requests(self, model_id: str) -> int:
        """Requests using (or waiting to use) the model now: such a model is not deleted or evicted."""
        return self._requests[model_id]

    @property
    def loaded_bytes(self) -> int:
        return sum(e.memory_bytes for e in self._loaded.values())

    def loaded(self) -> list[_Key]:
        """What is loaded, least recently used first."""
        return list(self._loaded)

    async def _get(self, route: Route) -> _Loaded:
        key = (route.model.id, route.provider, route.runtime)
        if (entry := self._loaded.get(key)) is None:
            async with self._load_lock:
                if (entry := self._loaded.get(key)) is None:
                    entry = await self._load(route)
                    self._loaded[key] = entry
        self._loaded.move_to_end(key)
        return entry

    async def _load(self, route: Route) -> _Loaded:
        model, runtime = route.model, route.runtime
        need = model.hardware.memory_bytes
        self._make_room(route, need)
        started = time.monotonic()
        # A thread of its own, which ends with the load: torch's OpenMP gives every thread that runs a parallel
        # operation a team of workers for as long as that thread lives, and one team too many makes every team
        # sleep and wake at each step (measured: +15-80% per image or mesh; bench/generation.py).
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-load")
        try:
            backend = await asyncio.get_running_loop().run_in_executor(loader, route.factory.load, model)
        except Exception as err:
            log.exception("model load failed", extra={"model": model.id, "runtime": runtime.value})
            raise BackendUnavailableError(
                f"model {model.id!r} could not be loaded on runtime {runtime.value!r}: {err}",
                retry_after_s=LOAD_RETRY_AFTER_S,
                metadata={"model": model.name, "runtime": runtime.value},
            ) from err
        finally:
            loader.shutdown(wait=False)  # the thread exits once its load is done, even after a cancel
        log.info(
            "model loaded",
            extra={
                "model": model.id,
                "runtime": runtime.value,
                "device": backend.device,
                "load_s": round(time.monotonic() - started, 3),
                "memory_bytes": need,
            },
        )
        return _Loaded(backend, need)

    def _make_room(self, route: Route, need: int) -> None:
        """Unloads idle backends, least recently used first, until `need` more bytes fit the budget."""
        if not self._budget:
            return
        model = route.model
        if need > self._budget:
            raise FailedPreconditionError(
                f"{model.name} needs about {decimal_bytes(need)} of memory, more than the whole "
                f"generation.memory_budget_bytes of {decimal_bytes(self._budget)}",
                metadata={"model": model.name},
            )
        for key, entry in list(self._loaded.items()):
            if self.loaded_bytes + need <= self._budget:
                break
            if not entry.leases:
                log.info("model unloaded", extra={"model": key[0], "runtime": key[2].value, "why": "memory budget"})
                self._retire(key)
        if self.loaded_bytes + need > self._budget:
            raise BackendUnavailableError(
                f"{model.name} needs about {decimal_bytes(need)} of memory and the models serving requests now "
                f"hold {decimal_bytes(self.loaded_bytes)} of the {decimal_bytes(self._budget)} budget",
                retry_after_s=LOAD_RETRY_AFTER_S,
                metadata={"model": model.name},
            )

    def _retire(self, key: _Key) -> None:
        entry = self._loaded.pop(key)
        entry.retired = True
        if not entry.leases:
            self._close(entry)

    @staticmethod
    def _close(entry: _Loaded) -> None:
        try:
            entry.backend.close()
        except Exception:
            log.exception("closing a backend failed")

    def unload(self, model_id: str) -> None:
        """Drops every loaded backend of a model (deleted, replaced or evicted); busy ones close when done."""
        for key in [k for k in self._loaded if k[0] == model_id]:
            self._retire(key)

    def close(self) -> None:
        for key in list(self._loaded):
            self._retire(key)
