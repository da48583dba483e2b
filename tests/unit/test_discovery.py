"""Model discovery: model folders found and described from their files (SYS-REQ-018, DATA-REQ-006)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pluggably.core.models import (
    LOCAL_PROVIDER,
    Modality,
    ModelFormat,
    ModelInfo,
    ModelSource,
    ModelState,
    Runtime,
    SourceKind,
)
from pluggably.core.models.discovery import discover_models

LLAMA_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "max_position_embeddings": 8192}
GPT2_CONFIG = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_positions": 1024}


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def transformers_folder(
    root: Path, name: str, config: dict[str, Any] = LLAMA_CONFIG, *, weights: bytes = b"", onnx: bool = False
) -> Path:
    folder = root / name
    write_json(folder / "config.json", config)
    (folder / "model.safetensors").write_bytes(weights)
    if onnx:
        onnx_folder(folder, config)
    return folder


def onnx_folder(folder: Path, config: dict[str, Any] = LLAMA_CONFIG) -> None:
    write_json(folder / "config.json", config)
    write_json(folder / "onnx" / "config.json", config)
    (folder / "onnx" / "model.onnx").write_bytes(b"")


def by_id(models: tuple[ModelInfo, ...]) -> dict[str, ModelInfo]:
    return {m.id: m for m in models}


def test_transformers_folder_with_onnx_export_gives_both_runtimes_onnx_first_SYS_REQ_018(tmp_path: Path) -> None:
    transformers_folder(tmp_path, "llama-small", weights=b"\0" * 1000, onnx=True)
    result = discover_models(tmp_path)
    assert result.problems == ()
    (model,) = result.models
    assert model.id == "llama-small"
    assert model.name == "models/llama-small"
    assert model.modality is Modality.TEXT
    assert model.runtimes == (Runtime.ONNX, Runtime.TORCH)
    assert set(model.formats) == {ModelFormat.ONNX, ModelFormat.SAFETENSORS}
    assert model.capabilities.context_length == 8192
    assert model.state is ModelState.READY
    assert model.provider == LOCAL_PROVIDER
    assert Path(model.path) == tmp_path / "llama-small"
    assert model.size_bytes >= 1000
    assert model.hardware.memory_bytes >= 1000  # at least the weights
    assert model.display_name == "llama-small"  # no manifest: the folder name
    assert model.aliases == ()
    assert model.create_time is not None


def test_safetensors_only_folder_runs_on_torch_SYS_REQ_018(tmp_path: Path) -> None:
    transformers_folder(tmp_path, "torch-only")
    (model,) = discover_models(tmp_path).models
    assert model.runtimes == (Runtime.TORCH,)
    assert model.formats == (ModelFormat.SAFETENSORS,)


def test_onnx_only_folder_runs_on_onnx_SYS_REQ_018(tmp_path: Path) -> None:
    onnx_folder(tmp_path / "onnx-only")
    (model,) = discover_models(tmp_path).models
    assert model.runtimes == (Runtime.ONNX,)
    assert model.formats == (ModelFormat.ONNX,)


def test_onnx_without_its_config_is_not_an_onnx_model_SYS_REQ_018(tmp_path: Path) -> None:
    folder = transformers_folder(tmp_path, "half-export")
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"")
    (model,) = discover_models(tmp_path).models
    assert model.runtimes == (Runtime.TORCH,)


def test_gpt2_style_lm_head_model_is_a_text_model_SYS_REQ_018(tmp_path: Path) -> None:
    transformers_folder(tmp_path, "gpt2-tiny", GPT2_CONFIG)
    result = discover_models(tmp_path)
    assert result.problems == ()
    (model,) = result.models
    assert model.capabilities.context_length == 1024  # from n_positions


def test_broken_folders_are_reported_listed_failed_and_the_scan_goes_on_SYS_REQ_018(tmp_path: Path) -> None:
    transformers_folder(tmp_path, "a-good")
    (tmp_path / "b-bad-json").mkdir()
    (tmp_path / "b-bad-json" / "config.json").write_text("{not json")
    transformers_folder(tmp_path, "c-encoder", {"architectures": ["BertModel"], "max_position_embeddings": 512})
    write_json(tmp_path / "d-no-weights" / "config.json", LLAMA_CONFIG)
    transformers_folder(tmp_path, "e-no-context", {"architectures": ["LlamaForCausalLM"]})
    transformers_folder(tmp_path, "f-list-json", LLAMA_CONFIG)
    (tmp_path / "f-list-json" / "config.json").write_text("[1, 2]")
    transformers_folder(tmp_path, "z-good")

    result = discover_models(tmp_path)
    models = by_id(result.models)
    problems = {p.path: p.reason for p in result.problems}
    broken = {"b-bad-json", "c-encoder", "d-no-weights", "e-no-context", "f-list-json"}
    assert set(problems) == broken
    assert set(models) == {"a-good", "z-good", *broken}  # listed, so the catalog says why
    assert {i for i, m in models.items() if m.state is ModelState.READY} == {"a-good", "z-good"}
    for model_id in broken:
        model = models[model_id]
        assert model.state is ModelState.FAILED
        assert model.state_reason == problems[model_id] != ""
        assert model.runtimes == ()
        assert Path(model.path) == tmp_path / model_id
    assert "BertModel" in problems["c-encoder"]
    assert "weights" in problems["d-no-weights"]
    assert "JSON" in problems["b-bad-json"]
    # What generates is unknown where the config could not be read or names no generator.
    assert {i: models[i].modality for i in broken} == {
        "b-bad-json": None,
        "c-encoder": None,
        "d-no-weights": Modality.TEXT,
        "e-no-context": Modality.TEXT,
        "f-list-json": None,
    }


def test_non_model_and_hidden_folders_are_ignored_SYS_REQ_018(tmp_path: Path) -> None:
    transformers_folder(tmp_path, "real-model")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("not a model")
    (tmp_path / "stray-file.safetensors").write_bytes(b"")
    write_json(tmp_path / "config.json", LLAMA_CONFIG)  # a file, not a folder
    transformers_folder(tmp_path, ".staging-real-model-1234")  # a download in progress
    transformers_folder(tmp_path, ".hidden")

    result = discover_models(tmp_path)
    assert [m.id for m in result.models] == ["real-model"]
    assert result.problems == ()


def test_missing_models_dir_is_an_empty_catalog_SYS_REQ_018(tmp_path: Path) -> None:
    result = discover_models(tmp_path / "does-not-exist")
    assert (result.models, result.problems) == ((), ())


def test_manifest_gives_display_name_aliases_source_and_revision_SYS_REQ_018(tmp_path: Path) -> None:
    folder = transformers_folder(tmp_path, "smol")
    write_json(
        folder / "pluggably.json",
        {
            "display_name": "Smol (instruct)",
            "aliases": ["smol-chat", "default"],
            "source": {"kind": "hugging_face", "location": "org/smol", "revision": "main"},
            "revision": "abc123",
        },
    )
    (model,) = discover_models(tmp_path).models
    assert model.display_name == "Smol (instruct)"
    assert model.aliases == ("smol-chat", "default")
    assert model.source == ModelSource(SourceKind.HUGGING_FACE, "org/smol", revision="main")
    assert model.revision == "abc123"


def test_broken_manifest_is_reported_and_the_model_failed_SYS_REQ_018(tmp_path: Path) -> None:
    folder = transformers_folder(tmp_path, "smol")
    (folder / "pluggably.json").write_text("{")
    bad_source = transformers_folder(tmp_path, "smol-bad-source")
    write_json(bad_source / "pluggably.json", {"source": {"kind": "ftp", "location": "x"}})
    result = discover_models(tmp_path)
    assert [p.path for p in result.problems] == ["smol", "smol-bad-source"]
    models = by_id(result.models)
    assert models["smol"].state is ModelState.FAILED
    assert "pluggably.json" in models["smol"].state_reason
    assert models["smol"].modality is Modality.TEXT  # the model files were read
    assert models["smol-bad-source"].state is ModelState.FAILED
    assert "pluggably.json" in models["smol-bad-source"].state_reason


def test_chat_capability_comes_from_the_chat_template_DATA_REQ_006(tmp_path: Path) -> None:
    transformers_folder(tmp_path, "plain")
    jinja = transformers_folder(tmp_path, "jinja-chat")
    (jinja / "chat_template.jinja").write_text("{{ messages }}")
    tok = transformers_folder(tmp_path, "tokenizer-chat")
    write_json(tok / "tokenizer_config.json", {"chat_template": "{{ messages }}", "eos_token": "</s>"})
    empty = transformers_folder(tmp_path, "tokenizer-no-chat")
    write_json(empty / "tokenizer_config.json", {"chat_template": "", "eos_token": "</s>"})

    models = by_id(discover_models(tmp_path).models)
    assert {model_id: m.capabilities.chat for model_id, m in models.items()} == {
        "plain": False,
        "jinja-chat": True,
        "tokenizer-chat": True,
        "tokenizer-no-chat": False,
    }


def test_folder_names_that_are_not_model_ids_are_reported_SYS_REQ_018(tmp_path: Path) -> None:
    transformers_folder(tmp_path, "Has Spaces")
    transformers_folder(tmp_path, "good-one")
    result = discover_models(tmp_path)
    assert [m.id for m in result.models] == ["good-one"]
    assert [p.path for p in result.problems] == ["Has Spaces"]
    assert "valid model id" in result.problems[0].reason


def test_conflicting_aliases_are_dropped_and_reported_not_fatal_SYS_REQ_018(tmp_path: Path) -> None:
    for name, aliases in (("alpha", ["shared", "beta"]), ("beta", ["shared", "own"])):
        folder = transformers_folder(tmp_path, name)
        write_json(folder / "pluggably.json", {"aliases": aliases})
    result = discover_models(tmp_path)
    models = by_id(result.models)
    # "shared" goes to the first folder; "beta" is another model's id.
    assert models["alpha"].aliases == ("shared",)
    assert models["beta"].aliases == ("own",)
    reasons = sorted(p.reason for p in result.problems)
    assert len(reasons) == 2 and all("alias" in r for r in reasons)
