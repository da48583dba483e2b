"""Signed, expiring download URLs (SYS-REQ-016).

A signature is an HMAC-SHA256 over the HTTP method, the artifact's resource
name and the expiry (whole seconds since the epoch), sent as unpadded
base64url. Checking it takes constant time whatever the input. Keys rotate:
the first key signs, any key verifies, so a new key can be put first while
URLs signed with the old one run out.

A URL that fails the check says only that: its signature is invalid, or it
has expired, never whether the artifact exists. Expiry is checked after the
signature, so only the holder of a genuine URL learns that it expired.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
from collections.abc import Callable, Sequence

from pluggably.core.errors import SignatureInvalidError, UrlExpiredError

DOWNLOAD_METHOD = "GET"


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class UrlSigner:
    def __init__(self, keys: Sequence[bytes], now: Callable[[], datetime.datetime] = _utc_now) -> None:
        if not keys or not all(keys):
            raise ValueError("URL signing needs at least one non-empty key")
        self._keys = tuple(keys)
        self._now = now

    @staticmethod
    def _message(name: str, expires: datetime.datetime, method: str) -> bytes:
        return f"{method}\n{name}\n{int(expires.timestamp())}".encode()

    def _signature(self, key: bytes, name: str, expires: datetime.datetime, method: str) -> bytes:
        digest = hmac.new(key, self._message(name, expires, method), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=")

    def sign(self, name: str, expires: datetime.datetime, method: str = DOWNLOAD_METHOD) -> str:
        return self._signature(self._keys[0], name, expires, method).decode()

    def verify(self, name: str, expires: datetime.datetime, signature: str, method: str = DOWNLOAD_METHOD) -> None:
        """Raises SignatureInvalidError or UrlExpiredError; returns when the URL may be used now."""
        # The text itself is compared (decoding first would accept other spellings of the same bytes), against
        # every key, a match or not, so that the time taken says nothing.
        given = signature.encode("utf-8", "replace")
        valid = False
        for key in self._keys:
            valid |= hmac.compare_digest(self._signature(key, name, expires, method), given)
        if not valid:
            raise SignatureInvalidError("the download URL's signature is invalid")
        if self._now() >= expires:
            raise UrlExpiredError("the download URL has expired; get a new one from GetArtifact")
