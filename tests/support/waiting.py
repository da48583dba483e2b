"""Waiting for a condition that another task or process makes true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout_s} s"
        await asyncio.sleep(0.01)


async def wait_for_answer(
    ask: Callable[[], Awaitable[T]], satisfied: Callable[[T], bool], timeout_s: float = 5.0, what: str = "an answer"
) -> T:
    """Asks until the answer satisfies, and returns it."""
    deadline = time.monotonic() + timeout_s
    while not satisfied(answer := await ask()):
        assert time.monotonic() < deadline, f"{what} not satisfied within {timeout_s} s: {answer!r}"
        await asyncio.sleep(0.05)
    return answer
