"""Blobs in a folder, by SHA-256 (`core.artifacts.ports.BlobStore`).

`<root>/<sha[:2]>/<sha>`: the bytes are written to `<root>/.staging/`,
flushed to disk, then renamed into place, so a crash never leaves a partial
blob under a name that claims its hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

STAGING = ".staging"


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self._root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self._path(sha256)
        if target.exists():
            return sha256
        staging = self._root / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        partial = staging / uuid.uuid4().hex
        try:
            with partial.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            target.parent.mkdir(exist_ok=True)
            partial.rename(target)
        finally:
            partial.unlink(missing_ok=True)
        return sha256

    def discard_partial_writes(self) -> None:
        """Removes what writes interrupted by a crash left in staging (at start, before any write)."""
        shutil.rmtree(self._root / STAGING, ignore_errors=True)

    def chunks(self, sha256: str, chunk_bytes: int, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        # Opened now, not at the first read: a blob deleted after this call still reads to its end.
        handle = self._path(sha256).open("rb")
        handle.seek(start)

        def read() -> Iterator[bytes]:
            left = length
            with handle:
                while left is None or left > 0:
                    chunk = handle.read(chunk_bytes if left is None else min(chunk_bytes, left))
                    if not chunk:
                        return
                    if left is not None:
                        left -= len(chunk)
                    yield chunk

        return read()

    def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(sha256).unlink()

    def stored(self) -> list[str]:
        if not self._root.is_dir():
            return []
        return sorted(
            path.name for folder in self._root.iterdir() if len(folder.name) == 2 for path in folder.iterdir()
        )
