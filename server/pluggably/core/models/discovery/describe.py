"""Which layout a folder is (`_kind`), and one model described by path.

`describe_model` describes a model found outside a scan (a finished download,
a model registered by path); the scan calls `_kind` on each folder it finds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from pluggably.core.models import Modality, ModelInfo, ModelState
from pluggably.core.models.catalog import MODEL_ID_PATTERN
from pluggably.core.models.discovery.entries import (
    CONFIG_FILE,
    _Description,
    _entry,
    _list,
    _Listing,
    _manifest,
    _mtime,
    _Origin,
    _tree_size,
)
from pluggably.core.models.discovery.gguf import GGUF_SUFFIX, _describe_gguf, _describe_gguf_folder
from pluggably.core.models.discovery.pipelines import PIPELINE_INDEX_FILE, _describe_pipeline
from pluggably.core.models.discovery.transformers import _describe_transformers, _onnx_export, _text_weights


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
