"""AIP-158 pagination: page sizes and opaque page tokens, for every List method."""

from __future__ import annotations

import base64
import binascii
import json

from pluggably.core.errors import ValidationError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if not 0 <= requested <= MAX_PAGE_SIZE:
        raise ValidationError.single("page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
    return requested or DEFAULT_PAGE_SIZE


def encode_page_token(after: str, filter_text: str) -> str:
    """A token for the page after `after`, valid only with the same filter."""
    raw = json.dumps({"after": after, "filter": filter_text}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, filter_text: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, token_filter = str(data["after"]), str(data["filter"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationError.single("page_token", "not a token this server issued") from None
    if token_filter != filter_text:
        raise ValidationError.single("page_token", "was issued for a different filter")
    return after
