"""The subset of AIP-160 filters `ListModels` accepts.

    modality = MODALITY_TEXT AND state = READY AND runtimes:RUNTIME_ONNX
    capabilities.chat = true AND capabilities.context_length >= 4096
    capabilities.output_formats:"image/png"

Clauses are joined with `AND`. Operators: `=` and `!=` on `modality`, `state`,
`provider`, `pinned` and `capabilities.chat`; `:` (has) or `=` on the repeated
`runtimes`, `formats` and `capabilities.output_formats`; `=`, `!=`, `<`, `<=`,
`>`, `>=` on the number `capabilities.context_length`. Enum values are accepted
as the API spells them (`MODALITY_TEXT`, `READY`) or short (`text`, `ready`),
in any case.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pluggably.core.errors import ValidationError
from pluggably.core.models import Modality, ModelFormat, ModelInfo, ModelState, Runtime

_CLAUSE = re.compile(r"^\s*([a-z_.]+)\s*(!=|<=|>=|=|<|>|:)\s*\"?([A-Za-z0-9_.\-/+]+)\"?\s*$")
_ENUM_PREFIXES = {
    "modality": "modality_",
    "runtimes": "runtime_",
    "formats": "model_format_",
    "state": "state_",
}
_SCALAR_FIELDS: dict[str, Callable[[ModelInfo], str]] = {
    "modality": lambda m: m.modality.value if m.modality else "",
    "state": lambda m: m.state.value,
    "provider": lambda m: m.provider,
    "pinned": lambda m: str(m.pinned).lower(),
    "capabilities.chat": lambda m: str(m.capabilities.chat).lower(),
}
_REPEATED_FIELDS: dict[str, Callable[[ModelInfo], set[str]]] = {
    "runtimes": lambda m: {r.value for r in m.runtimes},
    "formats": lambda m: {f.value for f in m.formats},
    "capabilities.output_formats": lambda m: set(m.capabilities.output_formats),
}
_NUMBER_FIELDS: dict[str, Callable[[ModelInfo], int]] = {
    "capabilities.context_length": lambda m: m.capabilities.context_length,
}
_COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

_ENUM_VALUES: dict[str, frozenset[str]] = {
    "modality": frozenset(m.value for m in Modality),
    "state": frozenset(s.value for s in ModelState),
    "runtimes": frozenset(r.value for r in Runtime),
    "formats": frozenset(f.value for f in ModelFormat),
    "pinned": frozenset({"true", "false"}),
    "capabilities.chat": frozenset({"true", "false"}),
}

ModelPredicate = Callable[[ModelInfo], bool]


def _normalize(field: str, value: str) -> str:
    value = value.lower()
    return value.removeprefix(_ENUM_PREFIXES.get(field, "\0"))


def _clause(text: str) -> ModelPredicate:
    match = _CLAUSE.match(text)
    if not match:
        raise ValidationError.single("filter", f"cannot parse {text.strip()!r}; expected `field = value`")
    field, operator, raw = match.groups()
    value = _normalize(field, raw)
    allowed = _ENUM_VALUES.get(field)
    if allowed is not None and value not in allowed:
        raise ValidationError.single("filter", f"{field} cannot be {raw!r}; one of: {', '.join(sorted(allowed))}")
    if field in _SCALAR_FIELDS and operator in ("=", "!="):
        get = _SCALAR_FIELDS[field]
        return (lambda m: get(m) == value) if operator == "=" else (lambda m: get(m) != value)
    if field in _REPEATED_FIELDS and operator in (":", "="):
        get_all = _REPEATED_FIELDS[field]
        return lambda m: value in get_all(m)
    if field in _NUMBER_FIELDS and operator in _COMPARISONS:
        if not raw.isdigit():
            raise ValidationError.single("filter", f"{field} compares with a whole number, not {raw!r}")
        get_number, compare, number = _NUMBER_FIELDS[field], _COMPARISONS[operator], int(raw)
        return lambda m: compare(get_number(m), number)
    known = ", ".join([*_SCALAR_FIELDS, *_REPEATED_FIELDS, *_NUMBER_FIELDS])
    raise ValidationError.single("filter", f"unsupported `{field} {operator}`; filterable fields: {known}")


def parse_model_filter(text: str) -> ModelPredicate:
    """A predicate for the filter; an empty filter matches everything."""
    if not text.strip():
        return lambda m: True
    clauses = [_clause(part) for part in re.split(r"\s+AND\s+", text.strip())]
    return lambda m: all(clause(m) for clause in clauses)
