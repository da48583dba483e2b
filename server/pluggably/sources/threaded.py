"""Runs a blocking transfer in a worker thread that stops when the awaiting task is cancelled.

Byte transfers run off the event loop: reading, writing and hashing in one
thread is several times faster than hopping between the loop and threads
per chunk, and keeps the loop free for requests. The thread checks `stop`
between chunks, so a cancelled download stops within one chunk or one
poll interval.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

# Blocks in flight between the writing and the hashing thread (a few MB).
PIPELINE_BLOCKS = 8


async def run_stoppable(work: Callable[[threading.Event], None]) -> None:
    stop = threading.Event()
    future = asyncio.get_running_loop().run_in_executor(None, work, stop)
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        await asyncio.gather(future, return_exceptions=True)  # the thread has let go of the files
        raise


def write_pipelined(
    blocks: Iterator[bytes], out: BinaryIO, received: Callable[[bytes], None], stop: threading.Event
) -> None:
    """Writes `blocks` to `out` in this thread while another thread runs `received` (hashing) on them.

    Reading and writing here, hashing there: on two cores the transfer then
    goes about as fast as the slower of the two instead of their sum. Every
    block written is passed to `received` before this returns; an error in
    `received` (a failed budget check) stops the reading.
    """
    pending: queue.Queue[bytes | None] = queue.Queue(maxsize=PIPELINE_BLOCKS)
    failures: list[BaseException] = []

    def consume() -> None:
        while (block := pending.get()) is not None:
            if not failures:
                try:
                    received(block)
                except BaseException as error:
                    failures.append(error)

    consumer = threading.Thread(target=consume, name="download-hash", daemon=True)
    consumer.start()
    try:
        for block in blocks:
            out.write(block)
            pending.put(block)
            if stop.is_set() or failures:
                break
    finally:
        pending.put(None)
        consumer.join()
    if failures:
        raise failures[0]
