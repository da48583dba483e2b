"""Sizes in messages: different sizes never read the same (SYS-NFR-002: an error must show what is wrong)."""

from __future__ import annotations

import pytest

from pluggably.core.units import decimal_bytes, distinct_decimal_bytes


def test_sizes_read_as_people_read_them() -> None:
    assert [decimal_bytes(n) for n in (999, 1_600_000, 20 * 10**9)] == ["999 B", "1.6 MB", "20.0 GB"]


@pytest.mark.parametrize(
    ("sizes", "shown"),
    [
        ((1_600_000, 1_000_000), ("1.6 MB", "1.0 MB")),
        ((1_040_000_000, 1_000_000_000), ("1.04 GB", "1.00 GB")),
        ((1_000_001_000, 1_000_000_000), ("1.000001 GB", "1.000000 GB")),
        ((1_000_000_001, 1_000_000_000), ("1,000,000,001 bytes", "1,000,000,000 bytes")),
        ((5_000, 5_000), ("5.0 KB", "5.0 KB")),  # equal sizes may read the same
    ],
)
def test_different_sizes_are_shown_with_the_digits_that_tell_them_apart(sizes, shown) -> None:
    assert distinct_decimal_bytes(*sizes) == shown
