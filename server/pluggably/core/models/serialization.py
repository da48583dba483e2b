"""Domain objects as plain JSON data, for the stores (SQLite) and manifests."""

from __future__ import annotations

import datetime
from typing import Any

from pluggably.core.models import (
    GpuRequirement,
    HardwareRequirements,
    Modality,
    ModelCapabilities,
    ModelFormat,
    ModelInfo,
    ModelSource,
    ModelState,
    Runtime,
)


def _time(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_time(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def model_to_json(model: ModelInfo) -> dict[str, Any]:
    return {
        "id": model.id,
        "modality": model.modality.value if model.modality else None,
        "path": model.path,
        "runtimes": [r.value for r in model.runtimes],
        "formats": [f.value for f in model.formats],
        "capabilities": {
            "context_length": model.capabilities.context_length,
            "chat": model.capabilities.chat,
            "output_formats": list(model.capabilities.output_formats),
            "image_sizes": list(model.capabilities.image_sizes),
        },
        "display_name": model.display_name,
        "aliases": list(model.aliases),
        "provider": model.provider,
        "source": model.source.to_json() if model.source else None,
        "revision": model.revision,
        "size_bytes": model.size_bytes,
        "hardware": {
            "memory_bytes": model.hardware.memory_bytes,
            "gpu": model.hardware.gpu.value,
            "gpu_memory_bytes": model.hardware.gpu_memory_bytes,
        },
        "state": model.state.value,
        "state_reason": model.state_reason,
        "pinned": model.pinned,
        "labels": dict(model.labels),
        "create_time": _time(model.create_time),
        "update_time": _time(model.update_time),
        "last_use_time": _time(model.last_use_time),
    }


def model_from_json(value: dict[str, Any]) -> ModelInfo:
    capabilities = value["capabilities"]
    hardware = value["hardware"]
    return ModelInfo(
        id=value["id"],
        modality=Modality(value["modality"]) if value["modality"] else None,
        path=value["path"],
        runtimes=tuple(Runtime(r) for r in value["runtimes"]),
        formats=tuple(ModelFormat(f) for f in value["formats"]),
        capabilities=ModelCapabilities(
            context_length=capabilities["context_length"],
            chat=capabilities["chat"],
            output_formats=tuple(capabilities["output_formats"]),
            image_sizes=tuple(capabilities["image_sizes"]),
        ),
        display_name=value["display_name"],
        aliases=tuple(value["aliases"]),
        provider=value["provider"],
        source=ModelSource.from_json(value["source"]) if value["source"] else None,
        revision=value["revision"],
        size_bytes=value["size_bytes"],
        hardware=HardwareRequirements(
            memory_bytes=hardware["memory_bytes"],
            gpu=GpuRequirement(hardware["gpu"]),
            gpu_memory_bytes=hardware["gpu_memory_bytes"],
        ),
        state=ModelState(value["state"]),
        state_reason=value["state_reason"],
        pinned=value["pinned"],
        labels=dict(value["labels"]),
        create_time=_parse_time(value["create_time"]),
        update_time=_parse_time(value["update_time"]),
        last_use_time=_parse_time(value["last_use_time"]),
    )
