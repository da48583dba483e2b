"""Discovery benchmark: scanning a models folder of 1,000 models, and syncing the registry with it.

    python -m bench.discovery [--models 1000] [--repeats 5] ...

Builds a models folder in a temporary directory, a mix like a well-stocked machine's (counts for 1,000):

* 550 transformers causal LMs: `config.json` (five architectures), `generation_config.json`, `tokenizer.json`,
  `tokenizer_config.json` with a chat template, `special_tokens_map.json`, a small `model.safetensors`,
  a README; every third also an ONNX export in `onnx/` (`pluggably prepare-model`'s layout), every fifth a
  `pluggably.json` manifest with aliases;
* 200 ONNX exports in optimum's layout: `config.json`, `model.onnx` + `model.onnx_data`, tokenizer files;
* 200 diffusers pipelines: `model_index.json`, `unet/`, `vae/`, `text_encoder/` (config + safetensors),
  `tokenizer/`, `scheduler/`;
* 50 GGUF models (`tests.support.tiny_models.write_tiny_gguf`, small): half in folders, half bare files.

Weights are a few hundred bytes: discovery stats them, never reads them. Then it times, in this process:

* `discover_models(dir)`: the first scan (file data evicted from the page cache first with
  posix_fadvise(DONTNEED); directory entries and inodes stay cached, so this is not a cold disk), then
  rescans (`--repeats`, median);
* `ModelRegistry.sync_discovered` with `SqliteModelStore` on a new SQLite file (`open_database`, as the gateway
  opens it): the first sync (1,000 inserts), then syncs with nothing changed (median); and loading the
  registry from the file (a restart);
* baselines on the same tree, the same way: a bare `os.scandir` walk (the floor), and the walk plus a stat of
  every file and a JSON parse of the metadata files discovery reads (the least work a scan has to do).

Logging goes, as in the gateway, as JSON lines at INFO (to a temporary file): each registry change logs a line.
Prints seconds and microseconds per model for each, against the bare walk. There is no target.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench.common import heading, load_average, machine_facts, median, stop_on_sigterm, table
from pluggably.core.models import ModelState
from pluggably.core.models.discovery import DiscoveryResult, discover_models
from pluggably.core.models.registry import ModelRegistry
from pluggably.db.database import open_database
from pluggably.db.stores import SqliteModelStore

T = TypeVar("T")

# The files discovery parses (the GGUF header aside); the metadata baseline parses these too.
METADATA_FILES = frozenset(
    {"config.json", "model_index.json", "tokenizer_config.json", "chat_template.json", "pluggably.json"}
)
ARCHITECTURES = (
    ("LlamaForCausalLM", "llama"),
    ("Qwen2ForCausalLM", "qwen2"),
    ("MistralForCausalLM", "mistral"),
    ("Phi3ForCausalLM", "phi3"),
    ("GPT2LMHeadModel", "gpt2"),
)
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' "
    "+ '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))


def _weights(path: Path, size: int = 256) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)


def _text_config(i: int) -> dict[str, object]:
    architecture, model_type = ARCHITECTURES[i % len(ARCHITECTURES)]
    return {
        "architectures": [architecture],
        "model_type": model_type,
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_attention_heads": 9,
        "num_hidden_layers": 30,
        "num_key_value_heads": 3,
        "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-05,
        "rope_theta": 100000,
        "vocab_size": 49152,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.57.6",
        "use_cache": True,
    }


def _tokenizer_files(folder: Path) -> None:
    vocab = {f"tok{i}": i for i in range(200)}
    _json(folder / "tokenizer.json", {"version": "1.0", "model": {"type": "BPE", "vocab": vocab, "merges": []}})
    _json(
        folder / "tokenizer_config.json",
        {
            "add_prefix_space": False,
            "bos_token": "<|im_start|>",
            "eos_token": "<|im_end|>",
            "model_max_length": 8192,
            "tokenizer_class": "GPT2Tokenizer",
            "chat_template": CHAT_TEMPLATE,
        },
    )
    _json(folder / "special_tokens_map.json", {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"})


def make_causal_lm(folder: Path, i: int) -> None:
    _json(folder / "config.json", _text_config(i))
    _json(folder / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2, "do_sample": True})
    _tokenizer_files(folder)
    _weights(folder / "model.safetensors")
    (folder / "README.md").write_text(f"# model {i}\n")
    if i % 3 == 0:  # an ONNX export beside it, as `pluggably prepare-model` writes it
        _json(folder / "onnx" / "config.json", _text_config(i))
        _weights(folder / "onnx" / "model.onnx")
    if i % 5 == 0:
        _json(folder / "pluggably.json", {"display_name": f"Model {i}", "aliases": [f"alias-{i}"]})


def make_onnx_export(folder: Path, i: int) -> None:
    """optimum's export layout: the ONNX model beside config.json."""
    _json(folder / "config.json", _text_config(i))
    _json(folder / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2})
    _tokenizer_files(folder)
    _weights(folder / "model.onnx")
    _weights(folder / "model.onnx_data", 1024)


