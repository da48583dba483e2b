"""Transformers causal-LM folders and their ONNX exports (layouts 1 and 2 of the package).

`config.json` must name a causal-LM architecture; the weights present give
the runtimes: an ONNX export first, then torch. `onnx_text_export` is also
what the ONNX text runner loads from, so discovery and the runner agree on
the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pluggably.core.models import HardwareRequirements, Modality, ModelCapabilities, ModelFormat, Runtime
from pluggably.core.models.discovery.entries import (
    CONFIG_FILE,
    TEXT_OUTPUT_FORMATS,
    ModelFolderError,
    UnsupportedModelError,
    _Description,
    _list,
    _Listing,
    _memory,
    _read_json,
)
from pluggably.core.models.discovery.gguf import GGUF_SUFFIX

ONNX_SUBDIR = "onnx"
CAUSAL_LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")

# The torch text runner loads float32: half-precision checkpoints double.
_FLOAT32_FACTOR = {"float16": 2, "bfloat16": 2, "float32": 1}

# The ONNX file a text export is loaded from, in order of preference.
_PREFERRED_ONNX_FILES = ("model.onnx", "decoder_model_merged.onnx")


def _context_length(config: dict[str, Any]) -> int:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = config.get(key)
        if isinstance(value, int) and value > 0:
            return value
    raise ModelFolderError("config.json gives no context length (max_position_embeddings)", Modality.TEXT)


def _onnx_file(names: Iterable[str]) -> str | None:
    onnx = sorted(n for n in names if n.endswith(".onnx"))
    return next((n for n in _PREFERRED_ONNX_FILES if n in onnx), onnx[0] if onnx else None)


def _onnx_export(listing: _Listing) -> tuple[_Listing, str] | None:
    if ONNX_SUBDIR in listing.dirs:
        sub = _list(listing.folder / ONNX_SUBDIR)
        name = _onnx_file(sub.files)
        if name is not None and CONFIG_FILE in sub.files:
            return sub, name
    name = _onnx_file(listing.files)
    if name is not None and CONFIG_FILE in listing.files:
        return listing, name
    return None


def onnx_text_export(folder: Path) -> tuple[Path, str] | None:
    """Where a text model's ONNX export lies: (directory, file name), or None.

    `onnx/` when it holds a `.onnx` file and its own `config.json`, else the
    folder itself when `model.onnx` lies beside `config.json` (optimum's
    layout). The ONNX loader opens what this returns.
    """
    export = _onnx_export(_list(folder))
    return (export[0].folder, export[1]) if export else None


def _onnx_bytes(listing: _Listing, name: str) -> int:
    """The ONNX file and its external data (`model.onnx_data`, `model.onnx.data`)."""
    return sum(listing.size(n) for n in listing.files if n == name or n.startswith((f"{name}_data", f"{name}.data")))


def _has_chat_template(listing: _Listing) -> bool:
    if "chat_template.jinja" in listing.files:
        return True
    for name in ("tokenizer_config.json", "chat_template.json"):
        if name in listing.files and _read_json(listing.folder / name).get("chat_template"):
            return True
    return False


def _text_weights(listing: _Listing) -> tuple[list[str], list[str]]:
    safetensors = [n for n in listing.files if n.endswith(".safetensors")]
    bins = [n for n in listing.files if n.startswith("pytorch_model") and n.endswith(".bin")]
    return safetensors, bins


def _describe_transformers(listing: _Listing) -> _Description:
    config = _read_json(listing.folder / CONFIG_FILE)
    architectures = config.get("architectures") or []
    if not isinstance(architectures, list) or not any(str(a).endswith(CAUSAL_LM_SUFFIXES) for a in architectures):
        raise UnsupportedModelError(f"config.json architectures {architectures} are not a causal language model")

    runtimes: list[Runtime] = []
    formats: list[ModelFormat] = []
    onnx_bytes = torch_bytes = 0
    export = _onnx_export(listing)
    if export is not None:
        runtimes.append(Runtime.ONNX)
        formats.append(ModelFormat.ONNX)
        onnx_bytes = _onnx_bytes(*export)
    safetensors, bins = _text_weights(listing)
    if safetensors or bins:
        runtimes.append(Runtime.TORCH)
        if safetensors:
            formats.append(ModelFormat.SAFETENSORS)
        if bins:
            formats.append(ModelFormat.PYTORCH)
        dtype = str(config.get("torch_dtype") or config.get("dtype") or "float32")
        torch_bytes = sum(listing.size(n) for n in safetensors or bins) * _FLOAT32_FACTOR.get(dtype, 1)
    if not runtimes:
        raise ModelFolderError(
            "no weights found (*.safetensors, pytorch_model*.bin, or an ONNX export: "
            "onnx/*.onnx with onnx/config.json, or model.onnx beside config.json)",
            Modality.TEXT,
        )
    if any(n.endswith(GGUF_SUFFIX) for n in listing.files):
        formats.append(ModelFormat.GGUF)

    return _Description(
        modality=Modality.TEXT,
        runtimes=tuple(runtimes),
        formats=tuple(formats),
        capabilities=ModelCapabilities(
            context_length=_context_length(config),
            chat=_has_chat_template(listing),
            output_formats=TEXT_OUTPUT_FORMATS,
        ),
        hardware=HardwareRequirements(memory_bytes=_memory(max(torch_bytes, onnx_bytes))),
        time=listing.mtime(CONFIG_FILE),
    )
