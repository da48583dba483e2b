"""Chooses the model, provider, runtime and backend factory that serve a request (SYS-REQ-005, SYS-REQ-011).

The model is the one the request names (id, resource name or alias) or the
modality's default: the configured one, else the first installed model of
that modality that a registered backend can serve. The provider is the
model's own: a request that names another is refused, never silently
served elsewhere. The runtime is the one asked for, else the first of the
model's runtimes (its preferred first) that has a registered backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pluggably.core.errors import (
    BackendUnavailableError,
    FailedPreconditionError,
    FeatureNotSupportedError,
    NoModelForModalityError,
    ValidationError,
)
from pluggably.core.generation.backends import BackendFactory, BackendRegistry
from pluggably.core.generation.common import ModelSelection
from pluggably.core.models import Modality, ModelInfo, ModelState, Runtime
from pluggably.core.models.catalog import ModelCatalog

# What installs a first model of each modality, and what else would do, for the error that says none is installed.
INSTALL_HINTS = {
    Modality.TEXT: ("pluggably models pull hf:HuggingFaceTB/SmolLM2-135M-Instruct", "or any transformers chat model"),
    Modality.IMAGE: ("pluggably models pull hf:stabilityai/sd-turbo", "or any diffusers text-to-image pipeline"),
    Modality.MESH: ("pluggably models pull hf:openai/shap-e", "or any diffusers Shap-E pipeline"),
}


@dataclass(frozen=True)
class Route:
    model: ModelInfo
    provider: str
    runtime: Runtime
    factory: BackendFactory[Any]


class Router:
    """Resolves a `ModelSelection` against the catalog and the registered backends.

    The field paths in its errors (`model.id`, ...) are those of the request.
    """

    def __init__(
        self, catalog: ModelCatalog, default_models: Mapping[Modality, str], backends: BackendRegistry
    ) -> None:
        self._catalog = catalog
        self._default_models = dict(default_models)
        self._backends = backends

    def route(self, selection: ModelSelection, modality: Modality) -> Route:
        providers = self._backends.providers
        if selection.provider and selection.provider not in providers:
            raise ValidationError.single(
                "model.provider", f"unknown provider {selection.provider!r}; configured: {', '.join(providers)}"
            )
        model = self._model(selection, modality)
        self._check_state(model)
        if model.modality is not modality:
            assert model.modality is not None  # only FAILED entries lack one
            raise FeatureNotSupportedError(
                f"model {model.id!r} generates {model.modality.value}, not {modality.value}",
                metadata={"model": model.name, "modality": model.modality.value},
            )
        if selection.provider and selection.provider != model.provider:
            raise ValidationError.single(
                "model.provider",
                f"model {model.id!r} is served by provider {model.provider!r}, not {selection.provider!r}",
            )
        runtime = self._runtime(selection, model, modality)
        factory = self._backends.factory(model.provider, runtime, modality)
        assert factory is not None  # `_runtime` chose among registered ones
        return Route(model=model, provider=model.provider, runtime=runtime, factory=factory)

    def servable(self, modality: Modality) -> list[ModelInfo]:
        """READY models of `modality` that a registered backend can serve."""
        return [
            m
            for m in self._catalog.list()
            if m.modality is modality and m.state is ModelState.READY and self._usable_runtimes(m, modality)
        ]

    def _usable_runtimes(self, model: ModelInfo, modality: Modality) -> list[Runtime]:
        return [r for r in model.runtimes if self._backends.factory(model.provider, r, modality) is not None]

    def _model(self, selection: ModelSelection, modality: Modality) -> ModelInfo:
        known = ", ".join(m.id for m in self._catalog.list() if m.modality is modality) or "none"
        if selection.id:
            model = self._catalog.find(selection.id)
            if model is None:
                raise ValidationError.single(
                    "model.id", f"unknown model {selection.id!r}; {modality.value} models available: {known}"
                )
            return model
        # No model named: the operator's default. Its absence is not the caller's fault.
        default = self._default_models.get(modality, "")
        if default:
            model = self._catalog.find(default)
            if model is None:
                raise FailedPreconditionError(
                    f"no model given and the default {modality.value} model {default!r} is not installed; "
                    f"name one of: {known}",
                    metadata={"modality": modality.value},
                )
            return model
        servable = self.servable(modality)
        if not servable:
            command, alternatives = INSTALL_HINTS[modality]
            raise NoModelForModalityError(
                f"no {modality.value} model is installed; install one with `{command}` ({alternatives})",
                metadata={"modality": modality.value},
            )
        return servable[0]

    @staticmethod
    def _check_state(model: ModelInfo) -> None:
        if model.state is ModelState.DOWNLOADING:
            raise BackendUnavailableError(
                f"model {model.id!r} is still downloading", retry_after_s=30, metadata={"model": model.name}
            )
        if model.state is not ModelState.READY:
            raise FailedPreconditionError(
                f"model {model.id!r} is {model.state.value}: {model.state_reason or 'not ready'}",
                metadata={"model": model.name},
            )

    def _runtime(self, selection: ModelSelection, model: ModelInfo, modality: Modality) -> Runtime:
        usable = self._usable_runtimes(model, modality)
        if selection.runtime is None:
            if not usable:
                raise FeatureNotSupportedError(
                    f"no installed runtime can run model {model.id!r} "
                    f"(it has {', '.join(r.value for r in model.runtimes) or 'none'})",
                    metadata={"model": model.name},
                )
            return usable[0]
        if selection.runtime not in usable:
            raise FeatureNotSupportedError(
                f"model {model.id!r} cannot run on runtime {selection.runtime.value!r}; "
                f"it runs on: {', '.join(r.value for r in usable) or 'none installed'}",
                metadata={"model": model.name, "runtime": selection.runtime.value},
            )
        return selection.runtime
