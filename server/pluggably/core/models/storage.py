"""Disk use of models: budget, free-disk floor, usage report, cleanup and retention.

SYS-REQ-012, SYS-NFR-007. Bytes counted against the budget: the models whose
files are in the models directory, plus staging (unfinished downloads,
trash). A running download counts for its full expected size from the moment
it is admitted (a reservation), so two downloads cannot both squeeze into the
same free space.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pluggably.core.artifacts.store import ExpiredArtifact
from pluggably.core.errors import FailedPreconditionError, QuotaExceededError, QuotaViolation
from pluggably.core.models import ModelInfo, ModelState
from pluggably.core.models.management import STAGING_DIR, TRASH_PREFIX, ModelManager, is_inside
from pluggably.core.models.registry import utc_now
from pluggably.core.units import distinct_decimal_bytes

log = logging.getLogger(__name__)


def tree_bytes(path: Path) -> int:
    """Bytes of the files under `path` (links not followed)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):  # removed while walking
                total += (Path(folder) / name).lstat().st_size
    return total


@dataclass(frozen=True)
class ModelUsage:
    model: ModelInfo
    size_bytes: int


@dataclass(frozen=True)
class StorageUsage:
    models_bytes: int
    staging_bytes: int
    budget_bytes: int
    free_disk_bytes: int
    min_free_disk_bytes: int
    models: tuple[ModelUsage, ...]
    artifacts_bytes: int = 0
    artifacts_budget_bytes: int = 0


class ArtifactSpace(Protocol):
    """The artifact store, as storage sees it: bytes used, and expired artifacts to remove."""

    @property
    def budget_bytes(self) -> int: ...

    def stored_bytes(self) -> int: ...

    async def remove_expired(self, dry_run: bool = False) -> list[ExpiredArtifact]: ...


@dataclass(frozen=True)
class CleanupItem:
    path: str
    size_bytes: int
    reason: str
    model: str = ""  # resource name of an evicted model
    artifact: str = ""  # resource name of an expired artifact


@dataclass(frozen=True)
class CleanupReport:
    items: tuple[CleanupItem, ...]
    dry_run: bool

    @property
    def freed_bytes(self) -> int:
        return sum(item.size_bytes for item in self.items)


