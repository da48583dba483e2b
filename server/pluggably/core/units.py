"""Sizes as people read them, the same in the gateway's messages and the command line."""

from __future__ import annotations

_UNITS = ("KB", "MB", "GB", "TB", "PB")


def decimal_bytes(n: int | float, digits: int = 1) -> str:
    """Bytes in decimal units: 999 B, 1.6 MB, 20.0 GB (`digits` after the point)."""
    if n < 1000:
        return f"{int(n)} B"
    value = float(n)
    for unit in _UNITS:
        value /= 1000
        if value < 1000 or unit == _UNITS[-1]:
            return f"{value:.{digits}f} {unit}"
    raise AssertionError("unreachable")


def distinct_decimal_bytes(*sizes: int) -> tuple[str, ...]:
    """The sizes in decimal units, with as many digits as it takes for different sizes to read differently
    ("1.000001 GB is over the budget of 1.000000 GB", not "1.0 GB is over the budget of 1.0 GB"); exact byte
    counts when even six digits are not enough."""
    different = len(set(sizes))
    for digits in range(1, 7):
        shown = tuple(decimal_bytes(n, digits) for n in sizes)
        if len(set(shown)) == different:
            return shown
    return tuple(f"{n:,} bytes" for n in sizes)