def make_pipeline(folder: Path, i: int) -> None:
    _json(
        folder / "model_index.json",
        {
            "_class_name": "StableDiffusionXLPipeline" if i % 2 else "StableDiffusionPipeline",
            "_diffusers_version": "0.35.0",
            "scheduler": ["diffusers", "EulerDiscreteScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        },
    )
    _json(folder / "unet" / "config.json", {"_class_name": "UNet2DConditionModel", "sample_size": 64})
    _weights(folder / "unet" / "diffusion_pytorch_model.safetensors")
    _json(folder / "vae" / "config.json", {"_class_name": "AutoencoderKL", "block_out_channels": [128, 256, 512, 512]})
    _weights(folder / "vae" / "diffusion_pytorch_model.safetensors")
    _json(folder / "text_encoder" / "config.json", {"architectures": ["CLIPTextModel"], "hidden_size": 768})
    _weights(folder / "text_encoder" / "model.safetensors")
    _json(folder / "tokenizer" / "tokenizer_config.json", {"model_max_length": 77})
    _json(folder / "tokenizer" / "vocab.json", {f"tok{i}": i for i in range(200)})
    (folder / "tokenizer" / "merges.txt").write_text("#version: 0.2\n")
    _json(folder / "scheduler" / "scheduler_config.json", {"_class_name": "EulerDiscreteScheduler"})


@dataclass
class Tree:
    root: Path
    models: int
    kinds: dict[str, int] = field(default_factory=dict)
    files: int = 0
    folders: int = 0


def build_tree(root: Path, models: int) -> Tree:
    """`models` models under `root`: 55% causal LMs, 20% ONNX exports, 20% pipelines, the rest GGUF."""
    from tests.support.tiny_models import write_tiny_gguf

    template = write_tiny_gguf(root.parent / "template.gguf")
    counts = {"transformers causal LM": models * 55 // 100, "ONNX export (optimum)": models * 20 // 100}
    counts["diffusers pipeline"] = models * 20 // 100
    counts["GGUF"] = models - sum(counts.values())
    makers: dict[str, Callable[[Path, int], None]] = {
        "transformers causal LM": make_causal_lm,
        "ONNX export (optimum)": make_onnx_export,
        "diffusers pipeline": make_pipeline,
    }
    root.mkdir(parents=True)
    number = 0
    for kind, count in counts.items():
        for i in range(count):
            number += 1
            name = f"model-{number:05d}"
            if kind in makers:
                makers[kind](root / name, i)
            elif i % 2:
                shutil.copyfile(template, root / f"{name}.gguf")
            else:
                (root / name).mkdir()
                shutil.copyfile(template, root / name / f"{name}.Q4_K_M.gguf")
                (root / name / "README.md").write_text("# a GGUF model\n")
    template.unlink()
    tree = Tree(root, models, counts)
    for _, dirs, files in os.walk(root):
        tree.folders += len(dirs)
        tree.files += len(files)
    return tree


def _files(root: Path) -> Iterator[os.DirEntry[str]]:
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    pending.append(entry.path)
                else:
                    yield entry


def scandir_walk(root: Path) -> int:
    """The floor: every directory listed, every entry's type (from the directory itself, no stat)."""
    return sum(1 for _ in _files(root))


def walk_stat_parse(root: Path) -> int:
    """The walk, a stat of every file, and a JSON parse of each metadata file discovery reads."""
    parsed = 0
    for entry in _files(root):
        entry.stat()
        if entry.name in METADATA_FILES:
            json.loads(Path(entry.path).read_bytes())  # as discovery reads them
            parsed += 1
    return parsed


def evict_file_data(root: Path) -> None:
    """Drops the tree's file data from the page cache (after writing it back): best effort, no root needed."""
    os.sync()
    for entry in _files(root):
        try:
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(function: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


@dataclass
class Row:
    name: str
    first_s: float | None
    repeat_s: list[float]
    note: str = ""


def measure(tree: Tree, database: Path, repeats: int) -> tuple[list[Row], DiscoveryResult]:
    root = tree.root
    rows: list[Row] = []

    evict_file_data(root)
    first_discover, result = timed(lambda: discover_models(root))
    evict_file_data(root)
    first_parse = timed(lambda: walk_stat_parse(root))[0]

    scans: dict[str, Callable[[], object]] = {
        "walk": lambda: scandir_walk(root),
        "parse": lambda: walk_stat_parse(root),
        "discover": lambda: discover_models(root),
    }
    times: dict[str, list[float]] = {name: [] for name in scans}
    for turn in range(repeats):
        # The three take turns, the order rotating, so that drifting load falls on all of them alike.
        names = list(scans)[turn % len(scans) :] + list(scans)[: turn % len(scans)]
        for name in names:
            times[name].append(timed(scans[name])[0])
    walk, parse, discover = times["walk"], times["parse"], times["discover"]

    rows.append(Row("os.scandir walk (floor)", None, walk, f"{scandir_walk(root)} files"))
    rows.append(Row("walk + stat + parse metadata JSON", first_parse, parse, f"{walk_stat_parse(root)} JSON files"))
    ready = sum(1 for m in result.models if m.state is ModelState.READY)
    rows.append(Row("discover_models", first_discover, discover, f"{ready} READY, {len(result.problems)} problems"))

    connection = open_database(database)
    try:
        registry = ModelRegistry(SqliteModelStore(connection))
        first_sync, summary = timed(lambda: registry.sync_discovered(result))
        added = len(summary.added)
        syncs, changed = [], 0
        for _ in range(repeats):
            rescan = discover_models(root)
            seconds, again = timed(lambda r=rescan: registry.sync_discovered(r))
            syncs.append(seconds)
            changed += len(again.updated) + len(again.added) + len(again.missing)
        rows.append(
            Row("sync_discovered (SQLite)", first_sync, syncs, f"first: {added} added; again: {changed} changed")
        )
        loads = []
        for _ in range(repeats):
            seconds, loaded = timed(lambda: ModelRegistry(SqliteModelStore(connection)))
            loads.append(seconds)
        count = len(loaded.catalog.list())
        rows.append(Row("ModelRegistry load (restart)", None, loads, f"{count} entries"))
    finally:
        connection.close()
    return rows, result


def report(rows: list[Row], tree: Tree) -> None:
    floor = median(rows[0].repeat_s)
    per = 1e6 / tree.models

    def cell(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    print(heading(f"{tree.models} models: {tree.folders} folders, {tree.files} files"))
    table_rows = []
    for row in rows:
        again = median(row.repeat_s)
        table_rows.append(
            [
                row.name,
                cell(row.first_s and row.first_s * 1000),
                cell(again * 1000),
                f"{min(row.repeat_s) * 1000:.1f}-{max(row.repeat_s) * 1000:.1f}",
                cell(row.first_s and row.first_s * per, 0),
                cell(again * per, 0),
                f"{again / floor:.1f}x",
                row.note,
            ]
        )
    headers = ["", "first ms", "again ms", "again range", "first µs/model", "again µs/model", "/ walk", "checked"]
    print(table(headers, table_rows))
    print(
        "first: discover_models and the metadata baseline after the tree's file data was evicted from the page\n"
        "cache (directory entries and inodes stay cached: not a cold disk); sync_discovered into an empty database.\n"
        "again: the median of the repeats (a rescan reads the GGUF headers from discovery's cache; a sync with\n"
        "nothing changed). / walk: the median against the bare os.scandir walk's. "
        f"Load average now {load_average()}."
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.discovery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000, help="models in the folder (at least 20)")
    parser.add_argument("--repeats", type=int, default=5, help="rescans, syncs and loads timed after the first")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = parser.parse_args(argv)
    if args.models < 20 or args.repeats < 1:
        parser.error("--models must be at least 20 and --repeats at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    started = time.perf_counter()
    print("Pluggably discovery benchmark")
    print(machine_facts())
    work = Path(tempfile.mkdtemp(prefix="pluggably-bench-discovery-"))
    print(f"folder:    {work} (filesystem of the temporary directory); {args.repeats} repeats")
    sys.stdout.flush()
    try:
        tree = build_tree(work / "models", args.models)
        kinds = ", ".join(f"{count} {kind}" for kind, count in tree.kinds.items())
        print(f"built {kinds} in {time.perf_counter() - started:.1f} s")
        from pluggably.logs import configure_logging

        with (work / "log.jsonl").open("w") as log_file:
            configure_logging(args.log_level, log_file)
            try:
                rows, result = measure(tree, work / "pluggably.db", args.repeats)
            finally:
                logging.getLogger().handlers.clear()
        if result.problems:
            print(f"{len(result.problems)} problems, the first: {result.problems[0]}")
        report(rows, tree)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
