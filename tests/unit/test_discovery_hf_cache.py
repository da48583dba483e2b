"""Discovery in a Hugging Face cache, id collisions, and a scan of many folders (SYS-REQ-018, DATA-REQ-005).

The cache is built as huggingface_hub writes it: `models--{org}--{name}/`
with `refs/main`, `snapshots/{commit}/` of symlinks, and `blobs/`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFWriter

from pluggably.core.models import Modality, ModelInfo, ModelSource, ModelState, Runtime, SourceKind
from pluggably.core.models.discovery import discover_models, model_id_from_name

LLAMA_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "max_position_embeddings": 8192}
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


def dump(value: Any) -> bytes:
    return json.dumps(value).encode()


def cache_repo(
    cache: Path, repo_id: str, files: dict[str, bytes], *, commit: str = COMMIT_A, ref: str | None = "main"
) -> Path:
    """One cached repo revision: each file a symlink from the snapshot into `blobs/`."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    for relative, content in files.items():
        blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
        link = snapshot / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if ref is not None:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snapshot


def text_files(weights: bytes = b"\1" * 1000) -> dict[str, bytes]:
    return {
        "config.json": dump(LLAMA_CONFIG),
        "model.safetensors": weights,
        "tokenizer_config.json": dump({"chat_template": "{{ messages }}"}),
    }


