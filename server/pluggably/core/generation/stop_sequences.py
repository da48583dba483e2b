"""Cuts generated text at the first stop sequence without ever emitting part of one."""

from __future__ import annotations

from collections.abc import Sequence


class StopSequenceFilter:
    """Feed text deltas in; get back the text that is safe to emit.

    Text that could still turn out to be the start of a stop sequence is held
    back until it can be decided. Once a stop sequence appears, `stopped` is
    true and nothing from it onwards is ever returned.
    """

    def __init__(self, stop_sequences: Sequence[str]) -> None:
        self._stops = tuple(s for s in stop_sequences if s)
        self._held = ""
        self.stopped = False

    def push(self, delta: str) -> str:
        if self.stopped or not delta:
            return ""
        if not self._stops:
            return delta
        text = self._held + delta
        cut = min((i for i in (text.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return text[:cut]
        keep = self._longest_suffix_that_starts_a_stop(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """The held-back text, at the end of generation (no stop sequence came)."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _longest_suffix_that_starts_a_stop(self, text: str) -> int:
        longest = 0
        for stop in self._stops:
            for length in range(min(len(stop) - 1, len(text)), longest, -1):
                if stop.startswith(text[-length:]):
                    longest = length
                    break
        return longest
