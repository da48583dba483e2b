"""AdmissionController: bounded concurrency and a bounded wait queue (SYS-NFR-003)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from pluggably.core.errors import OverloadedError
from pluggably.core.generation.admission import AdmissionController


class Holder:
    """A task that takes a slot and keeps it until released."""

    def __init__(self, admission: AdmissionController) -> None:
        self.admitted = asyncio.Event()
        self.release = asyncio.Event()
        self.task = asyncio.create_task(self._run(admission))

    async def _run(self, admission: AdmissionController) -> None:
        async with admission.slot():
            self.admitted.set()
            await self.release.wait()


async def until(condition: Callable[[], bool]) -> None:
    """Lets the other tasks run until `condition` holds (the controller has no events to await)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_no_more_than_max_concurrency_hold_a_slot_at_once_SYS_NFR_003() -> None:
    admission = AdmissionController(max_concurrency=2, max_queue=10, queue_timeout_s=10)
    holders = [Holder(admission) for _ in range(5)]
    await until(lambda: admission.waiting == 3)
    assert admission.active == 2
    assert sum(h.admitted.is_set() for h in holders) == 2

    # Releasing one admits exactly one waiter, in arrival order.
    first = next(h for h in holders if h.admitted.is_set())
    first.release.set()
    await first.task
    await until(lambda: holders[2].admitted.is_set())
    assert admission.active == 2
    assert admission.waiting == 2
    assert not holders[3].admitted.is_set()

    for h in holders:
        h.release.set()
    await asyncio.gather(*(h.task for h in holders))
    assert (admission.active, admission.waiting) == (0, 0)


async def test_full_queue_is_refused_at_once_with_a_retry_hint_SYS_NFR_003() -> None:
    admission = AdmissionController(max_concurrency=1, max_queue=1, queue_timeout_s=60)
    holder, queued = Holder(admission), Holder(admission)
    await until(lambda: admission.waiting == 1)

    started = time.monotonic()
    with pytest.raises(OverloadedError) as caught:
        async with asyncio.timeout(1):
            async with admission.slot():
                pytest.fail("admitted beyond the queue bound")
    assert time.monotonic() - started < 5  # refused, not queued until the 60 s timeout
    assert caught.value.retry_after_s >= 1
    assert caught.value.reason == "OVERLOADED"
    assert (admission.active, admission.waiting) == (1, 1)  # the refused call left no trace

    holder.release.set()
    queued.release.set()
    await asyncio.gather(holder.task, queued.task)
    assert queued.admitted.is_set()


async def test_zero_queue_refuses_whenever_all_slots_are_busy_SYS_NFR_003() -> None:
    admission = AdmissionController(max_concurrency=1, max_queue=0, queue_timeout_s=60)
    holder = Holder(admission)
    await holder.admitted.wait()
    with pytest.raises(OverloadedError):
        async with admission.slot():
            pass
    holder.release.set()
    await holder.task
    async with admission.slot():  # free again
        assert admission.active == 1


async def test_waiting_longer_than_the_queue_timeout_is_refused_SYS_NFR_003() -> None:
    admission = AdmissionController(max_concurrency=1, max_queue=4, queue_timeout_s=0.05)
    holder = Holder(admission)
    await holder.admitted.wait()
    started = time.monotonic()
    with pytest.raises(OverloadedError) as caught:
        async with admission.slot():
            pytest.fail("admitted while the only slot was held")
    assert 0.04 <= time.monotonic() - started < 5
    assert caught.value.retry_after_s >= 1
    assert admission.waiting == 0
    holder.release.set()
    await holder.task
    assert admission.active == 0


async def test_slot_is_released_when_the_holder_raises_SYS_NFR_003() -> None:
    admission = AdmissionController(max_concurrency=1, max_queue=0, queue_timeout_s=1)
    with pytest.raises(RuntimeError):
        async with admission.slot():
            raise RuntimeError("generation failed")
    assert admission.active == 0
    async with asyncio.timeout(1), admission.slot():  # would be refused if the slot leaked
        assert admission.active == 1


async def test_slot_is_released_when_the_holder_is_cancelled_SYS_NFR_003() -> None:
    admission = AdmissionController(max_concurrency=1, max_queue=0, queue_timeout_s=1)
    holder = Holder(admission)
    await holder.admitted.wait()
    holder.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder.task
    assert admission.active == 0
    async with asyncio.timeout(1), admission.slot():
        assert admission.active == 1


async def test_cancelled_waiter_leaves_the_queue_SYS_NFR_003() -> None:
    admission = AdmissionController(max_concurrency=1, max_queue=1, queue_timeout_s=60)
    holder = Holder(admission)
    await holder.admitted.wait()
    waiter = Holder(admission)
    await until(lambda: admission.waiting == 1)
    waiter.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter.task
    assert admission.waiting == 0
    assert not waiter.admitted.is_set()

    # The queue place is free again, and the slot goes to the next caller.
    nxt = Holder(admission)
    await until(lambda: admission.waiting == 1)
    holder.release.set()
    await holder.task
    await asyncio.wait_for(nxt.admitted.wait(), 1)
    nxt.release.set()
    await nxt.task
    assert (admission.active, admission.waiting) == (0, 0)
