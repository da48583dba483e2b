"""Keeps the gateway's secrets out of everything it says (SYS-NFR-001).

A remote server can echo a request's credentials back: in an error header, a
response body, a redirect's URL. Libraries copy that text into their
exception messages, and from there it would reach an operation's error, the
database, a log line or a caller. `Redactor` removes every configured secret,
and every fragment of one that is `MIN_FRAGMENT` characters or longer, from
text that came from outside. Sources and adapters pass such text through it
before it becomes part of an error; the log formatter, the operation store
and the error mapping pass what they emit through it once more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from urllib.parse import quote

from pluggably.core.errors import (
    FieldViolation,
    PluggablyError,
    QuotaExceededError,
    QuotaViolation,
    ValidationError,
)

# Shorter common substrings are left alone: too likely to be ordinary text.
MIN_FRAGMENT = 8
REDACTED = "[REDACTED]"


class Redactor:
    """Replaces secrets, and fragments of them, with `[REDACTED]`.

    Matching is by substring, so a secret is found inside a header, a URL's
    query, JSON or a traceback alike; its percent-encoded form is matched too.
    A secret shorter than `MIN_FRAGMENT` is matched whole only.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = set()
        for secret in secrets:
            if secret:
                forms |= {secret, quote(secret, safe="")}
        self._whole = sorted((f for f in forms if len(f) < MIN_FRAGMENT), key=len, reverse=True)
        self._fragments = {
            form[i : i + MIN_FRAGMENT] for form in forms if len(form) >= MIN_FRAGMENT for i in range(len(form) - 7)
        }

    def __bool__(self) -> bool:
        return bool(self._whole or self._fragments)

    def text(self, value: str) -> str:
        if not self or not value:
            return value
        if self._fragments:
            value = self._without_fragments(value)
        for secret in self._whole:
            value = value.replace(secret, REDACTED)
        return value

    def _without_fragments(self, value: str) -> str:
        # Every run of MIN_FRAGMENT or more characters shared with a secret is
        # covered by the secret's MIN_FRAGMENT-long windows that it contains.
        spans: list[list[int]] = []
        for start in range(len(value) - MIN_FRAGMENT + 1):
            if value[start : start + MIN_FRAGMENT] in self._fragments:
                end = start + MIN_FRAGMENT
                if spans and start <= spans[-1][1]:
                    spans[-1][1] = end
                else:
                    spans.append([start, end])
        if not spans:
            return value
        parts, position = [], 0
        for start, end in spans:
            parts += [value[position:start], REDACTED]
            position = end
        parts.append(value[position:])
        return "".join(parts)

    def error(self, error: PluggablyError) -> PluggablyError:
        """The same error with its message, metadata and violations redacted (a copy when anything changed)."""
        if not self:
            return error
        message = self.text(error.message)
        metadata = {key: self.text(value) for key, value in error.metadata.items()}
        violations: tuple[FieldViolation, ...] | tuple[QuotaViolation, ...] = ()
        if isinstance(error, ValidationError | QuotaExceededError):
            violations = tuple(dataclasses.replace(v, description=self.text(v.description)) for v in error.violations)
        if message == error.message and metadata == error.metadata and violations == getattr(error, "violations", ()):
            return error
        redacted = _copy(error)
        redacted.message = message
        redacted.args = (message,)
        redacted.metadata = metadata
        if violations:
            redacted.violations = violations  # type: ignore[attr-defined]
        return redacted


def _copy(error: PluggablyError) -> PluggablyError:
    clone = error.__class__.__new__(error.__class__)
    clone.__dict__.update(error.__dict__)
    clone.__cause__ = None  # the original cause holds the unredacted text
    clone.__traceback__ = error.__traceback__
    return clone
