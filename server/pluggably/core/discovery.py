"""Finds models on disk and describes them from their own files (SYS-REQ-018, DATA-REQ-005/006).

What a model is and what it can do is read from its files' metadata (small
JSON files and the GGUF header), never guessed from its name, and weights are
never loaded: a scan reads a few kilobytes per folder (for GGUF, the
header: the first megabytes of the file).

A model is an entry directly under the models directory:

1. transformers causal LM: a folder with `config.json` naming a causal-LM
   architecture (`*ForCausalLM`, `*LMHeadModel`). Text; `*.safetensors`
   (format SAFETENSORS) or `pytorch_model*.bin` (PYTORCH) give the torch
   runtime; an ONNX export (`onnx_text_export`) gives ONNX, preferred first.
2. ONNX export of such a model, either in `onnx/` beside its own
   `onnx/config.json` (what `pluggably prepare-model` writes), or at the top
   of the folder beside `config.json` (optimum's export layout: `model.onnx`,
   maybe with `model.onnx_data`).
3. diffusers pipeline: a folder with `model_index.json` whose `_class_name`
   names a text-to-image pipeline family (Stable Diffusion, SDXL, SD3, Flux,
   PixArt, Sana, ...): IMAGE; Shap-E: MESH. Formats DIFFUSERS plus the
   components' weight formats; torch runtime when every component (a
   subfolder with `config.json`) has torch weights, ONNX when every one has
   `model.onnx` (optimum's and diffusers' ONNX exports). Image sizes are the
   denoiser's `sample_size` times the VAE scale factor
   `2 ** (len(block_out_channels) - 1)`; GPU recommended.
4. GGUF: a folder holding `*.gguf` (the first file by name, all parts of a
   split file), or a bare `name.gguf` file (id: its stem, lowercased).
   Text; context length and chat template from the header. No installed
   runtime runs GGUF, so its runtimes are empty.
5. `pluggably.json` (written by `pluggably prepare-model`), optional in any
   folder: display name, aliases, source and revision.

And, when a Hugging Face cache is given, each `models--{org}--{name}` repo
there: the snapshot `refs/main` points to (else the newest) is described by
the same rules. Its id is the repo name lowercased; a models-directory entry
with the same id wins and the cached one is reported.

What looks like a model (it has `config.json`, `model_index.json` or a
`.gguf` file) but cannot be read or served (invalid JSON, no weights, an
unknown architecture) is reported in `problems` and still listed, FAILED with
the reason, so the catalog says why. In the Hugging Face cache, which other
tools share, repos of kinds the gateway does not serve (encoders, audio
pipelines) are only reported. Entries that are not models are ignored
silently; names starting with `.` (staging areas, partial downloads) are
skipped.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from pluggably.core.catalog import MODEL_ID_PATTERN
from pluggably.core.gguf_header import read_gguf_header
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
    SourceKind,
)

log = logging.getLogger(__name__)

MANIFEST_FILE = "pluggably.json"
CONFIG_FILE = "config.json"
PIPELINE_INDEX_FILE = "model_index.json"
ONNX_SUBDIR = "onnx"
GGUF_SUFFIX = ".gguf"
CAUSAL_LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")

TEXT_OUTPUT_FORMATS = ("text/plain",)
IMAGE_OUTPUT_FORMATS = ("image/png", "image/jpeg", "image/webp")
# GLB, OBJ and PLY (MeshFormat); PLY has no registered media type.
MESH_OUTPUT_FORMATS = ("model/gltf-binary", "model/obj", "model/x-ply")

# Weights in memory plus room for activations and caches.
RUNTIME_OVERHEAD = 1.2
# The torch text runner loads float32: half-precision checkpoints double.
_FLOAT32_FACTOR = {"float16": 2, "bfloat16": 2, "float32": 1}

# The ONNX file a text export is loaded from, in order of preference.
_PREFERRED_ONNX_FILES = ("model.onnx", "decoder_model_merged.onnx")

# Pipeline classes (after an `Onnx`, `ORT` or `Flax` prefix) that generate images or meshes.
MESH_PIPELINES = frozenset({"ShapEPipeline", "ShapEImg2ImgPipeline"})
IMAGE_PIPELINE_PREFIXES = (
    "StableDiffusion",  # also XL, 3, img2img, inpaint, upscale, ControlNet
    "LatentConsistencyModel",
    "Flux",
    "PixArt",
    "Sana",
    "AuraFlow",
    "Lumina",
    "HunyuanDiT",
    "Kolors",
    "CogView",
    "Kandinsky",
    "Wuerstchen",
    "StableCascade",
    "IF",
    "QwenImage",
    "Chroma",
    "HiDreamImage",
    "DiT",
    "DDPM",
    "DDIM",
    "LDM",
    "Amused",
    "PaintByExample",
    "UnCLIP",
    "Consistency",
)
# Priors make embeddings, not images; the rest make video.
_NOT_IMAGE_MARKERS = ("Prior", "Video", "T2V", "I2V", "Kandinsky5")
_PIPELINE_PREFIXES = ("Onnx", "ORT", "Flax")
_DENOISERS = ("unet", "transformer")
_VAES = ("vae", "vae_decoder", "movq")

# GGUF architectures that encode (embeddings) rather than generate text.
GGUF_ENCODER_ARCHITECTURES = frozenset(
    {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "modern-bert", "neo-bert", "t5encoder", "clip"}
)
_GGUF_SPLIT = re.compile(r"^(?P<base>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")
_SHARD = re.compile(r"-\d{5}-of-\d{5}")

HF_REPO_PREFIX = "models--"


@dataclass(frozen=True)
class DiscoveryProblem:
    path: str
    reason: str


@dataclass(frozen=True)
class DiscoveryResult:
    models: tuple[ModelInfo, ...]
    problems: tuple[DiscoveryProblem, ...]


class ModelFolderError(ValueError):
    """Looks like a model but cannot be served; the message is the reason shown."""

    def __init__(self, reason: str, modality: Modality | None = None) -> None:
        super().__init__(reason)
        self.modality = modality


class UnsupportedModelError(ModelFolderError):
    """A readable model of a kind the gateway does not serve (an encoder, a video pipeline)."""


# --- reading the folder -----------------------------------------------------


@dataclass(frozen=True)
class _Listing:
    """One `os.scandir` of a folder: its files and subfolders by name (symlinks followed)."""

    folder: Path
    files: dict[str, os.DirEntry[str]]
    dirs: dict[str, os.DirEntry[str]]

    def size(self, name: str) -> int:
        return self.files[name].stat().st_size

    def mtime(self, name: str) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.files[name].stat().st_mtime, datetime.UTC)


def _list(folder: Path) -> _Listing:
    files: dict[str, os.DirEntry[str]] = {}
    dirs: dict[str, os.DirEntry[str]] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    dirs[entry.name] = entry
                elif entry.is_file():
                    files[entry.name] = entry
            except OSError:
                continue  # vanished or unreadable: not part of the model
    return _Listing(folder, files, dirs)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_bytes())
    except json.JSONDecodeError as err:
        raise ModelFolderError(f"{path.name} is not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise ModelFolderError(f"{path.name} does not hold a JSON object")
    return value


def _tree_size(path: Path) -> int:
    """Bytes on disk under `path`, following symlinks once (a file reached twice counts once)."""
    try:
        root = path.stat()
    except OSError:
        return 0
    if not stat.S_ISDIR(root.st_mode):
        return root.st_size
    seen = {(root.st_dev, root.st_ino)}
    total, pending = 0, [path]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat()
                except OSError:
                    continue  # a dangling link
                key = (info.st_dev, info.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                if stat.S_ISDIR(info.st_mode):
                    pending.append(Path(entry.path))
                elif stat.S_ISREG(info.st_mode):
                    total += info.st_size
    return total


def _mtime(path: Path) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
    except OSError:
        return None


def _memory(weights_bytes: float) -> int:
    return int(weights_bytes * RUNTIME_OVERHEAD)


@dataclass(frozen=True)
class _Description:
    """What a model's files say, before the manifest and where it came from are added."""

    modality: Modality
    runtimes: tuple[Runtime, ...]
    formats: tuple[ModelFormat, ...]
    capabilities: ModelCapabilities
    hardware: HardwareRequirements
    time: datetime.datetime | None


