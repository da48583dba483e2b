"""Diffusers pipelines (layout 3 of the package): text-to-image and Shap-E folders with `model_index.json`.

The pipeline class gives the modality (`pipeline_modality`), the components'
weights the runtimes and memory, and the denoiser and VAE configs the image
size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pluggably.core.models import (
    GpuRequirement,
    HardwareRequirements,
    Modality,
    ModelCapabilities,
    ModelFormat,
    Runtime,
)
from pluggably.core.models.discovery.entries import (
    CONFIG_FILE,
    ModelFolderError,
    UnsupportedModelError,
    _Description,
    _list,
    _Listing,
    _memory,
    _read_json,
)

PIPELINE_INDEX_FILE = "model_index.json"
IMAGE_OUTPUT_FORMATS = ("image/png", "image/jpeg", "image/webp")
# GLB, OBJ and PLY (MeshFormat); PLY has no registered media type.
MESH_OUTPUT_FORMATS = ("model/gltf-binary", "model/obj", "model/x-ply")

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
_SHARD = re.compile(r"-\d{5}-of-\d{5}")


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
