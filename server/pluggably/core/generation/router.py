"""Chooses the model, provider and runtime that serve a request (SYS-REQ-005, SYS-REQ-011)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pluggably.core.errors import (
    BackendUnavailableError,
    FailedPreconditionError,
    FeatureNotSupportedError,
    ValidationError,
)
from pluggably.core.generation.text import ModelSelection
from pluggably.core.models import LOCAL_PROVIDER, Modality, ModelInfo, ModelState, Runtime
from pluggably.core.models.catalog import ModelCatalog


@dataclass(frozen=True)
class Route:
    model: ModelInfo
    provider: str
    runtime: Runtime


class Router:
    """Resolves a `ModelSelection` against the catalog and the installed runtimes.

    The field paths in its errors (`model.id`, ...) are those of the request.
    """

    def __init__(
        self,
        catalog: ModelCatalog,
        default_models: Mapping[Modality, str],
        runtimes: Collection[Runtime],
        providers: Collection[str] = (LOCAL_PROVIDER,),
    ) -> None:
        self._catalog = catalog
        self._default_models = dict(default_models)
        self._runtimes = frozenset(runtimes)
        self._providers = tuple(providers)

    def route(self, selection: ModelSelection, modality: Modality) -> Route:
        provider = selection.provider or LOCAL_PROVIDER
        if provider not in self._providers:
            raise ValidationError.single(
                "model.provider",
                f"unknown provider {provider!r}; configured: {', '.join(self._providers)}",
            )
        model = self._model(selection, modality)
        self._check_state(model)
        if model.modality is not modality:
            assert model.modality is not None  # only FAILED entries lack one
            raise FeatureNotSupportedError(
                f"model {model.id!r} generates {model.modality.value}, not {modality.value}",
                metadata={"model": model.name, "modality": model.modality.value},
            )
        return Route(model=model, provider=provider, runtime=self._runtime(selection, model))

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
        model = self._catalog.find(default) if default else None
        if model is None:
            raise FailedPreconditionError(
                f"no model given and the default {modality.value} model "
                f"{default or '(none configured)'!r} is not installed; name one of: {known}",
                metadata={"modality": modality.value},
            )
        return model

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

    def _runtime(self, selection: ModelSelection, model: ModelInfo) -> Runtime:
        usable = [r for r in model.runtimes if r in self._runtimes]
        if selection.runtime is None:
            if not usable:
                raise FeatureNotSupportedError(
                    f"no installed runtime can run model {model.id!r} "
                    f"(it has {', '.join(r.value for r in model.runtimes)})",
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
