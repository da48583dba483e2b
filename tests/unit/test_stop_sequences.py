"""StopSequenceFilter: generated text is cut at the first stop sequence (SYS-REQ-011, SYS-REQ-017).

A streaming caller must never see any part of a stop sequence, even when the
model produces it over several deltas, and must lose no text when none comes.
"""

from __future__ import annotations

import random

from pluggably.core.generation.stop_sequences import StopSequenceFilter


def run(stops: list[str], deltas: list[str]) -> tuple[list[str], bool]:
    """The deltas the filter lets through (flushed at the end), and whether it stopped."""
    stop_filter = StopSequenceFilter(stops)
    emitted = [stop_filter.push(delta) for delta in deltas]
    emitted.append(stop_filter.flush())
    return emitted, stop_filter.stopped


def expected_output(stops: list[str], deltas: list[str]) -> tuple[str, bool]:
    """Reference without holding back: generation stops after the first delta that
    completes a stop sequence, and the text is cut before the earliest one in it."""
    text = ""
    for delta in deltas:
        text += delta
        hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
        if hits:
            return text[: min(hits)], True
    return text, False


def test_stop_sequence_split_across_deltas_is_cut_without_leaking_SYS_REQ_011() -> None:
    emitted, stopped = run(["###"], ["Hello #", "#", "# and more"])
    assert "".join(emitted) == "Hello "
    assert stopped
    assert not any("#" in part for part in emitted)


def test_text_that_might_start_a_stop_is_held_until_decided_SYS_REQ_017() -> None:
    stop_filter = StopSequenceFilter(["END"])
    assert stop_filter.push("the E") == "the "  # "E" could begin "END"
    assert stop_filter.push("N") == ""  # "EN" still could
    assert stop_filter.push("d of it") == "ENd of it"  # "ENd" cannot: released
    assert not stop_filter.stopped


def test_held_text_is_flushed_when_no_stop_sequence_comes_SYS_REQ_017() -> None:
    stop_filter = StopSequenceFilter(["STOP"])
    out = stop_filter.push("almost ST")
    out += stop_filter.push("O")
    assert out == "almost "
    assert stop_filter.flush() == "STO"
    assert not stop_filter.stopped
    assert stop_filter.flush() == ""  # flushed once only


def test_earliest_of_several_stop_sequences_wins_SYS_REQ_011() -> None:
    emitted, stopped = run(["world", "lo"], ["hello world"])
    assert "".join(emitted) == "hel"
    assert stopped
    emitted, _ = run(["lo", "world"], ["hello world"])
    assert "".join(emitted) == "hel"


def test_stop_at_the_very_start_emits_nothing_SYS_REQ_011() -> None:
    emitted, stopped = run(["\n\n"], ["\n", "\nanything after"])
    assert emitted == ["", "", ""]
    assert stopped


def test_nothing_is_emitted_after_the_stop_SYS_REQ_011() -> None:
    stop_filter = StopSequenceFilter(["x"])
    assert stop_filter.push("abxcd") == "ab"
    assert stop_filter.push("more text") == ""
    assert stop_filter.flush() == ""


def test_without_stop_sequences_text_passes_unchanged_SYS_REQ_017() -> None:
    stop_filter = StopSequenceFilter([])
    assert stop_filter.push("a") == "a"
    assert stop_filter.push("bc") == "bc"
    assert stop_filter.flush() == ""


def test_any_split_of_the_text_gives_the_reference_cut_SYS_REQ_011() -> None:
    """Random texts over a tiny alphabet (many partial matches), split at random points."""
    rng = random.Random(1234)
    alphabet = "ab c"
    for _ in range(2000):
        stops = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 3))]
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        cuts = sorted(rng.sample(range(len(text) + 1), k=min(len(text) + 1, rng.randint(0, 8))))
        deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

        stop_filter = StopSequenceFilter(stops)
        want, want_stopped = expected_output(stops, deltas)
        so_far = ""
        for delta in deltas:
            so_far += stop_filter.push(delta)
            # Never more than the final answer: nothing is emitted and later taken back.
            assert want.startswith(so_far), (stops, deltas)
        so_far += stop_filter.flush()
        assert so_far == want, (stops, deltas)
        assert stop_filter.stopped is want_stopped, (stops, deltas)