# --- transformers causal LMs and their ONNX exports -------------------------


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


# --- diffusers pipelines ----------------------------------------------------


def pipeline_modality(class_name: str) -> Modality:
    """What a diffusers pipeline class generates; UnsupportedModelError if not images or meshes."""
    base = class_name
    for prefix in _PIPELINE_PREFIXES:
        if base.startswith(prefix) and base[len(prefix) : len(prefix) + 1].isupper():
            base = base[len(prefix) :]
            break
    if base in MESH_PIPELINES:
        return Modality.MESH
    if base.startswith(IMAGE_PIPELINE_PREFIXES) and not any(m in base for m in _NOT_IMAGE_MARKERS):
        return Modality.IMAGE
    raise UnsupportedModelError(f"pipeline {class_name} is not a known text-to-image or 3D pipeline")


@dataclass
class _ComponentWeights:
    torch_bytes: int = 0
    onnx_bytes: int = 0
    formats: set[ModelFormat] = field(default_factory=set)

    @property
    def has_torch(self) -> bool:
        return bool({ModelFormat.SAFETENSORS, ModelFormat.PYTORCH} & self.formats)

    @property
    def has_onnx(self) -> bool:
        return ModelFormat.ONNX in self.formats


def _variant(name: str, suffix: str) -> str:
    """`fp16` for `diffusion_pytorch_model.fp16.safetensors` (shards too), `` for no variant."""
    stem = _SHARD.sub("", name[: -len(suffix)])
    return stem.split(".", 1)[1] if "." in stem else ""


