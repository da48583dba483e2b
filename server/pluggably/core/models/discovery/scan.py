"""The scan: the models directory, then the Hugging Face cache, into one `DiscoveryResult`.

Ids: a folder's name, a bare GGUF file's stem lowercased, a cached repo's
name through `model_id_from_name`. The first to claim an id keeps it (the
models directory before the cache, folders before files); later ones, and
aliases that name another model, are reported and dropped. Nothing found is
fatal: each problem is logged and returned.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from pluggably.core.models import ModelInfo, ModelSource, ModelState, SourceKind
from pluggably.core.models.catalog import MODEL_ID_PATTERN
from pluggably.core.models.discovery.describe import _kind
from pluggably.core.models.discovery.entries import _Description, _entry, _list, _manifest, _mtime, _Origin
from pluggably.core.models.discovery.gguf import _GGUF_SPLIT, GGUF_SUFFIX, _describe_gguf
from pluggably.core.models.discovery.hf_cache import HF_REPO_PREFIX, _cache_snapshot

# The package's logger: the name is in every log record, and one name covers all of discovery.
log = logging.getLogger(__package__)


@dataclass(frozen=True)
class DiscoveryProblem:
    path: str
    reason: str


@dataclass(frozen=True)
class DiscoveryResult:
    models: tuple[ModelInfo, ...]
    problems: tuple[DiscoveryProblem, ...]


class _Scan:
    def __init__(self) -> None:
        self.models: list[ModelInfo] = []
        self.problems: list[DiscoveryProblem] = []
        self._owners: dict[str, str] = {}

    def report(self, path: str, reason: str) -> None:
        log.warning("model folder problem", extra={"path": path, "reason": reason})
        self.problems.append(DiscoveryProblem(path=path, reason=reason))

    def claim(self, model_id: str, label: str) -> bool:
        owner = self._owners.get(model_id)
        if owner is not None:
            self.report(label, f"model id {model_id!r} is already taken by {owner}; skipped")
            return False
        self._owners[model_id] = label
        return True

    def add(
        self, origin: _Origin, describe: Callable[[], _Description], manifest: Path | None, *, serve_unsupported: bool
    ) -> None:
        if not self.claim(origin.model_id, origin.label):
            return
        model, unsupported = _entry(origin, describe, manifest)
        if model.state is ModelState.FAILED:
            self.report(origin.label, model.state_reason)
        if serve_unsupported or not unsupported:
            self.models.append(model)
        else:
            del self._owners[origin.model_id]  # not listed: the id stays free


def _scan_models_dir(scan: _Scan, models_dir: Path) -> None:
    entries: list[tuple[bool, str, os.DirEntry[str]]] = []
    with os.scandir(models_dir) as scanned:
        for entry in scanned:
            try:
                if not entry.name.startswith(".") and (entry.is_dir() or entry.name.endswith(GGUF_SUFFIX)):
                    entries.append((not entry.is_dir(), entry.name, entry))
            except OSError:
                continue
    # Folders first, by name: a folder keeps its id against a bare file of the same name.
    for is_file, _, entry in sorted(entries, key=lambda e: e[:2]):
        path = Path(entry.path)
        if not is_file:
            try:
                listing = _list(path)
            except OSError as err:
                scan.report(entry.name, f"the folder cannot be listed: {err}")
                continue
            kind = _kind(listing)
            if kind is None:
                continue  # not a model
            if not MODEL_ID_PATTERN.match(entry.name):
                scan.report(entry.name, f"the folder name is not a valid model id ({MODEL_ID_PATTERN.pattern})")
                continue
            origin = _Origin(entry.name, path, entry.name, entry.name)
            scan.add(origin, partial(kind, listing), _manifest(listing), serve_unsupported=True)
        elif entry.is_file():
            _scan_bare_gguf(scan, models_dir, entry.name)


def _scan_bare_gguf(scan: _Scan, models_dir: Path, name: str) -> None:
    split = _GGUF_SPLIT.match(name)
    if split and int(split["index"]) != 1:
        return  # a later part of a split file: read with the first
    stem = split["base"] if split else name[: -len(GGUF_SUFFIX)]
    model_id = stem.lower()
    if not MODEL_ID_PATTERN.match(model_id):
        scan.report(name, f"the file name is not a valid model id ({MODEL_ID_PATTERN.pattern})")
        return
    if split:
        parts = [f"{split['base']}-{i:05d}-of-{split['count']}.gguf" for i in range(1, int(split["count"]) + 1)]
        parts = [p for p in parts if (models_dir / p).is_file()]
    else:
        parts = [name]
    path = models_dir / name

    def describe() -> _Description:
        return _describe_gguf(models_dir, parts, [(models_dir / p).stat().st_size for p in parts], _mtime(path))

    scan.add(_Origin(model_id, path, name, stem), describe, None, serve_unsupported=True)


def model_id_from_name(name: str) -> str:
    """A repo or file name as a model id: lowercased, other characters as `-`, at most 63; "" if none."""
    model_id = re.sub(r"[^a-z0-9._-]+", "-", name.lower())
    model_id = re.sub(r"^[^a-z0-9]+", "", model_id)[:63]
    return model_id if MODEL_ID_PATTERN.match(model_id) else ""


def _scan_hf_cache(scan: _Scan, cache_dir: Path) -> None:
    with os.scandir(cache_dir) as scanned:
        repos = sorted((e for e in scanned if e.name.startswith(HF_REPO_PREFIX)), key=lambda e: e.name)
    for entry in repos:
        try:
            if not entry.is_dir():
                continue
            found = _cache_snapshot(Path(entry.path))
            if found is None:
                continue
            snapshot, ref = found
            listing = _list(snapshot)
        except OSError as err:
            scan.report(entry.name, f"the cached repo cannot be read: {err}")
            continue
        kind = _kind(listing)
        if kind is None:
            continue
        repo_id = entry.name.removeprefix(HF_REPO_PREFIX).replace("--", "/")
        model_id = model_id_from_name(repo_id.rsplit("/", 1)[-1])
        if not model_id:
            scan.report(entry.name, f"the repo name gives no valid model id ({MODEL_ID_PATTERN.pattern})")
            continue
        origin = _Origin(
            model_id,
            snapshot,
            entry.name,
            repo_id,
            source=ModelSource(SourceKind.HUGGING_FACE, repo_id, revision=ref),
            revision=snapshot.name,
        )
        scan.add(origin, partial(kind, listing), _manifest(listing), serve_unsupported=False)


def discover_models(models_dir: Path, hf_cache_dir: Path | None = None) -> DiscoveryResult:
    """Scans `models_dir`, then `hf_cache_dir` if given; a broken model is reported, never fatal."""
    scan = _Scan()
    for directory, scanner in ((models_dir, _scan_models_dir), (hf_cache_dir, _scan_hf_cache)):
        if directory is None or not directory.is_dir():
            continue
        try:
            scanner(scan, directory)
        except OSError as err:
            scan.report(str(directory), f"cannot be scanned: {err}")
    return DiscoveryResult(tuple(_without_conflicting_aliases(scan.models, scan.report)), tuple(scan.problems))


def _without_conflicting_aliases(models: list[ModelInfo], report: Callable[[str, str], None]) -> list[ModelInfo]:
    """Drops aliases that name another model's id or an alias already taken (first folder wins)."""
    ids = {m.id for m in models}
    taken: dict[str, str] = {}
    result = []
    for model in models:
        kept = []
        for alias in model.aliases:
            owner = alias if alias in ids else taken.get(alias)
            if owner is not None and owner != model.id:
                report(model.id, f"alias {alias!r} ignored: it already names {owner!r}")
            elif alias not in kept:
                kept.append(alias)
                taken[alias] = model.id
        result.append(replace(model, aliases=tuple(kept)))
    return result
