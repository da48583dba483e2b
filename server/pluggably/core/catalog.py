"""The models the gateway can serve, looked up by id, resource name or alias."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pluggably.core.errors import AlreadyExistsError, NotFoundError
from pluggably.core.models import ModelInfo

MODEL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class ModelCatalog:
    """An in-memory index of `ModelInfo`, rebuilt from discovery."""

    def __init__(self, models: Iterable[ModelInfo] = ()) -> None:
        self._models: dict[str, ModelInfo] = {}
        self._aliases: dict[str, str] = {}
        self.replace_all(models)

    def replace_all(self, models: Iterable[ModelInfo]) -> None:
        by_id: dict[str, ModelInfo] = {}
        aliases: dict[str, str] = {}
        for model in models:
            if model.id in by_id:
                raise AlreadyExistsError(f"two models share the id {model.id!r}")
            by_id[model.id] = model
        for model in by_id.values():
            for alias in model.aliases:
                if alias in by_id or aliases.get(alias, model.id) != model.id:
                    raise AlreadyExistsError(f"alias {alias!r} of {model.id!r} names another model too")
                aliases[alias] = model.id
        self._models, self._aliases = by_id, aliases

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