def _component_weights(listing: _Listing) -> _ComponentWeights:
    """The weights of one pipeline component: the variant torch would load, and any ONNX model."""
    weights = _ComponentWeights()
    groups: dict[tuple[int, str], int] = {}  # (preference, variant) -> bytes
    for name in listing.files:
        if name.endswith(".safetensors"):
            weights.formats.add(ModelFormat.SAFETENSORS)
            key = (0, _variant(name, ".safetensors"))
        elif name.endswith(".bin") and name.startswith(("diffusion_pytorch_model", "pytorch_model")):
            weights.formats.add(ModelFormat.PYTORCH)
            key = (1, _variant(name, ".bin"))
        else:
            if name.endswith(".onnx"):
                weights.formats.add(ModelFormat.ONNX)
            if ".onnx" in name:
                weights.onnx_bytes += listing.size(name)
            continue
        groups[key] = groups.get(key, 0) + listing.size(name)
    if groups:
        # Without a variant first (what diffusers loads by default), safetensors before bin.
        weights.torch_bytes = groups[min(groups, key=lambda k: (k[1] != "", k[0], k[1]))]
    return weights


def _image_sizes(components: dict[str, _Listing], index: dict[str, Any]) -> tuple[str, ...]:
    denoiser = next((components[n] for n in _DENOISERS if n in components), None)
    if denoiser is None:
        return ()
    sample = _read_json(denoiser.folder / CONFIG_FILE).get("sample_size")
    vae = next((components[n] for n in _VAES if n in components), None)
    if vae is not None:
        vae_config = _read_json(vae.folder / CONFIG_FILE)
        channels = next(
            (
                vae_config[key]
                for key in ("block_out_channels", "encoder_block_out_channels", "decoder_block_out_channels")
                if isinstance(vae_config.get(key), list) and vae_config[key]
            ),
            None,
        )
        if channels is None:
            return ()
        scale = 2 ** (len(channels) - 1)
    elif any(_is_component(index.get(n)) for n in _VAES):
        return ()  # a VAE is named but its config is not there
    else:
        scale = 1  # a pixel-space pipeline
    if isinstance(sample, int) and sample > 0:
        height = width = sample
    elif isinstance(sample, list) and len(sample) == 2 and all(isinstance(s, int) and s > 0 for s in sample):
        height, width = sample
    else:
        return ()
    return (f"{width * scale}x{height * scale}",)


def _is_component(value: object) -> bool:
    """`["diffusers", "UNet2DConditionModel"]` in model_index.json; `[null, null]` is an absent one."""
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)


