"""Reads the key-value header of GGUF files, fast: the tensors and the vocabulary are never decoded."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO


@dataclass(frozen=True)
class GgufHeader:
    """What discovery takes from a GGUF file's key-value header."""

    version: int
    tensor_count: int
    architecture: str
    file_type: str  # general.type: "model", "adapter", ... ("" when absent)
    name: str
    context_length: int  # {architecture}.context_length, 0 when absent
    chat_template: bool
    bytes_read: int  # how much of the file was read to get this


class _GgufCursor:
    """Reads a GGUF header sequentially in chunks; skipped values are never decoded."""

    FIRST_CHUNK = 1 << 16  # a header without a vocabulary fits
    LAST_CHUNK = 1 << 20

    def __init__(self, handle: BinaryIO, endian: str = "<") -> None:
        self._handle = handle
        self._buffer = b""
        self._pos = 0
        self.bytes_read = 0
        self._chunk = self.FIRST_CHUNK
        self.endian = endian
        self._structs: dict[str, struct.Struct] = {}

    def big_endian(self) -> None:
        self.endian = ">"
        self._structs.clear()

    def _need(self, count: int) -> None:
        if len(self._buffer) - self._pos >= count:
            return
        rest = self._buffer[self._pos :]
        more = self._handle.read(max(count - len(rest), self._chunk))
        self._chunk = min(self._chunk * 2, self.LAST_CHUNK)
        self.bytes_read += len(more)
        self._buffer, self._pos = rest + more, 0
        if len(self._buffer) < count:
            raise ValueError("the header is truncated")

    def unpack(self, fmt: str) -> Any:
        packer = self._structs.get(fmt)
        if packer is None:
            packer = self._structs[fmt] = struct.Struct(self.endian + fmt)
        self._need(packer.size)
        (value,) = packer.unpack_from(self._buffer, self._pos)
        self._pos += packer.size
        return value

    def skip(self, count: int) -> None:
        available = len(self._buffer) - self._pos
        if count <= available:
            self._pos += count
        else:
            self._handle.seek(count - available, os.SEEK_CUR)
            self._buffer, self._pos = b"", 0

    def string(self, limit: int) -> str:
        length = self.unpack("Q")
        if length > limit:
            raise ValueError(f"a header string is {length} bytes long")
        self._need(length)
        value = self._buffer[self._pos : self._pos + length]
        self._pos += length
        return value.decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        """Skips `count` length-prefixed strings (a tokenizer's vocabulary: the bulk of a header)."""
        length_of = struct.Struct(self.endian + "Q").unpack_from
        while count:
            if len(self._buffer) - self._pos < 8:
                self._need(8)
            buffer, pos = self._buffer, self._pos
            last = len(buffer) - 8  # where the last whole length prefix can start
            for done in range(count):
                pos += 8 + length_of(buffer, pos)[0]
                if pos > last:
                    count -= done + 1
                    break
            else:
                count = 0
            if pos > len(buffer):  # the last string runs past what was read: seek over the rest
                self._handle.seek(pos - len(buffer), os.SEEK_CUR)
                self._buffer, self._pos = b"", 0
            else:
                self._buffer, self._pos = buffer, pos


# Headers already read, by file identity: a rescan reads no GGUF file that did not change.
_GGUF_HEADERS: dict[tuple[int, int, int, int], GgufHeader] = {}
_GGUF_HEADERS_KEPT = 4096


def read_gguf_header(path: Path) -> GgufHeader:
    """Reads the key-value header of a GGUF file (v2 or v3): the tensors are never read.

    `gguf.GGUFReader` decodes every value of the header into numpy views,
    which takes seconds on a tokenizer's vocabulary; this walks the header
    once with the package's type codes and decodes only the keys it needs
    (about 15 ms and 2 MB of SmolLM2-135M's 98 MB Q4_1 file). Raises OSError or ValueError.
    """
    info = path.stat()
    key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    header = _GGUF_HEADERS.get(key)
    if header is None:
        header = _read_gguf_header(path)
        if len(_GGUF_HEADERS) >= _GGUF_HEADERS_KEPT:
            _GGUF_HEADERS.clear()
        _GGUF_HEADERS[key] = header
    return header


