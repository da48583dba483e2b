"""What the diffusers backends (images and meshes) share: one call at a time per pipeline, in a worker thread,
with progress per step and a stop between steps.

A pipeline object keeps per-call state (its scheduler's timesteps and step
index; Shap-E's renderer writes projected weights into itself), so calls on
one pipeline never overlap: they queue on an asyncio lock, not in a thread.
Stopping raises `StopGeneration` from the step hook, which ends the call at
once; diffusers' own `_interrupt` would still decode and return a result.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from typing import Any, Generic, TypeVar

from pluggably.runners.threaded import WorkerStream

E = TypeVar("E")
# The blocking work: (emit, stopping) -> None; it emits progress and a last event.
Work = Callable[[Callable[[E], None], threading.Event], None]


class StopGeneration(Exception):
    """Raised from a step hook when the consumer has gone: the pipeline call ends before its next step."""


def load_pipeline(load: Callable[[], Any]) -> Any:
    """Runs a diffusers (or optimum) `from_pretrained` without its progress bars, which would write to the
    server's stderr past the JSON log; the pipeline's own per-step bar is turned off too."""
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    pipeline = load()
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def torch_device(preference: str) -> str:
    import torch

    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        return f"cuda:{torch.cuda.current_device()}"
    return "cpu"


class PipelineBackend(Generic[E]):
    """A loaded diffusers pipeline, run one call at a time on `executor`."""

    def __init__(self, pipeline: Any, device: str, executor: Executor) -> None:
        self.pipeline = pipeline
        self._device = device
        self._executor = executor
        self._lock = asyncio.Lock()

    @property
    def device(self) -> str:
        return self._device

    def close(self) -> None:
        del self.pipeline
        gc.collect()  # a pipeline's tensors hold references among themselves

    async def run(self, work: Work[E]) -> AsyncIterator[E]:
        async with self._lock:
            worker: WorkerStream[E] = WorkerStream(work, self._executor)
            try:
                async for event in worker.items():
                    yield event
            finally:
                await worker.stop()