def _describe_pipeline(listing: _Listing) -> _Description:
    index = _read_json(listing.folder / PIPELINE_INDEX_FILE)
    class_name = index.get("_class_name")
    if not isinstance(class_name, str) or not class_name:
        raise ModelFolderError("model_index.json gives no pipeline _class_name")
    modality = pipeline_modality(class_name)

    # The components that carry weights are the subfolders with a config.json
    # (schedulers, tokenizers and feature extractors have other file names).
    components: dict[str, _Listing] = {}
    for name in sorted(listing.dirs):
        sub = _list(listing.folder / name)
        if CONFIG_FILE in sub.files:
            components[name] = sub
    if not components:
        raise ModelFolderError("no pipeline components (subfolders with config.json and weights)", modality)
    weights = {name: _component_weights(sub) for name, sub in components.items()}
    any_onnx = any(w.has_onnx for w in weights.values())
    if not any_onnx:
        absent = sorted(n for n, v in index.items() if _is_component(v) and n not in listing.dirs)
        if absent:
            raise ModelFolderError(
                f"model_index.json names components that are not here: {', '.join(absent)}", modality
            )
    runtimes: list[Runtime] = []
    if all(w.has_torch for w in weights.values()):
        runtimes.append(Runtime.TORCH)
    if all(w.has_onnx for w in weights.values()):
        runtimes.append(Runtime.ONNX)
    if not runtimes:
        lacking = [n for n, w in weights.items() if not (w.has_onnx if any_onnx else w.has_torch)]
        kind = "ONNX" if any_onnx else "torch (safetensors or bin)"
        raise ModelFolderError(f"components without {kind} weights: {', '.join(lacking)}", modality)

    formats = [ModelFormat.DIFFUSERS]
    present = set().union(*(w.formats for w in weights.values()))
    formats += [f for f in (ModelFormat.SAFETENSORS, ModelFormat.PYTORCH, ModelFormat.ONNX) if f in present]
    torch_bytes = sum(w.torch_bytes for w in weights.values()) if Runtime.TORCH in runtimes else 0
    onnx_bytes = sum(w.onnx_bytes for w in weights.values()) if Runtime.ONNX in runtimes else 0
    memory = _memory(max(torch_bytes, onnx_bytes))
    image = modality is Modality.IMAGE
    return _Description(
        modality=modality,
        runtimes=tuple(runtimes),
        formats=tuple(formats),
        capabilities=ModelCapabilities(
            output_formats=IMAGE_OUTPUT_FORMATS if image else MESH_OUTPUT_FORMATS,
            image_sizes=_image_sizes(components, index) if image else (),
        ),
        hardware=HardwareRequirements(memory_bytes=memory, gpu=GpuRequirement.RECOMMENDED, gpu_memory_bytes=memory),
        time=listing.mtime(PIPELINE_INDEX_FILE),
    )


# --- GGUF -------------------------------------------------------------------


def _gguf_parts(names: Iterable[str]) -> list[list[str]]:
    """GGUF models among file names, each the list of its parts (one unless split `-00001-of-00003`)."""
    singles: list[list[str]] = []
    splits: dict[tuple[str, str], list[str]] = {}
    for name in sorted(names):
        if not name.endswith(GGUF_SUFFIX) or name.startswith(".") or "mmproj" in name.lower():
            continue
        match = _GGUF_SPLIT.match(name)
        if match:
            splits.setdefault((match["base"], match["count"]), []).append(name)
        else:
            singles.append([name])
    return sorted([*singles, *splits.values()])


def gguf_file(model_path: Path) -> Path:
    """The GGUF file a model is loaded from: the file itself, or the first model file in its folder."""
    if model_path.is_file():
        return model_path
    models = _gguf_parts(_list(model_path).files)
    if not models:
        raise FileNotFoundError(f"{model_path} holds no .gguf file")
    return model_path / models[0][0]


def _describe_gguf(folder: Path, parts: list[str], sizes: list[int], time: datetime.datetime | None) -> _Description:
    first = parts[0]
    match = _GGUF_SPLIT.match(first)
    if match and len(parts) != int(match["count"]):
        raise ModelFolderError(f"{first} is split in {int(match['count'])} parts; {len(parts)} are here", Modality.TEXT)
    try:
        header = read_gguf_header(folder / first)
    except (OSError, ValueError) as err:
        raise ModelFolderError(f"{first}: the GGUF header cannot be read: {err}") from err
    if header.file_type not in ("", "model"):
        raise UnsupportedModelError(f"{first} is a GGUF {header.file_type}, not a model")
    if not header.architecture:
        raise ModelFolderError(f"{first} gives no general.architecture")
    if header.architecture in GGUF_ENCODER_ARCHITECTURES:
        raise UnsupportedModelError(f"{first} is a {header.architecture} encoder, not a text generator")
    if not header.context_length:
        raise ModelFolderError(f"{first} gives no {header.architecture}.context_length", Modality.TEXT)
    return _Description(
        modality=Modality.TEXT,
        runtimes=(),
        formats=(ModelFormat.GGUF,),
        capabilities=ModelCapabilities(
            context_length=header.context_length, chat=header.chat_template, output_formats=TEXT_OUTPUT_FORMATS
        ),
        hardware=HardwareRequirements(memory_bytes=_memory(sum(sizes))),
        time=time,
    )


