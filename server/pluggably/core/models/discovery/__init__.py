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

The modules: `scan` walks the models directory and the cache (`hf_cache`)
and settles ids; `describe` picks a folder's layout; `transformers`,
`pipelines` and `gguf` (with `gguf_header`) read the layouts; `entries` holds
what they share: the folder listing and the catalog entry, READY or FAILED.
"""

from pluggably.core.models.discovery.describe import describe_model, describe_text_model
from pluggably.core.models.discovery.entries import (
    CONFIG_FILE,
    MANIFEST_FILE,
    RUNTIME_OVERHEAD,
    TEXT_OUTPUT_FORMATS,
    ModelFolderError,
    UnsupportedModelError,
)
from pluggably.core.models.discovery.gguf import GGUF_ENCODER_ARCHITECTURES, GGUF_SUFFIX, gguf_file
from pluggably.core.models.discovery.hf_cache import HF_REPO_PREFIX
from pluggably.core.models.discovery.pipelines import (
    IMAGE_OUTPUT_FORMATS,
    IMAGE_PIPELINE_PREFIXES,
    MESH_OUTPUT_FORMATS,
    MESH_PIPELINES,
    PIPELINE_INDEX_FILE,
    pipeline_modality,
)
from pluggably.core.models.discovery.scan import DiscoveryProblem, DiscoveryResult, discover_models, model_id_from_name
from pluggably.core.models.discovery.transformers import CAUSAL_LM_SUFFIXES, ONNX_SUBDIR, onnx_text_export

__all__ = [
    "CAUSAL_LM_SUFFIXES",
    "CONFIG_FILE",
    "GGUF_ENCODER_ARCHITECTURES",
    "GGUF_SUFFIX",
    "HF_REPO_PREFIX",
    "IMAGE_OUTPUT_FORMATS",
    "IMAGE_PIPELINE_PREFIXES",
    "MANIFEST_FILE",
    "MESH_OUTPUT_FORMATS",
    "MESH_PIPELINES",
    "ONNX_SUBDIR",
    "PIPELINE_INDEX_FILE",
    "RUNTIME_OVERHEAD",
    "TEXT_OUTPUT_FORMATS",
    "DiscoveryProblem",
    "DiscoveryResult",
    "ModelFolderError",
    "UnsupportedModelError",
    "describe_model",
    "describe_text_model",
    "discover_models",
    "gguf_file",
    "model_id_from_name",
    "onnx_text_export",
    "pipeline_modality",
]
