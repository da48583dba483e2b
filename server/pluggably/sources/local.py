"""Copies a model from a folder or file already on the server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from pluggably.core.errors import NotFoundError, ValidationError
from pluggably.core.models import ModelSource
from pluggably.core.models.ports import RemoteFile, ResolvedSource

COPY_BLOCK_BYTES = 4 << 20


class LocalResolver:
    """Every file under the path. Symlinks must point inside it: a model never pulls in outside files."""

    async def resolve(self, source: ModelSource) -> ResolvedSource:
        return await asyncio.to_thread(self._resolve, Path(source.location))

    @staticmethod
    def _resolve(root: Path) -> ResolvedSource:
        if not root.exists():
            raise NotFoundError(str(root), f"{root} does not exist on the server")
        if root.is_file():
            return ResolvedSource("", (RemoteFile(path=root.name, size=root.stat().st_size, local_path=root),))
        real_root = root.resolve()
        files = []
        for folder, _, names in os.walk(root):
            for name in sorted(names):
                path = Path(folder) / name
                if not path.resolve().is_relative_to(real_root):
                    raise ValidationError.single(
                        "source.local_path", f"{path} links outside {root}; copy the files it points to instead"
                    )
                relative = path.relative_to(root).as_posix()
                files.append(RemoteFile(path=relative, size=path.stat().st_size, local_path=path))
        return ResolvedSource("", tuple(sorted(files, key=lambda f: f.path)))


class LocalFetcher:
    async def fetch(self, file: RemoteFile, partial: Path, offset: int, received: Callable[[bytes], None]) -> None:
        assert file.local_path is not None
        with file.local_path.open("rb") as source, partial.open("ab") as out:
            source.seek(offset)
            while block := await asyncio.to_thread(source.read, COPY_BLOCK_BYTES):
                await asyncio.to_thread(out.write, block)
                received(block)
