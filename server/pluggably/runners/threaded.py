"""Blocking model work in a worker thread, seen from the event loop as an async stream of what it emits.

Local runtimes (ONNX Runtime, torch, diffusers) block for a whole forward
pass or denoising step. The work runs in an executor thread and checks a
stop flag between steps; `stop()` sets the flag and returns only once the
thread has really let go of the CPU, so a freed generation slot is free.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")
# The work: `emit` hands an item to the event loop; `stopping` is set when the consumer has gone.
Work = Callable[[Callable[[T], None], threading.Event], None]


class WorkerStream(Generic[T]):
    _DONE = object()

    def __init__(self, work: Work[T], executor: Executor | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self.stopping = threading.Event()
        self._future = self._loop.run_in_executor(executor, self._run, work)

    def _put(self, item: object) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _run(self, work: Work[T]) -> None:
        try:
            work(self._put, self.stopping)
        except BaseException as err:  # handed to the event loop, re-raised there
            self._put(err)
        finally:
            self._put(self._DONE)

    async def items(self) -> AsyncIterator[T]:
        """What the work emits, in order; an exception it raised is raised here."""
        while (item := await self._queue.get()) is not self._DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    async def stop(self) -> None:
        """Asks the work to stop at its next check, and waits until the thread has finished."""
        self.stopping.set()
        await asyncio.shield(self._future)
