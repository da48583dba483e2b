"""The models the gateway can serve, looked up by id, resource name or alias.

This is the read side, held in memory; `ModelRegistry` is the only writer and
keeps it in step with the persistent store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pluggably.core.errors import AlreadyExistsError, NotFoundError
from pluggably.core.models import ModelInfo

MODEL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class ModelCatalog:
    """An in-memory index of `ModelInfo` by id and alias."""

    def __init__(self, models: Iterable[ModelInfo] = ()) -> None:
        self._models: dict[str, ModelInfo] = {}
        self._aliases: dict[str, str] = {}
        for model in models:
            self.put(model)

    def alias_conflict(self, model: ModelInfo) -> str | None:
        """Why `model` cannot be stored beside the others, or None."""
        if model.id in self._aliases:
            return f"id {model.id!r} is an alias of {self._aliases[model.id]!r}"
        for alias in model.aliases:
            owner = alias if alias in self._models else self._aliases.get(alias)
            if owner is not None and owner != model.id:
                return f"alias {alias!r} already names {owner!r}"
        return None

    def put(self, model: ModelInfo) -> None:
        """Adds or replaces the entry with `model.id`."""
        if conflict := self.alias_conflict(model):
            raise AlreadyExistsError(conflict, metadata={"model": model.name})
        self.remove(model.id)
        self._models[model.id] = model
        self._aliases.update(dict.fromkeys(model.aliases, model.id))

    def remove(self, model_id: str) -> None:
        old = self._models.pop(model_id, None)
        if old is not None:
            for alias in old.aliases:
                self._aliases.pop(alias, None)

    def list(self) -> list[ModelInfo]:
        return [self._models[key] for key in sorted(self._models)]

    def find(self, reference: str) -> ModelInfo | None:
        """By id, `models/{id}` or alias; None if unknown."""
        key = reference.removeprefix("models/")
        model_id = key if key in self._models else self._aliases.get(key)
        return self._models.get(model_id) if model_id else None

    def get(self, reference: str) -> ModelInfo:
        model = self.find(reference)
        if model is None:
            raise NotFoundError(f"models/{reference.removeprefix('models/')}")
        return model