def _describe_gguf_folder(listing: _Listing) -> _Description:
    models = _gguf_parts(listing.files)
    if not models:
        raise ModelFolderError("no .gguf model file (only projector files)", Modality.TEXT)
    parts = models[0]
    return _describe_gguf(listing.folder, parts, [listing.size(n) for n in parts], listing.mtime(parts[0]))


# --- one model --------------------------------------------------------------


def _kind(listing: _Listing) -> Callable[[_Listing], _Description] | None:
    """How to read a folder, or None when it is not a model."""
    has_gguf = any(n.endswith(GGUF_SUFFIX) for n in listing.files)
    if PIPELINE_INDEX_FILE in listing.files:
        return _describe_pipeline
    if CONFIG_FILE in listing.files:
        safetensors, bins = _text_weights(listing)
        if has_gguf and not (safetensors or bins or _onnx_export(listing)):
            return _describe_gguf_folder
        return _describe_transformers
    return _describe_gguf_folder if has_gguf else None


@dataclass(frozen=True)
class _Origin:
    """Where a model was found, and what that says about it before its files are read."""

    model_id: str
    path: Path
    label: str  # the path a problem names
    display_name: str
    source: ModelSource | None = None
    revision: str = ""


def _manifest(listing: _Listing) -> Path | None:
    return listing.folder / MANIFEST_FILE if MANIFEST_FILE in listing.files else None


def _apply_manifest(model: ModelInfo, manifest_path: Path | None) -> ModelInfo:
    """Display name, aliases, source and revision from `pluggably.json`, over what the origin gave."""
    if manifest_path is None:
        return model
    try:
        manifest = _read_json(manifest_path)
        aliases = manifest.get("aliases", [])
        if not isinstance(aliases, list):
            raise ValueError(f"aliases is {aliases!r}, not a list")
        source = ModelSource.from_json(manifest["source"]) if manifest.get("source") else model.source
    except (KeyError, TypeError, ValueError) as err:
        reason = str(err) if isinstance(err, ModelFolderError) else f"{MANIFEST_FILE}: {err!s}"
        raise ModelFolderError(reason, model.modality) from err
    return replace(
        model,
        display_name=str(manifest.get("display_name") or model.display_name),
        aliases=tuple(str(a) for a in aliases),
        source=source,
        revision=str(manifest.get("revision") or model.revision),
    )


def _failed_entry(origin: _Origin, reason: str, modality: Modality | None = None) -> ModelInfo:
    time = _mtime(origin.path)
    return ModelInfo(
        id=origin.model_id,
        modality=modality,
        path=str(origin.path),
        runtimes=(),
        formats=(),
        capabilities=ModelCapabilities(),
        display_name=origin.display_name,
        source=origin.source,
        revision=origin.revision,
        size_bytes=_tree_size(origin.path),
        state=ModelState.FAILED,
        state_reason=reason,
        create_time=time,
        update_time=time,
    )


def _entry(origin: _Origin, describe: Callable[[], _Description], manifest_path: Path | None) -> tuple[ModelInfo, bool]:
    """A READY entry, or FAILED with the reason; and whether it failed as a kind the gateway does not serve."""
    try:
        description = describe()
        model = ModelInfo(
            id=origin.model_id,
            modality=description.modality,
            path=str(origin.path),
            runtimes=description.runtimes,
            formats=description.formats,
            capabilities=description.capabilities,
            display_name=origin.display_name,
            source=origin.source,
            revision=origin.revision,
            size_bytes=_tree_size(origin.path),
            hardware=description.hardware,
            create_time=description.time,
            update_time=description.time,
        )
        return _apply_manifest(model, manifest_path), False
    except ModelFolderError as err:
        return _failed_entry(origin, str(err), err.modality), isinstance(err, UnsupportedModelError)
    except (OSError, ValueError) as err:
        return _failed_entry(origin, str(err)), False


