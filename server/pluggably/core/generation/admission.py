"""Bounded concurrency with a bounded wait queue (SYS-NFR-003)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pluggably.core.errors import OverloadedError


class AdmissionController:
    """At most `max_concurrency` holders at once; at most `max_queue` waiting.

    A request that finds the queue full, or waits longer than `queue_timeout_s`,
    gets `OverloadedError` with a retry hint estimated from recent hold times.
    """

    def __init__(self, max_concurrency: int, max_queue: int, queue_timeout_s: float) -> None:
        self._slots = asyncio.Semaphore(max_concurrency)
        self._max_concurrency = max_concurrency
        self._max_queue = max_queue
        self._queue_timeout_s = queue_timeout_s
        self._waiting = 0
        self._active = 0
        self._mean_hold_s = 1.0

    @property
    def active(self) -> int:
        return self._active

    @property
    def waiting(self) -> int:
        return self._waiting

    def _retry_after_s(self) -> float:
        backlog = (self._waiting + self._active) / self._max_concurrency
        return max(1.0, round(self._mean_hold_s * backlog, 1))

    def _overloaded(self, why: str) -> OverloadedError:
        return OverloadedError(
            f"server busy: {why}; retry later",
            retry_after_s=self._retry_after_s(),
            metadata={"active": str(self._active), "waiting": str(self._waiting)},
        )

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots.locked() or self._waiting:
            if self._waiting >= self._max_queue:
                raise self._overloaded(
                    f"all {self._max_concurrency} generation slots are busy and the queue of {self._max_queue} is full"
                )
            self._waiting += 1
            try:
                async with asyncio.timeout(self._queue_timeout_s):
                    await self._slots.acquire()
            except TimeoutError:
                raise self._overloaded(f"no generation slot freed within {self._queue_timeout_s:g} s") from None
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        self._active += 1
        started = time.monotonic()
        try:
            yield
        finally:
            self._active -= 1
            self._slots.release()
            self._mean_hold_s = 0.8 * self._mean_hold_s + 0.2 * (time.monotonic() - started)
