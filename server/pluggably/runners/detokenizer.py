"""Turns a stream of token ids into text deltas that never split a character."""

from __future__ import annotations

from typing import Any

REPLACEMENT_CHARACTER = "\ufffd"
# Text that still ends in U+FFFD this many tokens after the last fully decoded
# point is garbage (a random or broken model), not a character in the making:
# it is let out so that nothing is held, or re-decoded, without bound.
MAX_HELD_TOKENS = 64


class IncrementalDetokenizer:
    """Decodes a growing token sequence incrementally, for any tokenizer.

    Decoding token by token breaks characters split over several byte-level
    tokens and drops the spaces some tokenizers add only in context. So each
    step decodes a window of recent tokens (`ids[context:]`) and returns what
    is new since `ids[context:window]`, the part already accounted for.

    A decoded window that ends in U+FFFD may end inside a character that the
    next token completes. The complete text before it is returned at once;
    the trailing U+FFFD run is held until a later token settles it (completed,
    or followed by text, which makes it definitely invalid).
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._context = 0  # start of the decoded window
        self._window = 0  # tokens before this are accounted for
        self._emitted = 0  # characters returned of the text after `_window`

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def push(self, token_id: int) -> str:
        self._ids.append(token_id)
        settled = self._decode(self._ids[self._context : self._window])
        new = self._decode(self._ids[self._context :])[len(settled) :]
        held_tokens = len(self._ids) - self._window
        if not new.endswith(REPLACEMENT_CHARACTER) or held_tokens >= MAX_HELD_TOKENS:
            delta = new[self._emitted :]
            self._context, self._window, self._emitted = self._window, len(self._ids), 0
            return delta
        complete = new.rstrip(REPLACEMENT_CHARACTER)
        delta = complete[self._emitted :]
        self._emitted = max(self._emitted, len(complete))
        return delta
