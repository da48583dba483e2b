"""The seam every generation backend plugs into (SYS-NFR-004).

A backend is one loaded model of one modality, served by one (provider,
runtime): a local runner (ONNX Runtime, torch, diffusers) or a remote
provider's adapter. Core sees it only through the protocol of its modality,
at the level of a request and its events, as KServe's `Model` is: a
backend takes a resolved request and yields progress events and a last
event with the outcome. Whatever a backend needs inside (a tokenizer, a KV
cache, a diffusers pipeline, an HTTP client) stays inside it.

What a backend can do (context length, image sizes, step limits, formats) is
its *description*, which its factory gives from the catalog entry without
loading anything: validation reads it before a model is loaded, and the
schema service will read the same.

`BackendRegistry` is the one explicit map, filled at the composition root,
from (provider, runtime, modality) to the factory that loads such backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pluggably.core.generation.images import ImageEvent, ImageFormat, ImageJob
from pluggably.core.generation.meshes import MeshEvent, MeshFormat, MeshJob
from pluggably.core.generation.text import TextDelta, TextFinished, TextRequest
from pluggably.core.models import Modality, ModelInfo, Runtime


class Backend(Protocol):
    """What every loaded backend has: the device it really runs on, and a way to let go of its memory."""

    @property
    def device(self) -> str:
        """The execution device really in use (e.g. `CPUExecutionProvider`, `cuda:0`, or a provider's name)."""
        ...

    def close(self) -> None:
        """Frees what the backend holds. Called by the pool once no request uses it."""
        ...


class TextBackend(Backend, Protocol):
    def stream(self, request: TextRequest) -> AsyncIterator[TextDelta | TextFinished]:
        """Yields text deltas, then one TextFinished with the finish reason and usage.

        A request the backend cannot take (a prompt longer than the context, messages for a model without a
        chat template) raises a PluggablyError before the first event. Closing the iterator stops the work
        before its next token.
        """
        ...


class ImageBackend(Backend, Protocol):
    def stream(self, job: ImageJob) -> AsyncIterator[ImageEvent]:
        """Yields Progress per denoising step, then ImagesGenerated. Closing the iterator stops the work
        before its next step."""
        ...


class MeshBackend(Backend, Protocol):
    def stream(self, job: MeshJob) -> AsyncIterator[MeshEvent]:
        """Yields Progress per denoising step and for decoding, then MeshGenerated (or raises
        EmptyMeshError). Closing the iterator stops the work before its next step."""
        ...


# --- descriptions: what a backend can do, known without loading it -----------


@dataclass(frozen=True)
class TextDescription:
    context_length: int
    chat: bool


@dataclass(frozen=True)
class ImageDescription:
    default_width: int
    default_height: int
    size_multiple: int  # width and height must be multiples of it
    min_side: int
    max_side: int
    max_images: int
    default_steps: int
    max_steps: int
    formats: tuple[ImageFormat, ...]
    negative_prompt: bool


@dataclass(frozen=True)
class MeshDescription:
    default_steps: int
    max_steps: int
    formats: tuple[MeshFormat, ...]
    text_input: bool = True  # False: the model makes meshes from images only


Description = TextDescription | ImageDescription | MeshDescription
B = TypeVar("B", bound=Backend, covariant=True)


@dataclass(frozen=True)
class BackendFactory(Generic[B]):
    """How to serve models of one modality on one (provider, runtime).

    `load` blocks (it reads weights) and raises on failure; the pool runs it off the event loop. `describe`
    is cheap and pure: it reads the catalog entry only.
    """

    load: Callable[[ModelInfo], B]
    describe: Callable[[ModelInfo], Description]


@dataclass
class BackendRegistry:
    """The explicit map from (provider, runtime, modality) to a backend factory. Filled at start, then read."""

    _factories: dict[tuple[str, Runtime, Modality], BackendFactory[Any]] = field(default_factory=dict)

    def register(self, provider: str, runtime: Runtime, modality: Modality, factory: BackendFactory[Any]) -> None:
        key = (provider, runtime, modality)
        if key in self._factories:
            raise ValueError(f"a backend for {provider}/{runtime.value}/{modality.value} is registered already")
        self._factories[key] = factory

    def factory(self, provider: str, runtime: Runtime, modality: Modality) -> BackendFactory[Any] | None:
        return self._factories.get((provider, runtime, modality))

    def runtimes(self, provider: str, modality: Modality) -> list[Runtime]:
        return [r for (p, r, m) in self._factories if p == provider and m is modality]

    @property
    def providers(self) -> list[str]:
        return sorted({p for (p, _, _) in self._factories})