def write_gguf(path: Path, *, context_length: int, tokens: int = 10) -> Path:
    writer = GGUFWriter(path, "llama")
    writer.add_context_length(context_length)
    writer.add_token_list([f"t{i}" for i in range(tokens)])
    writer.add_tensor("w", np.zeros(64, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def by_id(models: tuple[ModelInfo, ...]) -> dict[str, ModelInfo]:
    return {m.id: m for m in models}


def test_cached_repo_is_described_from_the_snapshot_refs_main_names_SYS_REQ_018(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    old = cache_repo(cache, "HuggingFaceTB/SmolLM2-135M-Instruct", text_files(), commit=COMMIT_B, ref=None)
    snapshot = cache_repo(cache, "HuggingFaceTB/SmolLM2-135M-Instruct", text_files())
    os.utime(old, (2e9, 2e9))  # newer, but refs/main names the other one
    result = discover_models(tmp_path / "models", cache)
    assert result.problems == ()
    (model,) = result.models
    assert model.id == "smollm2-135m-instruct"
    assert model.display_name == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert Path(model.path) == snapshot
    assert model.source == ModelSource(SourceKind.HUGGING_FACE, "HuggingFaceTB/SmolLM2-135M-Instruct", revision="main")
    assert model.revision == COMMIT_A
    assert model.modality is Modality.TEXT
    assert model.runtimes == (Runtime.TORCH,)
    assert model.capabilities.chat is True
    assert model.state is ModelState.READY


def test_cached_sizes_follow_symlinks_once_DATA_REQ_005(tmp_path: Path) -> None:
    files = text_files(weights=b"\1" * 10_000)
    files["copy-of-weights.safetensors"] = files["model.safetensors"]  # the same blob twice
    cache_repo(tmp_path, "org/sized", files)
    (model,) = discover_models(tmp_path / "models", tmp_path).models
    expected = sum(len(c) for name, c in files.items() if name != "copy-of-weights.safetensors")
    assert model.size_bytes == expected


def test_without_refs_the_newest_snapshot_is_used_SYS_REQ_018(tmp_path: Path) -> None:
    older = cache_repo(tmp_path, "org/pinned", text_files(), commit=COMMIT_A, ref=None)
    newer = cache_repo(tmp_path, "org/pinned", text_files(), commit=COMMIT_B, ref=None)
    os.utime(older, (1e9, 1e9))
    os.utime(newer, (2e9, 2e9))
    (model,) = discover_models(tmp_path / "models", tmp_path).models
    assert Path(model.path) == newer
    assert model.revision == COMMIT_B
    assert model.source is not None and model.source.revision == COMMIT_B  # no ref names it


def test_a_stale_ref_falls_back_to_a_snapshot_that_exists_SYS_REQ_018(tmp_path: Path) -> None:
    snapshot = cache_repo(tmp_path, "org/stale", text_files(), commit=COMMIT_A, ref="v1.0")
    (tmp_path / "models--org--stale" / "refs" / "main").write_text(COMMIT_B)  # never downloaded
    (model,) = discover_models(tmp_path / "models", tmp_path).models
    assert Path(model.path) == snapshot
    assert model.source is not None and model.source.revision == "v1.0"


def test_cached_pipelines_and_gguf_repos_use_the_same_rules_SYS_REQ_018(tmp_path: Path) -> None:
    cache_repo(
        tmp_path,
        "stabilityai/sd-turbo",
        {
            "model_index.json": dump({"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet"]}),
            "unet/config.json": dump({"sample_size": 64}),
            "unet/diffusion_pytorch_model.safetensors": b"\2" * 10,
        },
    )
    gguf_path = write_gguf(tmp_path / "tmp.gguf", context_length=4096)
    cache_repo(tmp_path, "someone/Tiny-GGUF", {"tiny-q4_0.gguf": gguf_path.read_bytes()})
    gguf_path.unlink()
    models = by_id(discover_models(tmp_path / "models", tmp_path).models)
    assert models["sd-turbo"].modality is Modality.IMAGE
    assert models["sd-turbo"].capabilities.image_sizes == ("64x64",)  # no VAE: pixel space
    assert models["tiny-gguf"].modality is Modality.TEXT
    assert models["tiny-gguf"].capabilities.context_length == 4096


def test_a_models_dir_model_wins_over_a_cached_repo_with_its_id_SYS_REQ_018(tmp_path: Path) -> None:
    models_dir, cache = tmp_path / "models", tmp_path / "hub"
    (models_dir / "smol").mkdir(parents=True)
    (models_dir / "smol" / "config.json").write_text(json.dumps(LLAMA_CONFIG))
    (models_dir / "smol" / "model.safetensors").write_bytes(b"")
    cache_repo(cache, "org/Smol", text_files())
    cache_repo(cache, "first/twin", text_files())
    cache_repo(cache, "second/twin", text_files())
    result = discover_models(models_dir, cache)
    models = by_id(result.models)
    assert set(models) == {"smol", "twin"}
    assert Path(models["smol"].path) == models_dir / "smol"
    assert models["twin"].source is not None and models["twin"].source.location == "first/twin"
    problems = {p.path: p.reason for p in result.problems}
    assert set(problems) == {"models--org--Smol", "models--second--twin"}
    assert all("already taken" in reason for reason in problems.values())


def test_broken_cached_repos_fail_and_unsupported_ones_are_only_reported_SYS_REQ_018(tmp_path: Path) -> None:
    cache_repo(tmp_path, "org/no-weights", {"config.json": dump(LLAMA_CONFIG)})
    cache_repo(tmp_path, "org/bad-json", {"config.json": b"{"})
    cache_repo(
        tmp_path,
        "sentence-transformers/all-MiniLM-L6-v2",
        {"config.json": dump({"architectures": ["BertModel"]}), "model.safetensors": b"\3"},
    )
    result = discover_models(tmp_path / "models", tmp_path)
    models = by_id(result.models)
    assert set(models) == {"no-weights", "bad-json"}
    assert all(m.state is ModelState.FAILED and m.state_reason for m in models.values())
    assert models["no-weights"].source is not None  # still says where it came from
    problems = {p.path for p in result.problems}
    assert problems == {
        "models--org--no-weights",
        "models--org--bad-json",
        "models--sentence-transformers--all-MiniLM-L6-v2",
    }


def test_an_unsupported_cached_repo_leaves_its_id_free_SYS_REQ_018(tmp_path: Path) -> None:
    cache_repo(tmp_path, "a-org/twin", {"config.json": dump({"architectures": ["BertModel"]})})
    cache_repo(tmp_path, "b-org/twin", text_files())
    result = discover_models(tmp_path / "models", tmp_path)
    (model,) = result.models
    assert model.source is not None and model.source.location == "b-org/twin"
    assert [p.path for p in result.problems] == ["models--a-org--twin"]


def test_cache_entries_that_are_not_model_repos_are_ignored_SYS_REQ_018(tmp_path: Path) -> None:
    cache_repo(tmp_path, "org/model", text_files())
    cache_repo(tmp_path, "org/tokenizer-only", {"tokenizer.json": b"{}"})
    shutil.copytree(tmp_path / "models--org--model", tmp_path / "datasets--org--data")
    (tmp_path / ".locks").mkdir()
    (tmp_path / "version.txt").write_text("1")
    (tmp_path / "models--org--empty" / "refs").mkdir(parents=True)  # metadata only, no snapshot
    result = discover_models(tmp_path / "models", tmp_path)
    assert [m.id for m in result.models] == ["model"]
    assert result.problems == ()


def test_repo_names_become_valid_ids_SYS_REQ_018() -> None:
    assert model_id_from_name("SmolLM2-135M-Instruct") == "smollm2-135m-instruct"
    assert model_id_from_name("Qwen2.5-0.5B-Instruct-GGUF") == "qwen2.5-0.5b-instruct-gguf"
    assert model_id_from_name("_odd name!") == "odd-name-"
    assert len(model_id_from_name("x" * 96)) == 63
    assert model_id_from_name("___") == ""


def test_no_cache_and_a_missing_cache_change_nothing_SYS_REQ_018(tmp_path: Path) -> None:
    assert discover_models(tmp_path, None) == discover_models(tmp_path, tmp_path / "absent")


# --- many folders -----------------------------------------------------------


def test_a_scan_of_two_hundred_folders_describes_each_SYS_REQ_018(tmp_path: Path) -> None:
    """A smaller cut of the 1,000-folder benchmark: every layout, some broken, some not models."""
    for i in range(60):
        folder = tmp_path / f"text-{i:03d}"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(LLAMA_CONFIG))
        (folder / "model.safetensors").write_bytes(b"\0" * 64)
        (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "x"}))
    for i in range(40):
        folder = tmp_path / f"onnx-{i:03d}"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(LLAMA_CONFIG))
        (folder / "model.onnx").write_bytes(b"\0" * 64)
    for i in range(40):
        folder = tmp_path / f"image-{i:03d}"
        for component in ("unet", "vae", "text_encoder"):
            (folder / component).mkdir(parents=True)
            (folder / component / "config.json").write_text(json.dumps({"sample_size": 64, "block_out_channels": [1]}))
            (folder / component / "model.safetensors").write_bytes(b"\0" * 64)
        (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    gguf = write_gguf(tmp_path / "seed.gguf", context_length=2048, tokens=1000)
    for i in range(30):
        (tmp_path / f"gguf-{i:03d}").mkdir()
        shutil.copy(gguf, tmp_path / f"gguf-{i:03d}" / "model.gguf")
    gguf.rename(tmp_path / "bare.gguf")
    for i in range(15):
        (tmp_path / f"broken-{i:03d}").mkdir()
        (tmp_path / f"broken-{i:03d}" / "config.json").write_text("{")
    for i in range(15):
        (tmp_path / f"notes-{i:03d}").mkdir()
        (tmp_path / f"notes-{i:03d}" / "README.md").write_text("not a model")

    result = discover_models(tmp_path)
    states = [m.state for m in result.models]
    assert len(result.models) == 60 + 40 + 40 + 30 + 1 + 15
    assert states.count(ModelState.FAILED) == 15 == len(result.problems)
    modalities = [m.modality for m in result.models]
    assert modalities.count(Modality.TEXT) == 60 + 40 + 30 + 1
    assert modalities.count(Modality.IMAGE) == 40
