"""What the artifact store depends on: a record index and a blob store (SQLite and a folder by default)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Protocol

from pluggably.core.artifacts import Artifact


class ArtifactIndex(Protocol):
    """The artifacts' records."""

    def add(self, artifact: Artifact) -> None: ...

    def get(self, artifact_id: str) -> Artifact | None: ...

    def page(self, before_id: str, limit: int, model: str = "") -> list[Artifact]:
        """Newest first: artifacts whose id sorts before `before_id` (all when empty), of `model` if given."""
        ...

    def delete(self, artifact_id: str) -> None: ...

    def expired(self, now: datetime.datetime) -> list[Artifact]: ...

    def blob_in_use(self, sha256: str, unexpired_at: datetime.datetime | None = None) -> bool:
        """Whether any artifact (any not expired at `unexpired_at`, when given) still names these bytes."""
        ...

    def stored_bytes(self) -> int:
        """Bytes of the distinct blobs the artifacts name."""
        ...


class BlobStore(Protocol):
    """Bytes by their SHA-256. Writes are atomic: a blob is whole or absent, never partial."""

    def put(self, data: bytes) -> str:
        """Stores `data` (once, however often it is put) and returns its lowercase hex SHA-256."""
        ...

    def chunks(self, sha256: str, chunk_bytes: int, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The blob's bytes in order, from `start`, `length` of them (all when None), in pieces of at most
        `chunk_bytes`; FileNotFoundError when it is gone."""
        ...

    def delete(self, sha256: str) -> None: ...

    def stored(self) -> list[str]:
        """Every blob present (for finding orphans)."""
        ...
