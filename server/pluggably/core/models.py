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
    """One model in the catalog. `runtimes` lists the preferred runtime first."""

    id: str
    modality: Modality
    path: str
    runtimes: tuple[Runtime, ...]
    formats: tuple[ModelFormat, ...]
    capabilities: ModelCapabilities
    display_name: str = ""
    aliases: tuple[str, ...] = ()
    provider: str = LOCAL_PROVIDER
    source: str = ""
    revision: str = ""
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
