"""IncrementalDetokenizer: streamed text never splits a character (SYS-REQ-017, SYS-NFR-003).

Uses the tests' real byte-level BPE tokenizer, whose merges split multi-byte
characters (accents, CJK, emoji) over several tokens.
"""

from __future__ import annotations

import random

import pytest
from transformers import PreTrainedTokenizerFast
from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

from pluggably.runners.detokenizer import MAX_HELD_TOKENS, IncrementalDetokenizer
from tests.support.tiny_models import build_tokenizer

REPLACEMENT = "\ufffd"


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return build_tokenizer(None)


def byte_token_ids(tokenizer: PreTrainedTokenizerFast, data: bytes) -> list[int]:
    """One byte-level token per byte: a model may emit any byte sequence, valid UTF-8 or not."""
    byte_to_char = bytes_to_unicode()
    ids = [tokenizer.convert_tokens_to_ids(byte_to_char[b]) for b in data]
    assert tokenizer.unk_token_id not in ids
    return ids


def stream(tokenizer: PreTrainedTokenizerFast, ids: list[int]) -> list[str]:
    detokenizer = IncrementalDetokenizer(tokenizer)
    return [detokenizer.push(i) for i in ids]


@pytest.mark.parametrize(
    "text",
    [
        "Crème brûlée 日本語 🙂🚀",
        "The capital of France is Paris. Hello world, hello gateway!",
        "日本語のテキストと絵文字 🙂🚀 are here too.",
        "naïve façade: déjà vu 🙂🙂🙂 🚀",
        "  leading and  double  spaces ",
    ],
    ids=["mixed", "ascii", "japanese-run", "accents-emoji", "spaces"],
)
def test_deltas_add_up_to_the_decoded_text_and_never_split_a_character_SYS_REQ_017(
    tokenizer: PreTrainedTokenizerFast, text: str
) -> None:
    """ "japanese-run" has more than MAX_HELD_TOKENS tokens in a row that each end
    inside a character, though every character is completed by the next token."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    deltas = stream(tokenizer, ids)
    assert "".join(deltas) == tokenizer.decode(ids) == text
    assert not any(REPLACEMENT in delta for delta in deltas), deltas


def test_the_tokenizer_really_splits_characters_over_tokens_SYS_REQ_017(tokenizer: PreTrainedTokenizerFast) -> None:
    """Guards the test above: some token of the sample must decode to half a character."""
    ids = tokenizer.encode("Crème brûlée 日本語 🙂🚀", add_special_tokens=False)
    assert any(REPLACEMENT in tokenizer.decode([i]) for i in ids)


def test_valid_text_sent_byte_by_byte_is_reassembled_SYS_REQ_017(tokenizer: PreTrainedTokenizerFast) -> None:
    text = "é日🙂a"
    deltas = stream(tokenizer, byte_token_ids(tokenizer, text.encode()))
    assert "".join(deltas) == text
    assert [d for d in deltas if d] == ["é", "日", "🙂", "a"]


def test_invalid_utf8_is_emitted_within_a_bounded_number_of_tokens_SYS_NFR_003(
    tokenizer: PreTrainedTokenizerFast,
) -> None:
    """Bytes that can never form a character are not held forever."""
    ids = byte_token_ids(tokenizer, b"\x80" * (2 * MAX_HELD_TOKENS))
    deltas = stream(tokenizer, ids)
    emitted = "".join(deltas)
    assert emitted
    assert set(emitted) == {REPLACEMENT}
    first = next(i for i, d in enumerate(deltas) if d)
    assert first < MAX_HELD_TOKENS


def test_random_bytes_are_all_emitted_once_text_follows_SYS_NFR_003(tokenizer: PreTrainedTokenizerFast) -> None:
    rng = random.Random(7)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
        ids = byte_token_ids(tokenizer, data)
        detokenizer = IncrementalDetokenizer(tokenizer)
        emitted = "".join(detokenizer.push(i) for i in ids)
        # Plain ASCII after the garbage: each token must come out at once, so
        # nothing before it is still held.
        for char in "ok.":
            (char_id,) = byte_token_ids(tokenizer, char.encode())
            emitted += detokenizer.push(char_id)
            assert emitted.endswith(char), data
        assert emitted.endswith("ok.")
        if REPLACEMENT in tokenizer.decode(ids):
            assert REPLACEMENT in emitted, data


def test_valid_character_after_invalid_bytes_is_not_lost_SYS_REQ_017(tokenizer: PreTrainedTokenizerFast) -> None:
    """A truncated 4-byte sequence, then a complete emoji, then "A".

    Decoded at once this is U+FFFD, 😀, A. The detokenizer must not drop or
    mangle the emoji because garbage came before it.
    """
    data = b"\xf0\x9f\x98" + "😀".encode() + b"A"
    ids = byte_token_ids(tokenizer, data)
    assert tokenizer.decode(ids) == REPLACEMENT + "😀A"
    assert "".join(stream(tokenizer, ids)) == REPLACEMENT + "😀A"


def test_complete_characters_of_the_last_token_are_not_held_back_SYS_REQ_017(
    tokenizer: PreTrainedTokenizerFast,
) -> None:
    """A stream may end (end-of-sequence, token budget) right after any token.

    The detokenizer has no flush, so whatever it holds when the last token has
    been pushed never reaches the caller. It may hold an incomplete trailing
    character, but not complete characters that precede it in the same token.
    """
    ids = tokenizer.encode(" 🙂🚀", add_special_tokens=False)
    # The tokenizer merges " 🙂" with the first bytes of 🚀 into one token.
    last = next(i for i in range(1, len(ids) + 1) if tokenizer.decode(ids[:i]).startswith(" 🙂"))
    head = ids[:last]
    complete = tokenizer.decode(head).rstrip(REPLACEMENT)
    assert complete == " 🙂"
    assert "".join(stream(tokenizer, head)) == complete
