"""Finds models in the models directory and describes them (SYS-REQ-018).

A model is a folder directly under the models directory. What it can do is read
from its files, never guessed from its name:
- `config.json` with a causal-LM architecture (`*ForCausalLM`, `*LMHeadModel`,
  the transformers naming): a text model. Its
  safetensors weights give the torch runtime; `onnx/*.onnx` gives ONNX.
- `pluggably.json` (written by `pluggably prepare-model`): display name,
  aliases, source and revision.
Folders whose names start with `.` (staging areas) are skipped.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pluggably.core.catalog import MODEL_ID_PATTERN
from pluggably.core.models import (
    HardwareRequirements,
    Modality,
    ModelCapabilities,
    ModelFormat,
    ModelInfo,
    ModelSource,
    Runtime,
)

log = logging.getLogger(__name__)

MANIFEST_FILE = "pluggably.json"
ONNX_SUBDIR = "onnx"
CAUSAL_LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")


@dataclass(frozen=True)
class DiscoveryProblem:
    path: str
    reason: str


@dataclass(frozen=True)
class DiscoveryResult:
    models: tuple[ModelInfo, ...]
    problems: tuple[DiscoveryProblem, ...]


def _read_json(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text())
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} does not hold a JSON object")
    return value


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _context_length(config: dict[str, Any]) -> int:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = config.get(key)
        if isinstance(value, int) and value > 0:
            return value
    raise ValueError("config.json gives no context length (max_position_embeddings)")


def describe_text_model(folder: Path) -> ModelInfo:
    """Reads a transformers causal-LM folder. Raises ValueError if it is not one."""
    config = _read_json(folder / "config.json")
    architectures = config.get("architectures") or []
    if not any(str(a).endswith(CAUSAL_LM_SUFFIXES) for a in architectures):
        raise ValueError(f"config.json architectures {architectures} are not a causal language model")
    manifest = _read_json(folder / MANIFEST_FILE) if (folder / MANIFEST_FILE).exists() else {}

    runtimes: list[Runtime] = []
    formats: list[ModelFormat] = []
    onnx_dir = folder / ONNX_SUBDIR
    if any(onnx_dir.glob("*.onnx")) and (onnx_dir / "config.json").exists():
        runtimes.append(Runtime.ONNX)
        formats.append(ModelFormat.ONNX)
    if any(folder.glob("*.safetensors")):
        runtimes.append(Runtime.TORCH)
        formats.append(ModelFormat.SAFETENSORS)
    if not runtimes:
        raise ValueError("no weights found (*.safetensors, or onnx/*.onnx with onnx/config.json)")

    tokenizer_config = folder / "tokenizer_config.json"
    chat = (folder / "chat_template.jinja").exists() or (
        tokenizer_config.exists() and bool(_read_json(tokenizer_config).get("chat_template"))
    )
    weights_bytes = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    mtime = datetime.datetime.fromtimestamp((folder / "config.json").stat().st_mtime, datetime.UTC)
    return ModelInfo(
        id=folder.name,
        modality=Modality.TEXT,
        path=str(folder),
        runtimes=tuple(runtimes),
        formats=tuple(formats),
        capabilities=ModelCapabilities(
            context_length=_context_length(config), chat=chat, output_formats=("text/plain",)
        ),
        display_name=str(manifest.get("display_name") or folder.name),
        aliases=tuple(str(a) for a in manifest.get("aliases", ())),
        source=ModelSource.from_json(manifest["source"]) if manifest.get("source") else None,
        revision=str(manifest.get("revision", "")),
        size_bytes=_folder_size(folder),
        # float32 weights loaded in memory, plus room for activations and cache.
        hardware=HardwareRequirements(memory_bytes=int(weights_bytes * 1.2)),
        create_time=mtime,
        update_time=mtime,
    )


def discover_models(models_dir: Path, hf_cache_dir: Path | None = None) -> DiscoveryResult:
    """Scans `models_dir`; a broken folder is reported, never fatal."""
    models: list[ModelInfo] = []
    problems: list[DiscoveryProblem] = []
    if not models_dir.is_dir():
        return DiscoveryResult((), ())

    def report(path: str, reason: str) -> None:
        log.warning("model folder problem", extra={"path": path, "reason": reason})
        problems.append(DiscoveryProblem(path=path, reason=reason))

    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not (folder / "config.json").exists():
            continue  # not a model folder
        if not MODEL_ID_PATTERN.match(folder.name):
            report(folder.name, f"the folder name is not a valid model id ({MODEL_ID_PATTERN.pattern})")
            continue
        try:
            models.append(describe_text_model(folder))
        except (OSError, ValueError) as err:
            report(folder.name, str(err))
    return DiscoveryResult(tuple(_without_conflicting_aliases(models, report)), tuple(problems))


def _without_conflicting_aliases(models: list[ModelInfo], report: Callable[[str, str], None]) -> list[ModelInfo]:
    """Drops aliases that name another model's id or an alias already taken (first folder wins)."""
    ids = {m.id for m in models}
    taken: dict[str, str] = {}
    result = []
    for model in models:
        kept = []
        for alias in model.aliases:
            owner = alias if alias in ids else taken.get(alias)
            if owner is not None and owner != model.id:
                report(model.id, f"alias {alias!r} ignored: it already names {owner!r}")
            elif alias not in kept:
                kept.append(alias)
                taken[alias] = model.id
        result.append(replace(model, aliases=tuple(kept)))
    return result
