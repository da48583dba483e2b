"""Builds catalog entries directly, for tests of the catalog, router and filters."""

from __future__ import annotations

from typing import Any

from pluggably.core.models import Modality, ModelCapabilities, ModelFormat, ModelInfo, Runtime


def model_info(model_id: str, **overrides: Any) -> ModelInfo:
    values: dict[str, Any] = {
        "id": model_id,
        "modality": Modality.TEXT,
        "path": f"/models/{model_id}",
        "runtimes": (Runtime.ONNX, Runtime.TORCH),
        "formats": (ModelFormat.ONNX, ModelFormat.SAFETENSORS),
        "capabilities": ModelCapabilities(context_length=2048, chat=True),
    }
    values.update(overrides)
    return ModelInfo(**values)
