"""GGUF models (layout 4 of the package): a folder holding `*.gguf`, or a bare `.gguf` file; split files too.

Described from the file's header (`gguf_header`), never its tensors.
`gguf_file` is the file a GGUF model is loaded from.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from pathlib import Path

from pluggably.core.models import HardwareRequirements, Modality, ModelCapabilities, ModelFormat
from pluggably.core.models.discovery.entries import (
    TEXT_OUTPUT_FORMATS,
    ModelFolderError,
    UnsupportedModelError,
    _Description,
    _list,
    _Listing,
    _memory,
)
from pluggably.core.models.discovery.gguf_header import read_gguf_header

GGUF_SUFFIX = ".gguf"

# GGUF architectures that encode (embeddings) rather than generate text.
GGUF_ENCODER_ARCHITECTURES = frozenset(
    {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "modern-bert", "neo-bert", "t5encoder", "clip"}
)
_GGUF_SPLIT = re.compile(r"^(?P<base>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")


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
