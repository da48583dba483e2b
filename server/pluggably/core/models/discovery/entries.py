"""What every layout shares: one listing of a folder, what its files say, and the catalog entry built from that.

A layout's reader (`transformers`, `pipelines`, `gguf`) turns one `_Listing`
(a single `os.scandir`) into a `_Description`, or raises `ModelFolderError`
with the reason. `_entry` adds where the model was found (`_Origin`) and its
`pluggably.json` manifest, giving a READY `ModelInfo`, or a FAILED one that
names the reason.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pluggably.core.models import (
    HardwareRequirements,
    Modality,
    ModelCapabilities,
    ModelFormat,
    ModelInfo,
    ModelSource,
    ModelState,
    Runtime,
)

MANIFEST_FILE = "pluggably.json"
CONFIG_FILE = "config.json"
TEXT_OUTPUT_FORMATS = ("text/plain",)

# Weights in memory plus room for activations and caches.
RUNTIME_OVERHEAD = 1.2


class ModelFolderError(ValueError):
    """Looks like a model but cannot be served; the message is the reason shown."""

    def __init__(self, reason: str, modality: Modality | None = None) -> None:
        super().__init__(reason)
        self.modality = modality


class UnsupportedModelError(ModelFolderError):
    """A readable model of a kind the gateway does not serve (an encoder, a video pipeline)."""


@dataclass(frozen=True)
class _Listing:
    """One `os.scandir` of a folder: its files and subfolders by name (symlinks followed)."""

    folder: Path
    files: dict[str, os.DirEntry[str]]
    dirs: dict[str, os.DirEntry[str]]

    def size(self, name: str) -> int:
        return self.files[name].stat().st_size

    def mtime(self, name: str) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.files[name].stat().st_mtime, datetime.UTC)


def _list(folder: Path) -> _Listing:
    files: dict[str, os.DirEntry[str]] = {}
    dirs: dict[str, os.DirEntry[str]] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    dirs[entry.name] = entry
                elif entry.is_file():
                    files[entry.name] = entry
            except OSError:
                continue  # vanished or unreadable: not part of the model
    return _Listing(folder, files, dirs)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_bytes())
    except json.JSONDecodeError as err:
        raise ModelFolderError(f"{path.name} is not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise ModelFolderError(f"{path.name} does not hold a JSON object")
    return value


def _tree_size(path: Path) -> int:
    """Bytes on disk under `path`, following symlinks once (a file reached twice counts once)."""
    try:
        root = path.stat()
    except OSError:
        return 0
    if not stat.S_ISDIR(root.st_mode):
        return root.st_size
    seen = {(root.st_dev, root.st_ino)}
    total, pending = 0, [path]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat()
                except OSError:
                    continue  # a dangling link
                key = (info.st_dev, info.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                if stat.S_ISDIR(info.st_mode):
                    pending.append(Path(entry.path))
                elif stat.S_ISREG(info.st_mode):
                    total += info.st_size
    return total


def _mtime(path: Path) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
    except OSError:
        return None


def _memory(weights_bytes: float) -> int:
    return int(weights_bytes * RUNTIME_OVERHEAD)


@dataclass(frozen=True)
class _Description:
    """What a model's files say, before the manifest and where it came from are added."""

    modality: Modality
    runtimes: tuple[Runtime, ...]
    formats: tuple[ModelFormat, ...]
    capabilities: ModelCapabilities
    hardware: HardwareRequirements
    time: datetime.datetime | None


@dataclass(frozen=True)
class _Origin:
    """Where a model was found, and what that says about it before its files are read."""

    model_id: str
    path: Path
    label: str  # the path a problem names
    display_name: str
    source: ModelSource | None = None
    revision: str = ""


def _manifest(listing: _Listing) -> Path | None:
    return listing.folder / MANIFEST_FILE if MANIFEST_FILE in listing.files else None


def _apply_manifest(model: ModelInfo, manifest_path: Path | None) -> ModelInfo:
    """Display name, aliases, source and revision from `pluggably.json`, over what the origin gave."""
    if manifest_path is None:
        return model
    try:
        manifest = _read_json(manifest_path)
        aliases = manifest.get("aliases", [])
        if not isinstance(aliases, list):
            raise ValueError(f"aliases is {aliases!r}, not a list")
        source = ModelSource.from_json(manifest["source"]) if manifest.get("source") else model.source
    except (KeyError, TypeError, ValueError) as err:
        reason = str(err) if isinstance(err, ModelFolderError) else f"{MANIFEST_FILE}: {err!s}"
        raise ModelFolderError(reason, model.modality) from err
    return replace(
        model,
        display_name=str(manifest.get("display_name") or model.display_name),
        aliases=tuple(str(a) for a in aliases),
        source=source,
        revision=str(manifest.get("revision") or model.revision),
    )


def _failed_entry(origin: _Origin, reason: str, modality: Modality | None = None) -> ModelInfo:
    time = _mtime(origin.path)
    return ModelInfo(
        id=origin.model_id,
        modality=modality,
        path=str(origin.path),
        runtimes=(),
        formats=(),
        capabilities=ModelCapabilities(),
        display_name=origin.display_name,
        source=origin.source,
        revision=origin.revision,
        size_bytes=_tree_size(origin.path),
        state=ModelState.FAILED,
        state_reason=reason,
        create_time=time,
        update_time=time,
    )


def _entry(origin: _Origin, describe: Callable[[], _Description], manifest_path: Path | None) -> tuple[ModelInfo, bool]:
    """A READY entry, or FAILED with the reason; and whether it failed as a kind the gateway does not serve."""
    try:
        description = describe()
        model = ModelInfo(
            id=origin.model_id,
            modality=description.modality,
            path=str(origin.path),
            runtimes=description.runtimes,
            formats=description.formats,
            capabilities=description.capabilities,
            display_name=origin.display_name,
            source=origin.source,
            revision=origin.revision,
            size_bytes=_tree_size(origin.path),
            hardware=description.hardware,
            create_time=description.time,
            update_time=description.time,
        )
        return _apply_manifest(model, manifest_path), False
    except ModelFolderError as err:
        return _failed_entry(origin, str(err), err.modality), isinstance(err, UnsupportedModelError)
    except (OSError, ValueError) as err:
        return _failed_entry(origin, str(err)), False
