"""What every modality's requests and results share: the model selection, who served it, usage and progress."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from pluggably.core.models import Runtime

# Seeds must fit torch.Generator.manual_seed (a signed 64-bit integer >= 0).
MAX_SEED = 2**63 - 1


def fresh_seed(seed: int | None) -> int:
    """The seed asked for, or a new random one: unseeded sampling is never silently fixed."""
    return seed if seed is not None else random.SystemRandom().randrange(MAX_SEED)


@dataclass(frozen=True)
class ModelSelection:
    """The standardized model choice of a request (DATA-REQ-004). Empty = router decides."""

    id: str = ""
    provider: str = ""
    runtime: Runtime | None = None


@dataclass(frozen=True)
class ServedBy:
    model: str
    provider: str
    runtime: Runtime
    device: str

    def to_json(self) -> dict[str, str]:
        return {"model": self.model, "provider": self.provider, "runtime": self.runtime.value, "device": self.device}

    @classmethod
    def from_json(cls, value: dict[str, str]) -> ServedBy:
        return cls(value["model"], value["provider"], Runtime(value["runtime"]), value["device"])


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    meshes: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Stage(enum.Enum):
    """Where a generation is, for progress reports of long-running ones."""

    QUEUED = "queued"  # waiting for the model to load and for a generation slot
    DENOISING = "denoising"  # the diffusion steps
    DECODING = "decoding"  # latents to pixels or to a mesh
    STORING = "storing"  # writing the artifacts
    DONE = "done"


@dataclass(frozen=True)
class Progress:
    """A backend's progress: `done` of `total` units (denoising steps) in `stage`."""

    stage: Stage
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class GeneratedFile:
    """An encoded output (an image, a mesh file), ready to be stored as an artifact."""

    data: bytes
    mime_type: str