def describe_model(path: Path, model_id: str | None = None) -> ModelInfo:
    """Describes one model folder or GGUF file: READY, or FAILED with the reason.

    Raises ValueError when `path` is not a model at all, or `model_id` is not a valid id.
    """
    is_file = path.is_file()
    model_id = model_id or (path.name.removesuffix(GGUF_SUFFIX).lower() if is_file else path.name)
    if not MODEL_ID_PATTERN.match(model_id):
        raise ValueError(f"{model_id!r} is not a valid model id ({MODEL_ID_PATTERN.pattern})")
    origin = _Origin(model_id, path, path.name, path.name.removesuffix(GGUF_SUFFIX) if is_file else path.name)
    if is_file:
        if not path.name.endswith(GGUF_SUFFIX):
            raise ValueError(f"{path} is not a model")
        describe = partial(_describe_gguf, path.parent, [path.name], [_tree_size(path)], _mtime(path))
        manifest = None
    else:
        listing = _list(path)
        kind = _kind(listing)
        if kind is None:
            raise ValueError(f"{path} is not a model folder")
        describe, manifest = partial(kind, listing), _manifest(listing)
    return _entry(origin, describe, manifest)[0]


def describe_text_model(folder: Path) -> ModelInfo:
    """A READY text model from a folder, or ValueError with the reason."""
    model = describe_model(folder)
    if model.state is not ModelState.READY or model.modality is not Modality.TEXT:
        raise ValueError(model.state_reason or f"{folder.name} is not a text model")
    return model


# --- the scan ---------------------------------------------------------------


class _Scan:
    def __init__(self) -> None:
        self.models: list[ModelInfo] = []
        self.problems: list[DiscoveryProblem] = []
        self._owners: dict[str, str] = {}

    def report(self, path: str, reason: str) -> None:
        log.warning("model folder problem", extra={"path": path, "reason": reason})
        self.problems.append(DiscoveryProblem(path=path, reason=reason))

    def claim(self, model_id: str, label: str) -> bool:
        owner = self._owners.get(model_id)
        if owner is not None:
            self.report(label, f"model id {model_id!r} is already taken by {owner}; skipped")
            return False
        self._owners[model_id] = label
        return True

    def add(
        self, origin: _Origin, describe: Callable[[], _Description], manifest: Path | None, *, serve_unsupported: bool
    ) -> None:
        if not self.claim(origin.model_id, origin.label):
            return
        model, unsupported = _entry(origin, describe, manifest)
        if model.state is ModelState.FAILED:
            self.report(origin.label, model.state_reason)
        if serve_unsupported or not unsupported:
            self.models.append(model)
        else:
            del self._owners[origin.model_id]  # not listed: the id stays free


def _scan_models_dir(scan: _Scan, models_dir: Path) -> None:
    entries: list[tuple[bool, str, os.DirEntry[str]]] = []
    with os.scandir(models_dir) as scanned:
        for entry in scanned:
            try:
                if not entry.name.startswith(".") and (entry.is_dir() or entry.name.endswith(GGUF_SUFFIX)):
                    entries.append((not entry.is_dir(), entry.name, entry))
            except OSError:
                continue
    # Folders first, by name: a folder keeps its id against a bare file of the same name.
    for is_file, _, entry in sorted(entries, key=lambda e: e[:2]):
        path = Path(entry.path)
        if not is_file:
            try:
                listing = _list(path)
            except OSError as err:
                scan.report(entry.name, f"the folder cannot be listed: {err}")
                continue
            kind = _kind(listing)
            if kind is None:
                continue  # not a model
            if not MODEL_ID_PATTERN.match(entry.name):
                scan.report(entry.name, f"the folder name is not a valid model id ({MODEL_ID_PATTERN.pattern})")
                continue
            origin = _Origin(entry.name, path, entry.name, entry.name)
            scan.add(origin, partial(kind, listing), _manifest(listing), serve_unsupported=True)
        elif entry.is_file():
            _scan_bare_gguf(scan, models_dir, entry.name)


