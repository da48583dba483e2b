"""Checks the resource names requests carry (`models/{model}`, `operations/{operation}`)."""

from __future__ import annotations

from pluggably.core.errors import ValidationError


def resource_name(name: str, collection: str, singular: str, field: str = "name") -> str:
    """`name` when it is `{collection}/{id}`; else a VALIDATION_ERROR on `field`."""
    if not name.startswith(f"{collection}/") or name == f"{collection}/":
        raise ValidationError.single(field, f"must look like {collection}/{{{singular}}}; got {name!r}")
    return name
