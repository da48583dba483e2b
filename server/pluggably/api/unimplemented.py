"""Servicers for capabilities that later releases bring.

Each method answers UNIMPLEMENTED with reason FEATURE_NOT_SUPPORTED and says
what is missing, instead of the generated base's bare "Method not implemented!".
"""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

from pluggably.core.errors import FeatureNotSupportedError

T = TypeVar("T")


def _rpc_names(servicer_base: type) -> list[str]:
    return [name for name, member in vars(servicer_base).items() if inspect.isfunction(member) and name[:1].isupper()]


def unimplemented(servicer_base: type[T], service: str, why: str, only: tuple[str, ...] = ()) -> type[T]:
    """A subclass of a generated servicer whose methods (all, or `only`) raise FeatureNotSupportedError."""

    def make(method: str) -> Any:
        async def handler(self: Any, request: Any, context: Any) -> Any:
            raise FeatureNotSupportedError(
                f"{service}/{method} is not available on this server yet: {why}",
                metadata={"method": f"{service}/{method}"},
            )

        handler.__name__ = method
        return handler

    names = only or tuple(_rpc_names(servicer_base))
    return type(f"Unimplemented{servicer_base.__name__}", (servicer_base,), {n: make(n) for n in names})
