"""Turns a stream of token ids into text deltas that never split a character."""

from __future__ import annotations

from typing import Any

REPLACEMENT_CHARACTER = "\ufffd"
# A UTF-8 character is at most 4 bytes, so at most 4 byte-level tokens; text
# still ending in U+FFFD after that many more tokens is really invalid.
MAX_HELD_TOKENS = 4


class IncrementalDetokenizer:
    """Decodes a growing token sequence incrementally.

    Decoding token by token breaks byte-level BPE characters split over several
    tokens and drops spaces some tokenizers add only in context. So each step
    decodes a short window of recent tokens and returns what the new token
    added, holding text back while it ends in an incomplete character.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix_offset = 0
        self._read_offset = 0

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def push(self, token_id: int) -> str:
        self._ids.append(token_id)
        prefix = self._decode(self._ids[self._prefix_offset : self._read_offset])
        text = self._decode(self._ids[self._prefix_offset :])
        held_tokens = len(self._ids) - self._read_offset
        if len(text) > len(prefix) and (not text.endswith(REPLACEMENT_CHARACTER) or held_tokens >= MAX_HELD_TOKENS):
            self._prefix_offset = self._read_offset
            self._read_offset = len(self._ids)
            return text[len(prefix) :]
        return ""
