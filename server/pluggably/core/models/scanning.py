"""Runs discovery off the event loop and feeds the registry: at start, on a schedule, on request."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pluggably.core.models.discovery import discover_models
from pluggably.core.models.registry import DiscoverySummary, ModelRegistry

log = logging.getLogger(__name__)


class ModelScanner:
    def __init__(self, registry: ModelRegistry, models_dir: Path, hf_cache_dir: Path | None = None) -> None:
        self._registry = registry
        self._models_dir = models_dir
        self._hf_cache_dir = hf_cache_dir
        self._lock = asyncio.Lock()

    async def scan(self) -> DiscoverySummary:
        """One scan; concurrent callers wait for the running one, then scan again."""
        async with self._lock:
            result = await asyncio.to_thread(discover_models, self._models_dir, self._hf_cache_dir)
            summary = self._registry.sync_discovered(result)
        log.info(
            "models scanned",
            extra={
                "added": len(summary.added),
                "updated": len(summary.updated),
                "missing": len(summary.missing),
                "problems": len(summary.problems),
            },
        )
        return summary

    async def scan_every(self, interval_s: float) -> None:
        """Scans forever, `interval_s` apart; a failed scan is logged, not fatal."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.scan()
            except Exception:
                log.exception("scheduled model scan failed")