def _scan_bare_gguf(scan: _Scan, models_dir: Path, name: str) -> None:
    split = _GGUF_SPLIT.match(name)
    if split and int(split["index"]) != 1:
        return  # a later part of a split file: read with the first
    stem = split["base"] if split else name[: -len(GGUF_SUFFIX)]
    model_id = stem.lower()
    if not MODEL_ID_PATTERN.match(model_id):
        scan.report(name, f"the file name is not a valid model id ({MODEL_ID_PATTERN.pattern})")
        return
    if split:
        parts = [f"{split['base']}-{i:05d}-of-{split['count']}.gguf" for i in range(1, int(split["count"]) + 1)]
        parts = [p for p in parts if (models_dir / p).is_file()]
    else:
        parts = [name]
    path = models_dir / name

    def describe() -> _Description:
        return _describe_gguf(models_dir, parts, [(models_dir / p).stat().st_size for p in parts], _mtime(path))

    scan.add(_Origin(model_id, path, name, stem), describe, None, serve_unsupported=True)


def model_id_from_name(name: str) -> str:
    """A repo or file name as a model id: lowercased, other characters as `-`, at most 63; "" if none."""
    model_id = re.sub(r"[^a-z0-9._-]+", "-", name.lower())
    model_id = re.sub(r"^[^a-z0-9]+", "", model_id)[:63]
    return model_id if MODEL_ID_PATTERN.match(model_id) else ""


def _cache_snapshot(repo: Path) -> tuple[Path, str] | None:
    """The snapshot `refs/main` names (else the newest) and the ref naming it (else its commit)."""
    snapshots = repo / "snapshots"
    refs = repo / "refs"
    try:
        main = (refs / "main").read_text().strip()
    except OSError:
        main = ""
    if main and "/" not in main and not main.startswith(".") and (snapshots / main).is_dir():
        return snapshots / main, "main"
    try:
        with os.scandir(snapshots) as entries:
            candidates = [(e.stat().st_mtime, e.name) for e in entries if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return None
    if not candidates:
        return None
    commit = max(candidates)[1]
    ref_names = []
    for ref in sorted(refs.rglob("*")) if refs.is_dir() else ():
        try:
            if ref.is_file() and ref.read_text().strip() == commit:
                ref_names.append(ref.relative_to(refs).as_posix())
        except OSError:
            continue
    return snapshots / commit, ref_names[0] if ref_names else commit


def _scan_hf_cache(scan: _Scan, cache_dir: Path) -> None:
    with os.scandir(cache_dir) as scanned:
        repos = sorted((e for e in scanned if e.name.startswith(HF_REPO_PREFIX)), key=lambda e: e.name)
    for entry in repos:
        try:
            if not entry.is_dir():
                continue
            found = _cache_snapshot(Path(entry.path))
            if found is None:
                continue
            snapshot, ref = found
            listing = _list(snapshot)
        except OSError as err:
            scan.report(entry.name, f"the cached repo cannot be read: {err}")
            continue
        kind = _kind(listing)
        if kind is None:
            continue
        repo_id = entry.name.removeprefix(HF_REPO_PREFIX).replace("--", "/")
        model_id = model_id_from_name(repo_id.rsplit("/", 1)[-1])
        if not model_id:
            scan.report(entry.name, f"the repo name gives no valid model id ({MODEL_ID_PATTERN.pattern})")
            continue
        origin = _Origin(
            model_id,
            snapshot,
            entry.name,
            repo_id,
            source=ModelSource(SourceKind.HUGGING_FACE, repo_id, revision=ref),
            revision=snapshot.name,
        )
        scan.add(origin, partial(kind, listing), _manifest(listing), serve_unsupported=False)


def discover_models(models_dir: Path, hf_cache_dir: Path | None = None) -> DiscoveryResult:
    """Scans `models_dir`, then `hf_cache_dir` if given; a broken model is reported, never fatal."""
    scan = _Scan()
    for directory, scanner in ((models_dir, _scan_models_dir), (hf_cache_dir, _scan_hf_cache)):
        if directory is None or not directory.is_dir():
            continue
        try:
            scanner(scan, directory)
        except OSError as err:
            scan.report(str(directory), f"cannot be scanned: {err}")
    return DiscoveryResult(tuple(_without_conflicting_aliases(scan.models, scan.report)), tuple(scan.problems))


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
