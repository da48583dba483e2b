"""Discovery of every model layout: ONNX exports, PyTorch bins, diffusers pipelines, GGUF (SYS-REQ-018).

Each layout is built from small JSON files and empty or tiny weight files; the
GGUF files are real, written with `gguf.GGUFWriter`. Modality, formats,
runtimes and capabilities (DATA-REQ-006) come from the files' metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFEndian, GGUFWriter

from pluggably.core.models import (
    GpuRequirement,
    Modality,
    ModelFormat,
    ModelInfo,
    ModelState,
    Runtime,
)
from pluggably.core.models.discovery import (
    IMAGE_OUTPUT_FORMATS,
    MESH_OUTPUT_FORMATS,
    discover_models,
    gguf_file,
    onnx_text_export,
    pipeline_modality,
)
from pluggably.core.models.discovery.gguf_header import read_gguf_header

LLAMA_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "max_position_embeddings": 8192}


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def write_bytes(path: Path, size: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)


def by_id(models: tuple[ModelInfo, ...]) -> dict[str, ModelInfo]:
    return {m.id: m for m in models}


def only_model(root: Path) -> ModelInfo:
    result = discover_models(root)
    assert result.problems == ()
    (model,) = result.models
    return model


def failed(root: Path) -> dict[str, ModelInfo]:
    """The FAILED entries of a scan, each also reported as a problem with the same reason."""
    result = discover_models(root)
    problems = {p.path: p.reason for p in result.problems}
    entries = {m.id: m for m in result.models if m.state is ModelState.FAILED}
    for model in entries.values():
        assert model.state_reason
        assert problems[Path(model.path).name] == model.state_reason
        assert model.runtimes == ()
    return entries


# --- transformers: ONNX at the top level, PyTorch bins ----------------------


def test_onnx_export_at_the_top_of_the_folder_is_an_onnx_model_SYS_REQ_018(tmp_path: Path) -> None:
    folder = tmp_path / "optimum-export"
    write_json(folder / "config.json", LLAMA_CONFIG)
    write_bytes(folder / "model.onnx", 100)
    write_bytes(folder / "model.onnx_data", 5000)  # external weights
    write_json(folder / "tokenizer_config.json", {"chat_template": "{{ messages }}"})

    model = only_model(tmp_path)
    assert model.modality is Modality.TEXT
    assert model.runtimes == (Runtime.ONNX,)
    assert model.formats == (ModelFormat.ONNX,)
    assert model.capabilities.context_length == 8192
    assert model.capabilities.chat is True
    assert model.hardware.memory_bytes >= 5100  # the external data counts
    # The loader opens what discovery found: the folder itself.
    assert onnx_text_export(folder) == (folder, "model.onnx")


def test_onnx_subfolder_export_is_where_the_loader_looks_SYS_REQ_018(tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    write_json(folder / "config.json", LLAMA_CONFIG)
    write_json(folder / "onnx" / "config.json", LLAMA_CONFIG)
    write_bytes(folder / "onnx" / "model.onnx")
    assert onnx_text_export(folder) == (folder / "onnx", "model.onnx")
    assert onnx_text_export(tmp_path) is None


def test_the_merged_decoder_is_chosen_among_several_onnx_files_SYS_REQ_018(tmp_path: Path) -> None:
    write_json(tmp_path / "config.json", LLAMA_CONFIG)
    for name in ("decoder_model.onnx", "decoder_model_merged.onnx", "decoder_with_past_model.onnx"):
        write_bytes(tmp_path / name)
    assert onnx_text_export(tmp_path) == (tmp_path, "decoder_model_merged.onnx")


def test_pytorch_bin_weights_run_on_torch_SYS_REQ_018(tmp_path: Path) -> None:
    folder = tmp_path / "bin-model"
    write_json(folder / "config.json", LLAMA_CONFIG)
    write_bytes(folder / "pytorch_model-00001-of-00002.bin", 600)
    write_bytes(folder / "pytorch_model-00002-of-00002.bin", 400)
    write_bytes(folder / "training_args.bin", 10_000)  # not weights
    model = only_model(tmp_path)
    assert model.runtimes == (Runtime.TORCH,)
    assert model.formats == (ModelFormat.PYTORCH,)
    assert 1000 <= model.hardware.memory_bytes < 10_000


def test_half_precision_checkpoints_count_double_in_memory_DATA_REQ_006(tmp_path: Path) -> None:
    write_json(tmp_path / "f32" / "config.json", LLAMA_CONFIG)
    write_bytes(tmp_path / "f32" / "model.safetensors", 1000)
    write_json(tmp_path / "bf16" / "config.json", {**LLAMA_CONFIG, "torch_dtype": "bfloat16"})
    write_bytes(tmp_path / "bf16" / "model.safetensors", 1000)
    models = by_id(discover_models(tmp_path).models)
    # The torch runner loads float32.
    assert models["bf16"].hardware.memory_bytes == 2 * models["f32"].hardware.memory_bytes


def test_size_counts_every_file_of_the_folder_DATA_REQ_005(tmp_path: Path) -> None:
    folder = tmp_path / "sized"
    write_json(folder / "config.json", LLAMA_CONFIG)
    write_bytes(folder / "model.safetensors", 3000)
    write_bytes(folder / "tokenizer.json", 500)
    config_size = (folder / "config.json").stat().st_size
    assert only_model(tmp_path).size_bytes == 3500 + config_size


# --- diffusers pipelines ----------------------------------------------------


def sd_pipeline(
    folder: Path,
    class_name: str = "StableDiffusionPipeline",
    *,
    sample_size: Any = 64,
    vae_blocks: int = 4,
    denoiser: str = "unet",
    weights: str = "diffusion_pytorch_model.safetensors",
    weight_size: int = 100,
) -> Path:
    """A diffusers pipeline folder as `save_pretrained` writes it, with tiny weights."""
    write_json(
        folder / "model_index.json",
        {
            "_class_name": class_name,
            "_diffusers_version": "0.39.0",
            "scheduler": ["diffusers", "PNDMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            denoiser: ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
            "safety_checker": [None, None],
            "requires_safety_checker": False,
        },
    )
    write_json(folder / "scheduler" / "scheduler_config.json", {"_class_name": "PNDMScheduler"})
    write_json(folder / "tokenizer" / "tokenizer_config.json", {"model_max_length": 77})
    write_json(folder / "text_encoder" / "config.json", {"architectures": ["CLIPTextModel"]})
    write_bytes(folder / "text_encoder" / weights.replace("diffusion_pytorch_model", "model"), weight_size)
    unet_config: dict[str, Any] = {"_class_name": "UNet2DConditionModel"}
    if sample_size is not None:
        unet_config["sample_size"] = sample_size
    write_json(folder / denoiser / "config.json", unet_config)
    write_bytes(folder / denoiser / weights, weight_size)
    write_json(folder / "vae" / "config.json", {"block_out_channels": [32 * 2**i for i in range(vae_blocks)]})
    write_bytes(folder / "vae" / weights, weight_size)
    return folder


def test_stable_diffusion_pipeline_is_an_image_model_SYS_REQ_018(tmp_path: Path) -> None:
    sd_pipeline(tmp_path / "sd-tiny")
    model = only_model(tmp_path)
    assert model.id == "sd-tiny"
    assert model.modality is Modality.IMAGE
    assert model.state is ModelState.READY
    assert model.runtimes == (Runtime.TORCH,)
    assert model.formats == (ModelFormat.DIFFUSERS, ModelFormat.SAFETENSORS)
    assert model.capabilities.output_formats == IMAGE_OUTPUT_FORMATS
    assert "image/png" in model.capabilities.output_formats
    assert model.capabilities.context_length == 0
    assert model.hardware.gpu is GpuRequirement.RECOMMENDED
    assert model.hardware.memory_bytes >= 300  # three components of 100 bytes
    assert model.hardware.gpu_memory_bytes >= 300


@pytest.mark.parametrize(
    ("sample_size", "vae_blocks", "expected"),
    [
        (64, 4, ("512x512",)),  # SD 1.x/2.x: 64 latents, VAE scale 2**3
        (128, 4, ("1024x1024",)),  # SDXL, SD3
        (32, 2, ("64x64",)),  # a tiny test pipeline
        ([96, 64], 4, ("512x768",)),  # [height, width]
        (None, 4, ()),  # Flux's transformer config gives no sample size: unknown
    ],
)
def test_image_sizes_are_the_sample_size_times_the_vae_scale_DATA_REQ_006(
    tmp_path: Path, sample_size: Any, vae_blocks: int, expected: tuple[str, ...]
) -> None:
    sd_pipeline(tmp_path / "pipe", sample_size=sample_size, vae_blocks=vae_blocks)
    assert only_model(tmp_path).capabilities.image_sizes == expected


def test_transformer_pipelines_take_the_size_from_the_transformer_DATA_REQ_006(tmp_path: Path) -> None:
    sd_pipeline(tmp_path / "sd3", "StableDiffusion3Pipeline", denoiser="transformer", sample_size=128)
    sd_pipeline(tmp_path / "flux", "FluxPipeline", denoiser="transformer", sample_size=None)
    models = by_id(discover_models(tmp_path).models)
    assert models["sd3"].capabilities.image_sizes == ("1024x1024",)
    assert models["flux"].modality is Modality.IMAGE
    assert models["flux"].capabilities.image_sizes == ()


def test_pixel_space_pipeline_has_the_unet_size_DATA_REQ_006(tmp_path: Path) -> None:
    folder = tmp_path / "ddpm"
    write_json(folder / "model_index.json", {"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"]})
    write_json(folder / "unet" / "config.json", {"sample_size": 32})
    write_bytes(folder / "unet" / "diffusion_pytorch_model.safetensors")
    assert only_model(tmp_path).capabilities.image_sizes == ("32x32",)


def test_variants_are_counted_once_and_bins_are_pytorch_DATA_REQ_006(tmp_path: Path) -> None:
    folder = sd_pipeline(tmp_path / "variants", weight_size=1000)
    for component, stem in (("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model")):
        write_bytes(folder / component / f"{stem}.fp16.safetensors", 500)
    write_bytes(folder / "text_encoder" / "pytorch_model.bin", 1000)
    model = only_model(tmp_path)
    assert model.formats == (ModelFormat.DIFFUSERS, ModelFormat.SAFETENSORS, ModelFormat.PYTORCH)
    # What diffusers loads by default: the files without a variant, safetensors first.
    assert model.hardware.memory_bytes == int(3000 * 1.2)


def test_fp16_only_pipeline_counts_its_variant_DATA_REQ_006(tmp_path: Path) -> None:
    sd_pipeline(tmp_path / "fp16", weights="diffusion_pytorch_model.fp16.safetensors", weight_size=100)
    model = only_model(tmp_path)
    assert model.runtimes == (Runtime.TORCH,)
    assert model.hardware.memory_bytes == int(300 * 1.2)


def test_optimum_onnx_diffusers_export_runs_on_onnx_SYS_REQ_018(tmp_path: Path) -> None:
    folder = tmp_path / "sd-onnx"
    # optimum writes the original model_index.json ("vae" included) and splits the VAE.
    write_json(
        folder / "model_index.json",
        {
            "_class_name": "StableDiffusionPipeline",
            "scheduler": ["diffusers", "PNDMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        },
    )
    write_json(folder / "scheduler" / "scheduler_config.json", {})
    write_json(folder / "unet" / "config.json", {"sample_size": 64})
    write_bytes(folder / "unet" / "model.onnx", 10)
    write_bytes(folder / "unet" / "model.onnx_data", 1000)
    for component in ("text_encoder", "vae_encoder", "vae_decoder"):
        write_json(folder / component / "config.json", {"block_out_channels": [1, 2, 3, 4]})
        write_bytes(folder / component / "model.onnx", 10)
    model = only_model(tmp_path)
    assert model.modality is Modality.IMAGE
    assert model.runtimes == (Runtime.ONNX,)
    assert model.formats == (ModelFormat.DIFFUSERS, ModelFormat.ONNX)
    assert model.capabilities.image_sizes == ("512x512",)  # from vae_decoder's config
    assert model.hardware.memory_bytes >= 1040


def test_diffusers_onnx_pipeline_class_is_recognised_SYS_REQ_018() -> None:
    assert pipeline_modality("OnnxStableDiffusionPipeline") is Modality.IMAGE
    assert pipeline_modality("ORTStableDiffusionXLPipeline") is Modality.IMAGE
    assert pipeline_modality("StableDiffusionXLImg2ImgPipeline") is Modality.IMAGE
    assert pipeline_modality("FluxPipeline") is Modality.IMAGE
    assert pipeline_modality("ShapEImg2ImgPipeline") is Modality.MESH


def test_shap_e_pipeline_is_a_mesh_model_SYS_REQ_018(tmp_path: Path) -> None:
    folder = tmp_path / "shap-e"
    write_json(
        folder / "model_index.json",
        {
            "_class_name": "ShapEPipeline",
            "prior": ["diffusers", "PriorTransformer"],
            "scheduler": ["diffusers", "HeunDiscreteScheduler"],
            "shap_e_renderer": ["shap_e", "ShapERenderer"],
            "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
        },
    )
    write_json(folder / "scheduler" / "scheduler_config.json", {})
    write_json(folder / "tokenizer" / "tokenizer_config.json", {})
    for component, weights in (
        ("prior", "diffusion_pytorch_model.safetensors"),
        ("shap_e_renderer", "diffusion_pytorch_model.safetensors"),
        ("text_encoder", "model.safetensors"),
    ):
        write_json(folder / component / "config.json", {})
        write_bytes(folder / component / weights, 10)
    model = only_model(tmp_path)
    assert model.modality is Modality.MESH
    assert model.runtimes == (Runtime.TORCH,)
    assert model.capabilities.output_formats == MESH_OUTPUT_FORMATS
    assert "model/gltf-binary" in model.capabilities.output_formats
    assert model.capabilities.image_sizes == ()
    assert model.hardware.gpu is GpuRequirement.RECOMMENDED


def test_pipelines_that_are_not_image_or_mesh_are_failed_entries_SYS_REQ_018(tmp_path: Path) -> None:
    sd_pipeline(tmp_path / "video", "TextToVideoSDPipeline")
    sd_pipeline(tmp_path / "audio", "AudioLDM2Pipeline")
    sd_pipeline(tmp_path / "prior", "KandinskyV22PriorPipeline")
    entries = failed(tmp_path)
    assert set(entries) == {"video", "audio", "prior"}
    assert "TextToVideoSDPipeline" in entries["video"].state_reason
    assert all(m.modality is None for m in entries.values())


def test_incomplete_pipelines_are_failed_with_the_reason_SYS_REQ_018(tmp_path: Path) -> None:
    no_unet_weights = sd_pipeline(tmp_path / "no-unet-weights")
    (no_unet_weights / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    missing_vae = sd_pipeline(tmp_path / "missing-vae")
    for path in (missing_vae / "vae").iterdir():
        path.unlink()
    (missing_vae / "vae").rmdir()
    no_class = sd_pipeline(tmp_path / "no-class")
    write_json(no_class / "model_index.json", {"unet": ["diffusers", "UNet2DConditionModel"]})
    bad_json = tmp_path / "bad-index"
    bad_json.mkdir()
    (bad_json / "model_index.json").write_text("{")

    entries = failed(tmp_path)
    assert set(entries) == {"no-unet-weights", "missing-vae", "no-class", "bad-index"}
    assert "unet" in entries["no-unet-weights"].state_reason
    assert "weights" in entries["no-unet-weights"].state_reason
    assert entries["no-unet-weights"].modality is Modality.IMAGE  # the class said so
    assert "vae" in entries["missing-vae"].state_reason
    assert "_class_name" in entries["no-class"].state_reason
    assert entries["bad-index"].modality is None


# --- GGUF -------------------------------------------------------------------


def write_gguf(
    path: Path,
    arch: str = "llama",
    *,
    context_length: int | None = 2048,
    chat_template: str | None = "{{ messages }}",
    tensor_elements: int = 16,
    file_type: str | None = None,
    endianess: GGUFEndian = GGUFEndian.LITTLE,
) -> Path:
    """A real GGUF file: a few metadata keys, a small vocabulary and one tensor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, arch, endianess=endianess)
    writer.add_name("Tiny test model")
    if file_type is not None:
        writer.add_type(file_type)
    if context_length is not None:
        writer.add_context_length(context_length)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(300)])
    writer.add_token_types([1] * 300)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    writer.add_tensor("token_embd.weight", np.zeros(tensor_elements, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_header_gives_architecture_context_and_chat_DATA_REQ_006(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "tiny.gguf")
    header = read_gguf_header(path)
    assert header.architecture == "llama"
    assert header.context_length == 2048
    assert header.chat_template is True
    assert header.name == "Tiny test model"
    assert header.tensor_count == 1
    plain = read_gguf_header(write_gguf(tmp_path / "plain.gguf", chat_template=None))
    assert plain.chat_template is False


def test_big_endian_gguf_header_is_read_too_DATA_REQ_006(tmp_path: Path) -> None:
    header = read_gguf_header(write_gguf(tmp_path / "be.gguf", context_length=4096, endianess=GGUFEndian.BIG))
    assert (header.architecture, header.context_length, header.chat_template) == ("llama", 4096, True)


def test_gguf_header_read_stops_before_the_tensors_SYS_REQ_018(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "big.gguf", tensor_elements=2_000_000)  # 8 MB of tensor data
    header = read_gguf_header(path)
    assert header.context_length == 2048
    assert header.bytes_read < path.stat().st_size // 10


def test_gguf_folder_is_a_text_model_without_a_runtime_SYS_REQ_018(tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "tiny-gguf" / "Tiny-Q4_K_M.gguf")
    model = only_model(tmp_path)
    assert model.id == "tiny-gguf"
    assert model.modality is Modality.TEXT
    assert model.state is ModelState.READY
    assert model.formats == (ModelFormat.GGUF,)
    assert model.runtimes == ()  # no GGUF runtime installed: the router answers FEATURE_NOT_SUPPORTED
    assert model.capabilities.context_length == 2048
    assert model.capabilities.chat is True
    assert model.capabilities.output_formats == ("text/plain",)
    assert model.hardware.memory_bytes >= gguf.stat().st_size
    assert gguf_file(Path(model.path)) == gguf


def test_bare_gguf_file_is_a_model_named_by_its_stem_SYS_REQ_018(tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf")
    write_gguf(tmp_path / "Has Spaces.gguf")
    write_gguf(tmp_path / ".downloading.gguf")
    result = discover_models(tmp_path)
    (model,) = result.models
    assert model.id == "smollm2-135m-instruct.q4_1"
    assert model.display_name == "SmolLM2-135M-Instruct.Q4_1"
    assert Path(model.path) == gguf
    assert model.size_bytes == gguf.stat().st_size
    assert model.modality is Modality.TEXT
    assert gguf_file(gguf) == gguf
    assert [p.path for p in result.problems] == ["Has Spaces.gguf"]
    assert "valid model id" in result.problems[0].reason


def test_a_folder_keeps_its_id_against_a_bare_file_of_the_same_name_SYS_REQ_018(tmp_path: Path) -> None:
    write_gguf(tmp_path / "Tiny.gguf")
    write_gguf(tmp_path / "tiny" / "model.gguf")
    result = discover_models(tmp_path)
    (model,) = result.models
    assert Path(model.path) == tmp_path / "tiny"
    assert [(p.path, "already taken" in p.reason) for p in result.problems] == [("Tiny.gguf", True)]


def test_split_gguf_is_one_model_and_a_missing_part_fails_it_SYS_REQ_018(tmp_path: Path) -> None:
    for i in (1, 2):
        write_gguf(tmp_path / "split" / f"big-0000{i}-of-00002.gguf")
    write_gguf(tmp_path / "split-broken" / "big-00001-of-00003.gguf")
    write_gguf(tmp_path / "bare-00001-of-00002.gguf")
    write_gguf(tmp_path / "bare-00002-of-00002.gguf")
    result = discover_models(tmp_path)
    models = by_id(result.models)
    assert set(models) == {"split", "split-broken", "bare"}
    assert models["split"].state is ModelState.READY
    assert models["bare"].state is ModelState.READY
    assert models["bare"].hardware.memory_bytes >= 2 * (tmp_path / "bare-00002-of-00002.gguf").stat().st_size
    assert models["split-broken"].state is ModelState.FAILED
    assert "3 parts" in models["split-broken"].state_reason


def test_unreadable_gguf_files_are_failed_entries_SYS_REQ_018(tmp_path: Path) -> None:
    write_bytes(tmp_path / "garbage" / "model.gguf", 100)
    (tmp_path / "truncated").mkdir()
    (tmp_path / "truncated" / "model.gguf").write_bytes(write_gguf(tmp_path / "whole.gguf").read_bytes()[:40])
    (tmp_path / "whole.gguf").unlink()
    write_gguf(tmp_path / "no-context" / "model.gguf", context_length=None)
    write_gguf(tmp_path / "encoder" / "model.gguf", "bert", context_length=512)
    write_gguf(tmp_path / "adapter" / "lora.gguf", file_type="adapter")
    entries = failed(tmp_path)
    assert set(entries) == {"garbage", "truncated", "no-context", "encoder", "adapter"}
    assert "GGUF" in entries["garbage"].state_reason
    assert "truncated" in entries["truncated"].state_reason
    assert "context_length" in entries["no-context"].state_reason
    assert "encoder" in entries["encoder"].state_reason
    assert "adapter" in entries["adapter"].state_reason


def test_gguf_beside_a_config_without_weights_is_a_gguf_model_SYS_REQ_018(tmp_path: Path) -> None:
    write_json(tmp_path / "gguf-repo" / "config.json", LLAMA_CONFIG)
    write_gguf(tmp_path / "gguf-repo" / "model-q8_0.gguf")
    write_gguf(tmp_path / "gguf-repo" / "mmproj-model-f16.gguf", "clip")  # a vision projector: not the model
    model = only_model(tmp_path)
    assert model.formats == (ModelFormat.GGUF,)
    assert gguf_file(Path(model.path)).name == "model-q8_0.gguf"


# --- what is not a model ----------------------------------------------------


def test_files_and_folders_that_are_not_models_are_ignored_SYS_REQ_018(tmp_path: Path) -> None:
    sd_pipeline(tmp_path / "real-pipeline")
    write_bytes(tmp_path / "loose" / "model.safetensors")  # weights without a config
    write_bytes(tmp_path / "loose-onnx" / "model.onnx")
    write_json(tmp_path / "docs" / "notes.json", {})
    (tmp_path / "README.md").write_text("models live here")
    write_bytes(tmp_path / "stray.safetensors")
    write_json(tmp_path / "model_index.json", {"_class_name": "StableDiffusionPipeline"})  # a file, not a folder
    sd_pipeline(tmp_path / ".staging-pipeline-1234")
    write_gguf(tmp_path / ".hidden" / "model.gguf")
    result = discover_models(tmp_path)
    assert [m.id for m in result.models] == ["real-pipeline"]
    assert result.problems == ()
