"""Domain types of 3D mesh generation: the request, the job a backend runs, its events and the result."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pluggably.core.artifacts import SignedArtifact
from pluggably.core.generation.common import GeneratedFile, ModelSelection, Progress, ServedBy, Usage


class MeshFormat(enum.Enum):
    GLB = "model/gltf-binary"
    OBJ = "model/obj"
    PLY = "model/x-ply"


@dataclass(frozen=True)
class InputImage:
    """An image a request takes as input: its file's bytes, or the resource name of an artifact holding it."""

    data: bytes = b""
    artifact: str = ""


@dataclass(frozen=True)
class MeshRequest:
    """A mesh request as the caller sent it: a prompt (text to 3D) or an image (image to 3D). `None` or 0: the
    default."""

    selection: ModelSelection
    prompt: str = ""
    image: InputImage | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    format: MeshFormat | None = None
    provider_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MeshJob:
    """What a backend runs: every parameter resolved, and the input image's bytes (image to 3D) or the prompt."""

    prompt: str
    image: bytes | None
    steps: int
    guidance_scale: float | None  # None: the model's own default
    seed: int
    format: MeshFormat
    provider_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MeshGenerated:
    """A backend's last event: the mesh file and its size in vertices and triangles."""

    file: GeneratedFile
    vertex_count: int
    face_count: int


MeshEvent = Progress | MeshGenerated


@dataclass(frozen=True)
class MeshResult:
    mesh: SignedArtifact
    vertex_count: int
    face_count: int
    usage: Usage
    served_by: ServedBy
