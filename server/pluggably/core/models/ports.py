"""The ports the model registry and downloads depend on; adapters (SQLite, hub, HTTP, local files) implement them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pluggably.core.models import ModelInfo, ModelSource


class ModelStore(Protocol):
    """Where the registry keeps its entries (SQLite by default)."""

    def load_all(self) -> list[ModelInfo]: ...

    def save(self, model: ModelInfo) -> None: ...

    def delete(self, model_id: str) -> None: ...


@dataclass(frozen=True)
class RemoteFile:
    """One file of a source. `path` is relative, checked to stay inside the model folder."""

    path: str
    size: int | None = None
    sha256: str = ""
    git_sha1: str = ""  # a Hugging Face non-LFS file's blob id
    url: str = ""
    local_path: Path | None = None


@dataclass(frozen=True)
class ResolvedSource:
    revision: str
    files: tuple[RemoteFile, ...]

    @property
    def total_bytes(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)


class RestartFromZero(Exception):
    """Raised by a fetcher whose source ignored the range asked for: the file starts over."""


class SourceResolver(Protocol):
    """Lists what a source holds (one per source kind: hub, URL, local path)."""

    async def resolve(self, source: ModelSource) -> ResolvedSource: ...


class FileFetcher(Protocol):
    """Appends a file's bytes from `offset` to `partial`, calling `received` with each chunk."""

    async def fetch(self, file: RemoteFile, partial: Path, offset: int, received: Callable[[bytes], None]) -> None: ...


class DiskBudget(Protocol):
    """Storage limits, per download (`key`: its staging folder's name)."""

    def reserve(self, key: str, needed: int) -> None:
        """Admits `needed` bytes or raises QuotaExceededError naming the sizes."""
        ...

    def allowance(self, key: str) -> int | None:
        """Bytes a download of unknown size may still write, or None for no limit."""
        ...

    def release(self, key: str) -> None: ...
