"""Loads each (model, runtime) once and keeps it loaded."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from pluggably.core.errors import BackendUnavailableError
from pluggably.core.generation.backends import TextGenerator, TextGeneratorLoader
from pluggably.core.models import ModelInfo, Runtime

log = logging.getLogger(__name__)

LOAD_RETRY_AFTER_S = 30.0


class TextGeneratorPool:
    """Lazily loads text generators with the loader registered for each runtime.

    Loading runs off the event loop, one model at a time; concurrent requests
    for the same model wait for the one load. A failed load is not cached: the
    next request tries again.
    """

    def __init__(self, loaders: Mapping[Runtime, TextGeneratorLoader]) -> None:
        self._loaders = dict(loaders)
        self._loaded: dict[tuple[str, Runtime], TextGenerator] = {}
        self._locks: dict[tuple[str, Runtime], asyncio.Lock] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-load")

    @property
    def runtimes(self) -> frozenset[Runtime]:
        return frozenset(self._loaders)

    async def get(self, model: ModelInfo, runtime: Runtime) -> TextGenerator:
        key = (model.id, runtime)
        if key in self._loaded:
            return self._loaded[key]
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._loaded:
                self._loaded[key] = await self._load(model, runtime)
        return self._loaded[key]

    async def _load(self, model: ModelInfo, runtime: Runtime) -> TextGenerator:
        loader = self._loaders[runtime]
        started = time.monotonic()
        try:
            generator = await asyncio.get_running_loop().run_in_executor(self._executor, loader, model)
        except Exception as err:
            log.exception("model load failed", extra={"model": model.id, "runtime": runtime.value})
            raise BackendUnavailableError(
                f"model {model.id!r} could not be loaded on runtime {runtime.value!r}: {err}",
                retry_after_s=LOAD_RETRY_AFTER_S,
                metadata={"model": model.name, "runtime": runtime.value},
            ) from err
        log.info(
            "model loaded",
            extra={
                "model": model.id,
                "runtime": runtime.value,
                "device": generator.device,
                "load_s": round(time.monotonic() - started, 3),
            },
        )
        return generator

    def unload(self, model_id: str) -> None:
        """Drops every loaded runtime of a model (deleted, replaced or evicted)."""
        for key in [k for k in self._loaded if k[0] == model_id]:
            del self._loaded[key]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._loaded.clear()