def _read_gguf_header(path: Path) -> GgufHeader:
    from gguf.constants import GGUF_MAGIC, GGUFValueType, Keys

    formats = {
        GGUFValueType.UINT8: "B",
        GGUFValueType.INT8: "b",
        GGUFValueType.UINT16: "H",
        GGUFValueType.INT16: "h",
        GGUFValueType.UINT32: "I",
        GGUFValueType.INT32: "i",
        GGUFValueType.FLOAT32: "f",
        GGUFValueType.BOOL: "?",
        GGUFValueType.UINT64: "Q",
        GGUFValueType.INT64: "q",
        GGUFValueType.FLOAT64: "d",
    }
    scalar_formats = {int(t): f for t, f in formats.items()}
    sizes = {t: struct.calcsize(f) for t, f in scalar_formats.items()}
    wanted_strings = {Keys.General.ARCHITECTURE, Keys.General.TYPE, Keys.General.NAME}
    context_suffix = Keys.LLM.CONTEXT_LENGTH.removeprefix("{arch}")

    with path.open("rb") as handle:
        cursor = _GgufCursor(handle)
        if cursor.unpack("I") != GGUF_MAGIC:
            raise ValueError("not a GGUF file (bad magic)")
        version = cursor.unpack("I")
        if version & 0xFFFF == 0:  # written big-endian
            cursor.big_endian()
            version = int.from_bytes(version.to_bytes(4, "little"), "big")
        if version not in (2, 3):
            raise ValueError(f"GGUF version {version} is not supported")
        tensor_count = cursor.unpack("Q")
        kv_count = cursor.unpack("Q")

        def skip_value(value_type: int) -> None:
            if value_type == GGUFValueType.STRING:
                cursor.skip(cursor.unpack("Q"))
            elif value_type == GGUFValueType.ARRAY:
                item_type, count = cursor.unpack("I"), cursor.unpack("Q")
                if item_type == GGUFValueType.STRING:
                    cursor.skip_strings(count)
                elif item_type in sizes:
                    cursor.skip(count * sizes[item_type])
                else:
                    for _ in range(count):
                        skip_value(item_type)
            elif value_type in sizes:
                cursor.skip(sizes[value_type])
            else:
                raise ValueError(f"unknown GGUF value type {value_type}")

        strings: dict[str, str] = {}
        context_lengths: dict[str, int] = {}
        chat_template = False
        for _ in range(kv_count):
            key = cursor.string(limit=1 << 16)
            value_type = cursor.unpack("I")
            if value_type == GGUFValueType.STRING and key in wanted_strings:
                strings[key] = cursor.string(limit=1 << 16)
            elif key == Keys.Tokenizer.CHAT_TEMPLATE and value_type == GGUFValueType.STRING:
                length = cursor.unpack("Q")
                chat_template = length > 0
                cursor.skip(length)
            elif key.endswith(context_suffix) and value_type in scalar_formats and value_type != GGUFValueType.BOOL:
                context_lengths[key.removesuffix(context_suffix)] = int(cursor.unpack(scalar_formats[value_type]))
            else:
                skip_value(value_type)
    architecture = strings.get(Keys.General.ARCHITECTURE, "")
    return GgufHeader(
        version=version,
        tensor_count=tensor_count,
        architecture=architecture,
        file_type=strings.get(Keys.General.TYPE, ""),
        name=strings.get(Keys.General.NAME, ""),
        context_length=max(context_lengths.get(architecture, 0), 0),
        chat_template=chat_template,
        bytes_read=cursor.bytes_read,
    )
