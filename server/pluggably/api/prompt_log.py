"""Prompts and outputs in the log, only when the operator turns `logging.log_prompts` on (DATA-REQ-003)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("pluggably.prompts")


class PromptLog:
    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled

    def prompt(self, **fields: Any) -> None:
        if self._enabled:
            log.info("prompt", extra=fields)

    def output(self, **fields: Any) -> None:
        if self._enabled:
            log.info("output", extra=fields)
