"""Showing a download's progress: a live bar on a terminal, a line every few seconds elsewhere."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from tqdm import tqdm

from pluggably.cli.output import Metadata, progress, stage

LINE_INTERVAL_S = 5.0


class ProgressView(Protocol):
    def update(self, metadata: Metadata) -> None: ...

    def close(self) -> None: ...


class _Bar(tqdm):  # type: ignore[type-arg]
    """tqdm with one more field for `bar_format`: `{detail}`, the gateway's own figures."""

    detail = ""

    @property
    def format_dict(self) -> dict[str, Any]:
        values = super().format_dict
        values["detail"] = self.detail
        return values


class BarView:
    """A tqdm bar on a terminal: stage, percentage, bytes done/total, rate, ETA and files, as the gateway reports
    them (so a resumed download's rate is not inflated). Without a total yet, no bar: bytes so far and the time."""

    KNOWN_TOTAL = "{desc:<11} {percentage:3.0f}%|{bar}| {detail}"
    UNKNOWN_TOTAL = "{desc:<11} {detail} [{elapsed}]"

    def __init__(self, stream: TextIO) -> None:
        columns, rows = _size(stream)
        self._bar = _Bar(
            total=None,
            file=stream,
            desc="starting",
            bar_format=self.UNKNOWN_TOTAL,
            dynamic_ncols=columns is None,
            ncols=columns,
            nrows=rows,
            leave=True,
        )

    def update(self, metadata: Metadata) -> None:
        bar = self._bar
        if metadata.bytes_total and bar.total != metadata.bytes_total:
            bar.total = metadata.bytes_total
            bar.bar_format = self.KNOWN_TOTAL
        bar.n = min(metadata.bytes_done, metadata.bytes_total) if metadata.bytes_total else metadata.bytes_done
        bar.desc = stage(metadata)
        bar.detail = progress(metadata, percent=False)
        bar.refresh()

    def close(self) -> None:
        self._bar.close()


class LineView:
    """One line per stage change and at most one per `interval_s` in between, for logs and pipes."""

    def __init__(
        self, stream: TextIO, interval_s: float = LINE_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ):
        self._stream = stream
        self._interval_s = interval_s
        self._clock = clock
        self._last_stage: int | None = None
        self._last_time = 0.0

    def update(self, metadata: Metadata) -> None:
        now = self._clock()
        if metadata.stage == self._last_stage and now - self._last_time < self._interval_s:
            return
        self._last_stage, self._last_time = metadata.stage, now
        print(f"{stage(metadata)}: {progress(metadata)}", file=self._stream, flush=True)

    def close(self) -> None:
        pass


def _size(stream: TextIO) -> tuple[int | None, int | None]:
    """(columns, rows) for tqdm: None to follow the terminal; 80 x 24 where the terminal reports none
    (a bare pseudo-terminal, where tqdm would otherwise hide the bar as beyond the last row)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        return 80, 24
    return (None if size.columns > 0 else 80), (None if size.lines > 0 else 24)


def progress_view(stream: TextIO) -> ProgressView:
    return BarView(stream) if stream.isatty() else LineView(stream)
