"""What ModelService does, in domain terms: list, get, update, delete, discover.

Files are only ever deleted inside the models directory, and by renaming them
out of sight first (`.trash-*`): a crash mid-delete leaves a hidden folder
that cleanup removes, never a half-deleted model that looks complete.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from pluggably.core.errors import FailedPreconditionError, ValidationError
from pluggably.core.generation.pool import ModelPool
from pluggably.core.models import ModelInfo, ModelSource, ModelState, SourceKind
from pluggably.core.models.catalog import ModelCatalog
from pluggably.core.models.registry import DiscoverySummary, ModelRegistry
from pluggably.core.models.scanning import ModelScanner

log = logging.getLogger(__name__)

# The models directory's hidden corners: downloads in progress, deletes in progress.
STAGING_DIR = ".staging"
TRASH_PREFIX = ".trash-"


def is_inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


class ModelManager:
    def __init__(
        self,
        registry: ModelRegistry,
        scanner: ModelScanner,
        pool: ModelPool,
        models_dir: Path,
        describe: Callable[[Path, str], ModelInfo],
    ) -> None:
        self._describe = describe
        self._registry = registry
        self._scanner = scanner
        self._pool = pool
        self._models_dir = models_dir

    @property
    def catalog(self) -> ModelCatalog:
        return self._registry.catalog

    def update(
        self,
        reference: str,
        *,
        display_name: str | None = None,
        aliases: tuple[str, ...] | None = None,
        pinned: bool | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> ModelInfo:
        return self._registry.update(
            reference, display_name=display_name, aliases=aliases, pinned=pinned, labels=labels
        )

    def create(
        self,
        model_id: str,
        path: Path,
        *,
        display_name: str = "",
        aliases: tuple[str, ...] = (),
        pinned: bool = False,
        labels: Mapping[str, str] | None = None,
    ) -> ModelInfo:
        """Registers model files already on this machine, where they are (nothing is copied).

        Files outside the models directory stay the user's: deleting the model
        forgets it and leaves them alone. To copy files in, download from a
        local path instead.
        """
        if not path.is_absolute():
            raise ValidationError.single("model.source.local_path", "must be an absolute path on the server")
        if not path.exists():
            raise ValidationError.single("model.source.local_path", f"{path} does not exist on the server")
        if is_inside(path, self._models_dir):
            raise FailedPreconditionError(
                f"{path} is in the models directory, where models are found by discovery (DiscoverModels)",
                metadata={"path": str(path)},
            )
        try:
            described = self._describe(path, model_id)
        except ValueError as error:
            raise ValidationError.single("model.source.local_path", str(error)) from error
        return self._registry.register(
            replace(
                described,
                source=ModelSource(SourceKind.LOCAL, str(path)),
                display_name=display_name or described.display_name,
                aliases=aliases or described.aliases,
                pinned=pinned,
                labels=dict(labels or {}),
            )
        )

    def unload(self, model_id: str) -> None:
        """Drops a model from memory: its files changed (replaced by a new version)."""
        self._pool.unload(model_id)

    def check_deletable(self, model: ModelInfo) -> None:
        """Raises FailedPreconditionError saying why `model` must stay, if it must."""
        if model.pinned:
            raise FailedPreconditionError(
                f"{model.name} is pinned; unpin it first (UpdateModel with pinned: false)",
                metadata={"model": model.name},
            )
        if requests := self._pool.requests(model.id):
            raise FailedPreconditionError(
                f"{model.name} is serving {requests} request(s); try again when they finish",
                metadata={"model": model.name},
            )
        if model.state is ModelState.DOWNLOADING:
            raise FailedPreconditionError(
                f"{model.name} is still downloading; cancel its download operation instead",
                metadata={"model": model.name},
            )
        if model.source and model.source.kind is SourceKind.HUGGING_FACE and not self._owns(model):
            raise FailedPreconditionError(
                f"{model.name} lives in the Hugging Face cache ({model.path}), which Pluggably only reads; "
                "remove it from there (huggingface-cli delete-cache)",
                metadata={"model": model.name},
            )

    def _owns(self, model: ModelInfo) -> bool:
        return is_inside(Path(model.path), self._models_dir)

    async def delete(self, reference: str) -> ModelInfo:
        """Deletes the entry, and its files when they are inside the models directory."""
        model = self.catalog.get(reference)
        self.check_deletable(model)
        self._pool.unload(model.id)
        trash = self._move_to_trash(model)
        self._registry.remove(model.id)
        if trash is not None:
            await asyncio.to_thread(shutil.rmtree, trash, ignore_errors=True)
        log.info("model deleted", extra={"model": model.name, "files_removed": trash is not None})
        return model

    def _move_to_trash(self, model: ModelInfo) -> Path | None:
        """One rename hides the files at once; None when there is nothing of ours to delete."""
        path = Path(model.path)
        if not self._owns(model) or not path.exists():
            return None
        trash = self._models_dir / f"{TRASH_PREFIX}{model.id}-{uuid.uuid4().hex[:8]}"
        path.rename(trash)
        return trash

    async def discover(self) -> DiscoverySummary:
        return await self._scanner.scan()
