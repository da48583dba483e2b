"""Sizes as people read them, the same in the gateway's messages and the command line."""

from __future__ import annotations

_UNITS = ("KB", "MB", "GB", "TB", "PB")


def decimal_bytes(n: int | float) -> str:
    """Bytes in decimal units: 999 B, 1.6 MB, 20.0 GB."""
    if n < 1000:
        return f"{int(n)} B"
    value = float(n)
    for unit in _UNITS:
        value /= 1000
        if value < 1000 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")