class StorageManager:
    def __init__(
        self,
        models: ModelManager,
        models_dir: Path,
        budget_bytes: int,
        min_free_bytes: int,
        evict_unused_after_days: float,
        active_staging: Callable[[], Collection[str]],
        artifacts: ArtifactSpace | None = None,
        now: Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self._artifacts = artifacts
        self._models = models
        self._models_dir = models_dir
        self._budget = budget_bytes
        self._min_free = min_free_bytes
        self._evict_after = datetime.timedelta(days=evict_unused_after_days) if evict_unused_after_days else None
        self._active_staging = active_staging
        self._now = now
        self._reserved: dict[str, int] = {}

    @property
    def staging_root(self) -> Path:
        return self._models_dir / STAGING_DIR

    # --- what is used ---------------------------------------------------------

    def _owned_models(self) -> list[ModelInfo]:
        return [
            m
            for m in self._models.catalog.list()
            if m.state is not ModelState.DOWNLOADING and is_inside(Path(m.path), self._models_dir)
        ]

    def _staging_sizes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        if self.staging_root.is_dir():
            for entry in self.staging_root.iterdir():
                sizes[entry.name] = tree_bytes(entry)
        if self._models_dir.is_dir():
            for entry in self._models_dir.iterdir():
                if entry.name.startswith(TRASH_PREFIX):
                    sizes[entry.name] = tree_bytes(entry)
        return sizes

    def _used_bytes(self, excluding: str = "") -> int:
        staging = self._staging_sizes()
        keys = (set(staging) | set(self._reserved)) - {excluding}
        reserved = sum(max(self._reserved.get(k, 0), staging.get(k, 0)) for k in keys)
        return sum(m.size_bytes for m in self._owned_models()) + reserved + self._artifact_bytes()

    def _artifact_bytes(self) -> int:
        return self._artifacts.stored_bytes() if self._artifacts else 0

    def _free_disk(self) -> int:
        self._models_dir.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self._models_dir).free

    # --- the budget downloads live by (core.downloads.DiskBudget) -------------

    def violations(self, needed: int, key: str = "") -> list[QuotaViolation]:
        violations = []
        if self._budget:
            used = self._used_bytes(excluding=key)
            if used + needed > self._budget:
                used_text, needed_text, total_text, budget_text = distinct_decimal_bytes(
                    used, needed, used + needed, self._budget
                )
                violations.append(
                    QuotaViolation(
                        "storage.budget_bytes",
                        f"models and artifacts use {used_text} and {needed_text} more are needed: "
                        f"{total_text} is over the budget of {budget_text}",
                    )
                )
        free = self._free_disk()
        if free - needed < self._min_free:
            needed_text, free_text, left_text, min_free_text = distinct_decimal_bytes(
                needed, free, max(0, free - needed), self._min_free
            )
            violations.append(
                QuotaViolation(
                    "storage.min_free_bytes",
                    f"{needed_text} are needed and the disk has {free_text} free: "
                    f"{left_text} would be left, under the {min_free_text} that must stay free",
                )
            )
        return violations

    def reserve(self, key: str, needed: int) -> None:
        """Admits a download of `needed` bytes or raises QuotaExceededError naming the sizes."""
        if violations := self.violations(needed, key):
            raise QuotaExceededError.listing("the download does not fit", violations)
        self._reserved[key] = needed

    def allowance(self, key: str) -> int | None:
        """Bytes a download of unknown size may still write, or None without a budget."""
        room = self._free_disk() - self._min_free
        if self._budget:
            room = min(room, self._budget - self._used_bytes(excluding=key))
        return max(0, room)

    def release(self, key: str) -> None:
        self._reserved.pop(key, None)

    # --- reports and cleanup --------------------------------------------------

    def usage(self) -> StorageUsage:
        owned = sorted(self._owned_models(), key=lambda m: m.size_bytes, reverse=True)
        staging = self._staging_sizes()
        return StorageUsage(
            models_bytes=sum(m.size_bytes for m in owned),
            staging_bytes=sum(staging.values()),
            budget_bytes=self._budget,
            free_disk_bytes=self._free_disk(),
            min_free_disk_bytes=self._min_free,
            models=tuple(ModelUsage(m, m.size_bytes) for m in owned),
            artifacts_bytes=self._artifact_bytes(),
            artifacts_budget_bytes=self._artifacts.budget_bytes if self._artifacts else 0,
        )

    def _orphans(self) -> list[CleanupItem]:
        active = set(self._active_staging())
        items = []
        for name, size in sorted(self._staging_sizes().items()):
            if name.startswith(TRASH_PREFIX):
                items.append(CleanupItem(name, size, "left over from an interrupted delete"))
            elif name not in active:
                items.append(CleanupItem(f"{STAGING_DIR}/{name}", size, "staging data of no running download"))
        return items

    def _evictable(self) -> list[ModelInfo]:
        """Owned models retention may remove, least recently used first."""
        candidates = []
        for model in self._owned_models():
            try:
                self._models.check_deletable(model)
            except FailedPreconditionError:
                continue
            candidates.append(model)
        never = datetime.datetime.min.replace(tzinfo=datetime.UTC)
        return sorted(candidates, key=lambda m: (m.last_use_time or m.create_time or never, m.id))

    def _retention(self, orphan_bytes: int) -> list[CleanupItem]:
        items: list[CleanupItem] = []
        chosen: set[str] = set()
        candidates = self._evictable()
        if self._evict_after is not None:
            limit = self._now() - self._evict_after
            for model in candidates:
                last = model.last_use_time or model.create_time
                if last is not None and last < limit:
                    days = (self._now() - last).days
                    items.append(self._eviction(model, f"unused for {days} days"))
                    chosen.add(model.id)
        if self._budget:
            over = self._used_bytes() - orphan_bytes - sum(i.size_bytes for i in items) - self._budget
            for model in candidates:
                if over <= 0:
                    break
                if model.id not in chosen:
                    items.append(self._eviction(model, "least recently used while over the budget"))
                    over -= model.size_bytes
        return items

    def _eviction(self, model: ModelInfo, reason: str) -> CleanupItem:
        return CleanupItem(
            str(Path(model.path).relative_to(self._models_dir)), model.size_bytes, reason, model=model.name
        )

    async def cleanup(self, dry_run: bool) -> CleanupReport:
        """Removes orphaned staging data and expired artifacts, then applies the retention policy.
        Pinned and busy models stay."""
        expired = await self._artifacts.remove_expired(dry_run) if self._artifacts else []
        expired_items = [
            CleanupItem(e.artifact.name, e.freed_bytes, "expired", artifact=e.artifact.name) for e in expired
        ]
        orphans = await asyncio.to_thread(self._orphans)
        # Expired artifacts already removed no longer count; in a dry run they still do, and are subtracted.
        freed_first = sum(o.size_bytes for o in orphans) + (sum(i.size_bytes for i in expired_items) if dry_run else 0)
        evictions = await asyncio.to_thread(self._retention, freed_first)
        if not dry_run:
            for orphan in orphans:
                await asyncio.to_thread(shutil.rmtree, self._models_dir / orphan.path, True)
            for eviction in list(evictions):
                try:
                    await self._models.delete(eviction.model)
                except FailedPreconditionError as why:  # became busy or pinned meanwhile
                    log.info("eviction skipped", extra={"model": eviction.model, "reason": why.message})
                    evictions.remove(eviction)
        report = CleanupReport(tuple(expired_items + orphans + evictions), dry_run)
        log.info(
            "storage cleanup",
            extra={"dry_run": dry_run, "items": len(report.items), "freed_bytes": report.freed_bytes},
        )
        return report
