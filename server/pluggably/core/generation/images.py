"""Domain types of image generation: the request, the job a backend runs, its events and the result."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pluggably.core.artifacts import SignedArtifact
from pluggably.core.generation.common import GeneratedFile, ModelSelection, Progress, ServedBy, Usage


class ImageFormat(enum.Enum):
    PNG = "image/png"
    JPEG = "image/jpeg"
    WEBP = "image/webp"


@dataclass(frozen=True)
class ImageRequest:
    """An image request as the caller sent it. `None` or 0: the default (the model's, or the gateway's)."""

    selection: ModelSelection
    prompt: str
    negative_prompt: str = ""
    width: int | None = None
    height: int | None = None
    image_count: int | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    format: ImageFormat | None = None
    provider_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageJob:
    """What a backend runs: every parameter resolved, validated against what the backend can do."""

    prompt: str
    negative_prompt: str
    width: int
    height: int
    image_count: int
    steps: int
    guidance_scale: float | None  # None: the model's own default
    seed: int
    format: ImageFormat
    provider_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImagesGenerated:
    """A backend's last event: the encoded images, in the job's format and size."""

    images: tuple[GeneratedFile, ...]


ImageEvent = Progress | ImagesGenerated


@dataclass(frozen=True)
class ImageResult:
    images: tuple[SignedArtifact, ...]
    usage: Usage
    served_by: ServedBy
