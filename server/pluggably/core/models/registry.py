"""The model registry: every model the gateway knows, persisted (SYS-REQ-010, DATA-REQ-005).

The registry is the one writer of the catalog. Each change goes to the store
first, then to the in-memory catalog, so what is served is always what was
saved. Discovery feeds it (`sync_discovered`); downloads and the API register,
update and remove entries.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from pluggably.core.errors import AlreadyExistsError, ValidationError
from pluggably.core.models import ModelInfo, ModelState
from pluggably.core.models.catalog import MODEL_ID_PATTERN, ModelCatalog
from pluggably.core.models.discovery import DiscoveryProblem, DiscoveryResult
from pluggably.core.models.ports import ModelStore

log = logging.getLogger(__name__)

# What discovery reads from the files; everything else (aliases, pin, labels,
# display name, times) belongs to the registry once an entry exists.
_FILE_FIELDS = ("modality", "path", "runtimes", "formats", "capabilities", "size_bytes", "hardware", "revision")


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class DiscoverySummary:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    missing: tuple[str, ...]
    problems: tuple[DiscoveryProblem, ...]


class ModelRegistry:
    def __init__(self, store: ModelStore, now: Callable[[], datetime.datetime] = utc_now) -> None:
        self._store = store
        self._now = now
        self._listeners: list[Callable[[], None]] = []
        self.catalog = ModelCatalog()
        for model in store.load_all():
            if conflict := self.catalog.alias_conflict(model):
                log.warning("stored entry has conflicting aliases", extra={"model": model.id, "reason": conflict})
                model = replace(model, aliases=())
            self.catalog.put(model)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Calls `listener` after every change of what the catalog serves (not after a use is recorded)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def _save(self, model: ModelInfo, notify: bool = True) -> ModelInfo:
        if conflict := self.catalog.alias_conflict(model):
            raise AlreadyExistsError(conflict, metadata={"model": model.name})
        self._store.save(model)
        self.catalog.put(model)
        if notify:
            self._changed()
        return model

    def register(self, model: ModelInfo) -> ModelInfo:
        """Adds a new entry; its id must be free."""
        if not MODEL_ID_PATTERN.match(model.id):
            raise ValidationError.single(
                "model_id", f"{model.id!r} is not a valid model id ({MODEL_ID_PATTERN.pattern})"
            )
        if self.catalog.find(model.id) is not None:
            raise AlreadyExistsError(f"models/{model.id} exists already", metadata={"model": model.name})
        now = self._now()
        return self._save(replace(model, create_time=now, update_time=now))

    def replace(self, model: ModelInfo) -> ModelInfo:
        """Stores a changed entry (same id), stamping its update time."""
        return self._save(replace(model, update_time=self._now()))

    def set_state(self, model_id: str, state: ModelState, reason: str = "") -> ModelInfo:
        return self.replace(replace(self.catalog.get(model_id), state=state, state_reason=reason))

    def update(
        self,
        reference: str,
        *,
        display_name: str | None = None,
        aliases: tuple[str, ...] | None = None,
        pinned: bool | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> ModelInfo:
        """Changes what users manage: display name, aliases, pin, labels."""
        model = self.catalog.get(reference)
        changes: dict[str, object] = {}
        if display_name is not None:
            changes["display_name"] = display_name
        if aliases is not None:
            bad = [a for a in aliases if not MODEL_ID_PATTERN.match(a)]
            if bad:
                raise ValidationError.single("model.aliases", f"not valid names: {', '.join(map(repr, bad))}")
            changes["aliases"] = tuple(dict.fromkeys(aliases))
        if pinned is not None:
            changes["pinned"] = pinned
        if labels is not None:
            changes["labels"] = dict(labels)
        return self.replace(replace(model, **changes)) if changes else model

    def rename(self, model_id: str, new_id: str, new_path: str) -> ModelInfo:
        """Moves an entry to another id (its files moved already); it keeps its times, not its aliases."""
        old = self.catalog.get(model_id)
        renamed = replace(old, id=new_id, path=new_path, aliases=(), update_time=self._now())
        if self.catalog.find(new_id) is not None:
            raise AlreadyExistsError(f"models/{new_id} exists already", metadata={"model": f"models/{new_id}"})
        self.remove(model_id)
        return self._save(renamed)

    def remove(self, model_id: str) -> None:
        self._store.delete(model_id)
        self.catalog.remove(model_id)
        self._changed()

    def record_use(self, model_id: str) -> None:
        model = self.catalog.find(model_id)
        if model is not None:
            self._save(replace(model, last_use_time=self._now()), notify=False)

    def sync_discovered(self, result: DiscoveryResult) -> DiscoverySummary:
        """Brings the registry in line with what a scan found on disk.

        New folders are registered. Entries whose files the scan read again
        take the files' facts and keep what users set. Entries whose files are
        gone become MISSING (never silently dropped), and READY again when their
        files come back. Entries still downloading are left alone.
        """
        found = {m.id: m for m in result.models}
        problems = list(result.problems)
        added, updated, missing = [], [], []
        for model in self.catalog.list():
            if model.state is ModelState.DOWNLOADING:
                continue
            discovered = found.pop(model.id, None)
            if discovered is not None and Path(discovered.path) == Path(model.path):
                merged = replace(model, **{f: getattr(discovered, f) for f in _FILE_FIELDS})
                merged = replace(merged, state=discovered.state, state_reason=discovered.state_reason)
                if merged != model:
                    self.replace(merged)
                    updated.append(model.name)
            elif discovered is not None:
                problems.append(
                    DiscoveryProblem(discovered.path, f"id {model.id!r} is taken by the model at {model.path}")
                )
            elif not Path(model.path).exists() and model.state is not ModelState.MISSING:
                self.set_state(model.id, ModelState.MISSING, f"its files are gone from {model.path}")
                missing.append(model.name)
        for model in found.values():
            if (holder := self.catalog.find(model.id)) is not None:
                problems.append(DiscoveryProblem(model.path, f"{model.id!r} is an alias of {holder.id!r}; skipped"))
                continue
            if conflict := self.catalog.alias_conflict(model):
                problems.append(DiscoveryProblem(model.path, f"{conflict}; registered without aliases"))
                model = replace(model, aliases=())
            self.register(model)
            added.append(model.name)
        for name in (*added, *updated, *missing):
            log.info("model registry changed", extra={"model": name})
        return DiscoverySummary(tuple(added), tuple(updated), tuple(missing), tuple(problems))
