"""Structured JSON logs, one object per line (SYS-NFR-005).

The request id of the call being served rides in a context variable, so every
line logged while serving it carries the id without passing it around. Prompt
and output text are logged only when the operator turns `logging.log_prompts`
on (DATA-REQ-003); secrets never are.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from pluggably.core.redaction import Redactor

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def _stamp_request_id(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record

    make_record.stamps_request_id = True  # type: ignore[attr-defined]
    return make_record


# The id is read when a record is made, in the context of the call being
# served, not when a handler formats it later (possibly elsewhere).
if not getattr(logging.getLogRecordFactory(), "stamps_request_id", False):
    logging.setLogRecordFactory(_stamp_request_id(logging.getLogRecordFactory()))

# Attributes every LogRecord has; anything else passed in `extra=` is a field.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Secrets (`redactor`) are removed from the whole line, tracebacks included:
    an exception's text may quote what a remote server sent back."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._redactor.text(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: str, stream: Any = None, redactor: Redactor | None = None) -> None:
    """Sends every logger's records, as JSON lines, to `stream` (stderr), without the secrets `redactor` knows."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log request bodies or URLs with tokens at INFO stay quiet.
    for noisy in ("httpx", "httpcore", "urllib3", "huggingface_hub", "transformers", "optimum", "diffusers"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
