"""What the gateway knows about a model: the catalog entry's domain type."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field


class Runtime(enum.Enum):
    ONNX = "onnx"
    TORCH = "torch"
    REMOTE = "remote"


class Modality(enum.Enum):
    TEXT = "text"
    IMAGE = "image"
    MESH = "mesh"


class ModelFormat(enum.Enum):
    SAFETENSORS = "safetensors"
    ONNX = "onnx"
    GGUF = "gguf"
    DIFFUSERS = "diffusers"
    PYTORCH = "pytorch"


class ModelState(enum.Enum):
    READY = "ready"
    DOWNLOADING = "downloading"
    FAILED = "failed"
    MISSING = "missing"


class GpuRequirement(enum.Enum):
    NONE = "none"
    RECOMMENDED = "recommended"
    REQUIRED = "required"


LOCAL_PROVIDER = "local"


class SourceKind(enum.Enum):
    HUGGING_FACE = "hugging_face"
    URL = "url"
    LOCAL = "local"


@dataclass(frozen=True)
class ModelSource:
    """Where a model came from: a Hugging Face repo id, a URL, or a local path."""

    kind: SourceKind
    location: str
    revision: str = ""  # asked-for branch, tag or commit (Hugging Face)
    allow_patterns: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "location": self.location,
            "revision": self.revision,
            "allow_patterns": list(self.allow_patterns),
        }

    @classmethod
    def from_json(cls, value: object) -> ModelSource:
        if not isinstance(value, dict):
            raise ValueError(f"a model source is an object, not {value!r}")
        return cls(
            kind=SourceKind(value["kind"]),
            location=str(value["location"]),
            revision=str(value.get("revision", "")),
            allow_patterns=tuple(str(p) for p in value.get("allow_patterns", ())),
        )


@dataclass(frozen=True)
class ModelCapabilities:
    context_length: int = 0
    chat: bool = False
    output_formats: tuple[str, ...] = ()
    image_sizes: tuple[str, ...] = ()


@dataclass(frozen=True)
class HardwareRequirements:
    memory_bytes: int = 0
    gpu: GpuRequirement = GpuRequirement.NONE
    gpu_memory_bytes: int = 0


@dataclass(frozen=True)
class ModelInfo:
    """One model in the catalog. `runtimes` lists the preferred runtime first.

    `modality` is None only for an entry whose files could not be read
    (state FAILED): what it would generate is unknown.
    """

    id: str
    modality: Modality | None
    path: str
    runtimes: tuple[Runtime, ...]
    formats: tuple[ModelFormat, ...]
    capabilities: ModelCapabilities
    display_name: str = ""
    aliases: tuple[str, ...] = ()
    provider: str = LOCAL_PROVIDER
    source: ModelSource | None = None
    revision: str = ""  # the revision on disk (e.g. the commit a download resolved to)
    size_bytes: int = 0
    hardware: HardwareRequirements = HardwareRequirements()
    state: ModelState = ModelState.READY
    state_reason: str = ""
    pinned: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    create_time: datetime.datetime | None = None
    update_time: datetime.datetime | None = None
    last_use_time: datetime.datetime | None = None

    @property
    def name(self) -> str:
        return f"models/{self.id}"
