"""Generation benchmark: what the gateway adds to an image and to a mesh, against the same diffusers pipeline
called directly in this process.

    python -m bench.generation [--runs N] [--sizes PX ...] [--steps N] [--mesh-steps N] [--model-dir DIR] ...

Builds the test suite's tiny random pipelines (tests/support/tiny_pipelines.py) into a temporary folder:
Stable Diffusion for torch, its ONNX export, and Shap-E; with `--model-dir`, a real diffusers folder of yours
too (linked into the models folder). Starts the gateway and Envoy in a process of their own
(`bench.serve_stack`, generation.max_concurrency 1, `generation.mesh_grid_size` as `--mesh-grid-size`), and
loads each pipeline here too, as the gateway does (same class, dtype and device or ONNX provider). Then for each
pipeline, the same request (prompt, size, steps, seed; default guidance) on three paths, taking turns:

- direct: the pipeline called here, with a step hook as the gateway's (images: `callback_on_step_end`; Shap-E:
  its scheduler's `step` wrapped), Shap-E as the gateway runs it (`output_type="latent"`, then
  `shap_e_renderer.decode_to_mesh` on the same grid). One call is timed three ways: the pipeline alone (a PIL
  image, a mesh in memory), + encoding (PNG; GLB with trimesh, as the gateway stores them), + writing the file
  with fsync beside the gateway's artifacts (what its blob store does);
- gRPC direct to the server: images by unary `ImageService.GenerateImages`; meshes by `MeshService.GenerateMesh`
  then `Operations.WaitOperation` until done;
- REST via Envoy (plain HTTP/1.1, keep-alive, stdlib `http.client`): `POST /v1/images:generate`; meshes by
  `POST /v1/meshes:generate` then the operation's SSE stream `GET /v1/operations/{id}:watch` to its end.

Gateway times are the client's wait for a stored artifact (its URL, not its bytes). Each path's outputs are
checked against the direct run's: the same SHA-256 (same seed and parameters give the same file).

Reports medians of `--runs` after `--warmup`, the time added by the gateway against the bare pipeline and against
the pipeline + encoding + fsync'd write, the ratios, and the time per denoising step measured in the direct runs.
The server's own time (its access log's latency_ms, matched by x-request-id; a mesh's two calls summed) splits
what the gateway adds into transport (client, gRPC/Envoy/JSON) and server (thread hop, progress, storage,
operation bookkeeping). Target: the gateway within 5% of the direct pipeline where a step takes over 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import importlib.metadata
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2

from bench.common import (
    Endpoints,
    StackProcess,
    heading,
    load_average,
    machine_facts,
    median,
    print_log_tail,
    stop_on_sigterm,
    table,
)
from pluggably.v1 import (
    common_pb2,
    image_service_pb2,
    image_service_pb2_grpc,
    mesh_service_pb2,
    mesh_service_pb2_grpc,
    model_service_pb2,
    model_service_pb2_grpc,
)

TARGET_FRACTION = 0.05
TARGET_STEP_MS = 50.0
TARGET = "the gateway within 5% of the direct pipeline, where a denoising step takes over 50 ms"
IMAGE_PROMPT = "a photo of a cat sitting on a red chair, high quality, detailed"
MESH_PROMPT = "a low poly tree"
SEED = 1
CALL_TIMEOUT_S = 3600.0
REQUEST_ID_HEADER = "x-request-id"
DIRECT, GRPC, REST = "direct", "gRPC direct", "REST via Envoy"
PATHS = (DIRECT, GRPC, REST)


# --- what is benchmarked ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One pipeline, one request."""

    label: str
    model_id: str  # the gateway's id: the folder's name in the models folder
    folder: Path
    kind: str  # "image" or "mesh"
    runtime: int  # common_pb2.Runtime
    steps: int
    size: int = 0  # images: width and height
    grid: int = 0  # meshes: generation.mesh_grid_size

    @property
    def what(self) -> str:
        if self.kind == "image":
            return f"{self.size}x{self.size}, {self.steps} steps, PNG"
        return f"{self.steps} steps, grid {self.grid}, GLB"


@dataclass
class Sample:
    total_s: float  # what the path's caller waits for
    sha256: str
    request_id: str = ""
    pipeline_s: float = math.nan  # direct: the pipeline alone
    encoded_s: float = math.nan  # direct: pipeline + encoding
    step_s: float = math.nan  # direct: median time between step hooks, per requested step
    server_s: float = math.nan  # gateway: the server's own time (access log), filled in afterwards


class BenchmarkError(Exception):
    pass


# --- the direct path ----------------------------------------------------------------------------------------------


def write_synced(folder: Path, data: bytes) -> None:
    """What the gateway's blob store does with an output: write, flush, fsync, rename."""
    partial = folder / uuid.uuid4().hex
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    partial.rename(folder / hashlib.sha256(data).hexdigest())


class DirectPipeline:
    """The case's pipeline loaded in this process the way the gateway loads it, called the way it calls it."""

    def __init__(self, case: Case, write_dir: Path) -> None:
        from diffusers.utils import logging as diffusers_logging

        from pluggably.runners.diffusion import torch_device
        from pluggably.runners.onnx_text import onnx_provider

        diffusers_logging.disable_progress_bar()
        self._case = case
        self._write_dir = write_dir
        write_dir.mkdir(parents=True, exist_ok=True)
        # The gateway's defaults: generation.device "auto".
        if case.runtime == common_pb2.RUNTIME_ONNX:
            from optimum.onnxruntime import ORTDiffusionPipeline

            self.device = onnx_provider("auto")
            self._pipeline = ORTDiffusionPipeline.from_pretrained(case.folder, provider=self.device)
        else:
            import torch
            from diffusers import DiffusionPipeline

            self.device = torch_device("auto")
            options = {"torch_dtype": torch.float16 if self.device.startswith("cuda") else torch.float32}
            if case.kind == "mesh":
                options = {}  # the gateway loads Shap-E in its own dtype
            self._pipeline = DiffusionPipeline.from_pretrained(case.folder, **options).to(self.device)
        self._pipeline.set_progress_bar_config(disable=True)

    def __call__(self) -> Sample:
        return self._image() if self._case.kind == "image" else self._mesh()

    def _image(self) -> Sample:
        import io

        import torch

        case = self._case
        hooks: list[float] = []

        def on_step_end(pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            hooks.append(time.perf_counter())
            return tensors

        started = time.perf_counter()
        result = self._pipeline(
            prompt=IMAGE_PROMPT,
            negative_prompt=None,
            width=case.size,
            height=case.size,
            num_images_per_prompt=1,
            num_inference_steps=case.steps,
            generator=torch.Generator("cpu").manual_seed(SEED),
            callback_on_step_end=on_step_end,
            output_type="pil",
        )
        generated = time.perf_counter()
        out = io.BytesIO()
        result.images[0].save(out, format="PNG")
        data = out.getvalue()
        encoded = time.perf_counter()
        write_synced(self._write_dir, data)
        written = time.perf_counter()
        return Sample(
            total_s=written - started,
            sha256=hashlib.sha256(data).hexdigest(),
            pipeline_s=generated - started,
            encoded_s=encoded - started,
            step_s=_step_time(hooks, len(hooks) / case.steps),
        )

    def _mesh(self) -> Sample:
        import torch
        import trimesh

        case = self._case
        pipeline = self._pipeline
        scheduler_step = pipeline.scheduler.step
        hooks: list[float] = []

        def step(*args: Any, **kwargs: Any) -> Any:
            result = scheduler_step(*args, **kwargs)
            hooks.append(time.perf_counter())
            return result

        pipeline.scheduler.step = step
        started = time.perf_counter()
        try:
            latents = pipeline(
                prompt=MESH_PROMPT,
                num_inference_steps=case.steps,
                generator=torch.Generator("cpu").manual_seed(SEED),
                output_type="latent",
            ).images
        finally:
            del pipeline.scheduler.step
        with torch.inference_mode():
            mesh = pipeline.shap_e_renderer.decode_to_mesh(latents[0][None, :], self.device, grid_size=case.grid)
        vertices, faces = mesh.verts.cpu().numpy(), mesh.faces.cpu().numpy()
        colors = torch.stack([mesh.vertex_channels[c] for c in "RGB"], dim=1).cpu().numpy()
        colors = (colors.clip(0, 1) * 255).astype("uint8")
        generated = time.perf_counter()
        data = trimesh.Trimesh(vertices=vertices, faces=faces, vertex_colors=colors, process=False).export(
            file_type="glb"
        )
        encoded = time.perf_counter()
        write_synced(self._write_dir, data)
        written = time.perf_counter()
        return Sample(
            total_s=written - started,
            sha256=hashlib.sha256(data).hexdigest(),
            pipeline_s=generated - started,
            encoded_s=encoded - started,
            # Shap-E's Heun scheduler steps 2 * steps - 1 times.
            step_s=_step_time(hooks, len(hooks) / case.steps),
        )

    def close(self) -> None:
        import gc

        del self._pipeline
        gc.collect()


def _step_time(hooks: list[float], hooks_per_step: float) -> float:
    """Seconds per requested step: the median gap between step hooks, times the hooks per step."""
    gaps = [b - a for a, b in itertools.pairwise(hooks)]
    return median(gaps) * hooks_per_step if gaps else math.nan


# --- the gateway paths --------------------------------------------------------------------------------------------


class Gateway:
    """The clients of the two gateway paths: one gRPC channel to the server, one HTTP/1.1 connection to Envoy."""

    def __init__(self, endpoints: Endpoints) -> None:
        self._channel = grpc.insecure_channel(endpoints.grpc_direct)
        self._images = image_service_pb2_grpc.ImageServiceStub(self._channel)
        self._meshes = mesh_service_pb2_grpc.MeshServiceStub(self._channel)
        self._operations = operations_pb2_grpc.OperationsStub(self._channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self._channel)
        host, port = endpoints.envoy_plain.rsplit(":", 1)
        self._http = http.client.HTTPConnection(host, int(port), timeout=CALL_TIMEOUT_S)

    def close(self) -> None:
        self._channel.close()
        self._http.close()

    def path(self, case: Case, name: str) -> Callable[[], Sample]:
        if name == GRPC:
            return (lambda: self._grpc_image(case)) if case.kind == "image" else (lambda: self._grpc_mesh(case))
        return (lambda: self._rest_image(case)) if case.kind == "image" else (lambda: self._rest_mesh(case))

    # gRPC

    def _grpc_image(self, case: Case) -> Sample:
        request = image_service_pb2.GenerateImagesRequest(
            model=common_pb2.ModelSelection(id=case.model_id, runtime=case.runtime),
            prompt=IMAGE_PROMPT,
            width=case.size,
            height=case.size,
            steps=case.steps,
            seed=SEED,
        )
        request_id = _request_id()
        started = time.perf_counter()
        response = self._images.GenerateImages(
            request, timeout=CALL_TIMEOUT_S, metadata=[(REQUEST_ID_HEADER, request_id)]
        )
        elapsed = time.perf_counter() - started
        if len(response.images) != 1:
            raise BenchmarkError(f"GenerateImages returned {len(response.images)} images")
        return Sample(elapsed, response.images[0].sha256, request_id)

    def _grpc_mesh(self, case: Case) -> Sample:
        request = mesh_service_pb2.GenerateMeshRequest(
            model=common_pb2.ModelSelection(id=case.model_id, runtime=case.runtime),
            prompt=MESH_PROMPT,
            steps=case.steps,
            seed=SEED,
        )
        request_id = _request_id()
        metadata = [(REQUEST_ID_HEADER, request_id)]
        started = time.perf_counter()
        operation = self._meshes.GenerateMesh(request, timeout=CALL_TIMEOUT_S, metadata=metadata)
        while not operation.done:
            wait = operations_pb2.WaitOperationRequest(name=operation.name, timeout=duration_pb2.Duration(seconds=300))
            operation = self._operations.WaitOperation(wait, timeout=CALL_TIMEOUT_S, metadata=metadata)
        elapsed = time.perf_counter() - started
        if operation.HasField("error"):
            raise BenchmarkError(f"{operation.name} failed: {operation.error.message}")
        response = mesh_service_pb2.GenerateMeshResponse()
        operation.response.Unpack(response)
        return Sample(elapsed, response.mesh.sha256, request_id)

    # REST

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None, request_id: str
    ) -> http.client.HTTPResponse:
        headers = {REQUEST_ID_HEADER: request_id}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self._http.request(method, path, body=data, headers=headers)
        response = self._http.getresponse()
        if response.status != 200:
            raise BenchmarkError(f"{method} {path}: HTTP {response.status} {response.read()[:300]!r}")
        return response

    def _rest_image(self, case: Case) -> Sample:
        body = {
            "model": {"id": case.model_id, "runtime": common_pb2.Runtime.Name(case.runtime)},
            "prompt": IMAGE_PROMPT,
            "width": case.size,
            "height": case.size,
            "steps": case.steps,
            "seed": SEED,
        }
        request_id = _request_id()
        started = time.perf_counter()
        result = json.loads(self._request("POST", "/v1/images:generate", body, request_id).read())
        elapsed = time.perf_counter() - started
        images = result.get("images", [])
        if len(images) != 1:
            raise BenchmarkError(f"POST /v1/images:generate returned {len(images)} images")
        return Sample(elapsed, images[0]["sha256"], request_id)

    def _rest_mesh(self, case: Case) -> Sample:
        body = {
            "model": {"id": case.model_id, "runtime": common_pb2.Runtime.Name(case.runtime)},
            "prompt": MESH_PROMPT,
            "steps": case.steps,
            "seed": SEED,
        }
        request_id = _request_id()
        started = time.perf_counter()
        operation = json.loads(self._request("POST", "/v1/meshes:generate", body, request_id).read())
        if not operation.get("done"):
            stream = self._request("GET", f"/v1/{operation['name']}:watch", None, request_id)
            for line in stream:
                if line.startswith(b"data:"):
                    operation = json.loads(line[5:])
            # The stream ends after the message with `done`; the connection stays open for the next call.
        elapsed = time.perf_counter() - started
        if not operation.get("done") or "error" in operation:
            raise BenchmarkError(f"{operation.get('name')} ended without a mesh: {str(operation)[:300]}")
        return Sample(elapsed, operation["response"]["mesh"]["sha256"], request_id)


def _request_id() -> str:
    return f"bench-generation-{uuid.uuid4().hex[:16]}"


# --- the server's side: its access log ------------------------------------------------------------------------


def server_times(log_file: Path) -> dict[str, float]:
    """Seconds the server spent on the calls of each request id (summed: a mesh's GenerateMesh and waits)."""
    times: dict[str, float] = {}
    with contextlib.suppress(OSError), log_file.open(errors="replace") as lines:
        for line in lines:
            if '"call"' not in line or "bench-generation-" not in line:
                continue
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                request_id = entry.get("request_id")
                if entry.get("message") == "call" and isinstance(request_id, str) and "latency_ms" in entry:
                    times[request_id] = times.get(request_id, 0.0) + float(entry["latency_ms"]) / 1000
    return times


# --- running and reporting ----------------------------------------------------------------------------------------


Samples = dict[str, list[Sample]]


def measure(case: Case, direct: DirectPipeline, gateway: Gateway, args: argparse.Namespace) -> Samples:
    paths: dict[str, Callable[[], Sample]] = {
        DIRECT: direct,
        GRPC: gateway.path(case, GRPC),
        REST: gateway.path(case, REST),
    }
    for name, run in paths.items():
        for _ in range(args.warmup):
            run()
        print(f"  warmed up {name} ({args.warmup} run{'s' if args.warmup != 1 else ''})", flush=True)
    samples: Samples = {name: [] for name in PATHS}
    names = list(PATHS)
    for index in range(args.runs):
        order = names[index % len(names) :] + names[: index % len(names)]  # each path first in turn
        for name in order:
            sample = paths[name]()
            samples[name].append(sample)
            print(f"  run {index + 1}: {name:<15} {sample.total_s * 1000:9.1f} ms", flush=True)
    return samples


def ms(value_s: float) -> str:
    return "-" if math.isnan(value_s) else f"{value_s * 1000:.1f}"


@dataclass(frozen=True)
class Summary:
    case: Case
    step_s: float
    direct_s: float  # pipeline alone
    stored_s: float  # pipeline + encoding + fsync'd write
    gateway_s: dict[str, float]
    mismatches: int

    @property
    def applies(self) -> bool:
        return self.step_s * 1000 > TARGET_STEP_MS

    def meets(self, path: str) -> bool:
        return self.gateway_s[path] <= self.direct_s * (1 + TARGET_FRACTION)


def report(case: Case, samples: Samples, log_file: Path) -> Summary:
    """One table for the case; returns its figures for the summary."""
    times = server_times(log_file)
    for name in (GRPC, REST):
        for sample in samples[name]:
            sample.server_s = times.get(sample.request_id, math.nan)
    directs = samples[DIRECT]
    direct_s = median([s.pipeline_s for s in directs])
    stored_s = median([s.total_s for s in directs])
    step_s = median([s.step_s for s in directs])
    rows = []
    encoding = "PNG encode" if case.kind == "image" else "GLB export"
    for label, values in (
        ("direct: pipeline", [s.pipeline_s for s in directs]),
        (f"direct: + {encoding}", [s.encoded_s for s in directs]),
        ("direct: + write, fsync", [s.total_s for s in directs]),
    ):
        value = median(values)
        rows.append(
            [label, ms(value), f"{ms(min(values))}-{ms(max(values))}", ms(value - direct_s), "-", "-", "-", "-"]
        )
    gateway_s = {}
    expected = directs[0].sha256
    mismatches = sum(1 for name in PATHS for s in samples[name] if s.sha256 != expected)
    for name in (GRPC, REST):
        values = [s.total_s for s in samples[name]]
        value = gateway_s[name] = median(values)
        paired = median([g.total_s / d.pipeline_s for g, d in zip(samples[name], directs, strict=True)])
        server = median([s.server_s for s in samples[name]])
        rows.append(
            [
                name,
                ms(value),
                f"{ms(min(values))}-{ms(max(values))}",
                f"{(value - direct_s) * 1000:+.1f}",
                f"{(value - stored_s) * 1000:+.1f}",
                f"{value / direct_s:.3f}x ({paired:.3f}x)",
                ms(server),
                f"{(value - server) * 1000:.1f}" if not math.isnan(server) else "-",
            ]
        )
    headers = [
        "path",
        "median ms",
        "range ms",
        "added ms",
        "added vs direct+store",
        "/ pipeline (paired)",
        "server ms",
        "transport ms",
    ]
    print()
    print(table(headers, rows))
    print(
        f"step: {step_s * 1000:.1f} ms per denoising step (direct runs), so {case.steps} steps are "
        f"{step_s * case.steps / direct_s:.0%} of the pipeline's time; the target applies (steps over "
        f"{TARGET_STEP_MS:.0f} ms): {'yes' if step_s * 1000 > TARGET_STEP_MS else 'no'}"
    )
    print(
        f"outputs: {'all identical' if not mismatches else f'{mismatches} differ from the first direct run'} "
        f"(SHA-256 of the {encoding.split()[0]} file)"
    )
    return Summary(case, step_s, direct_s, stored_s, gateway_s, mismatches)


def print_summary(summaries: list[Summary]) -> None:
    print(heading(f"Summary against the target: {TARGET}"))
    rows = []
    for s in summaries:
        for name in (GRPC, REST):
            added = s.gateway_s[name] - s.direct_s
            rows.append(
                [
                    f"{s.case.label}, {name}",
                    s.case.what,
                    f"{s.step_s * 1000:.1f}",
                    ms(s.direct_s),
                    ms(s.stored_s - s.direct_s),
                    ms(s.gateway_s[name]),
                    f"{added * 1000:+.1f}",
                    f"{s.gateway_s[name] / s.direct_s:.3f}x",
                    ("yes" if s.meets(name) else "NO") if s.applies else f"n/a ({'yes' if s.meets(name) else 'no'})",
                ]
            )
    headers = [
        "pipeline, path",
        "request",
        "step ms",
        "direct ms",
        "encode+write ms",
        "gateway ms",
        "added ms",
        "ratio",
        f"<= {1 + TARGET_FRACTION:.2f}x",
    ]
    print(table(headers, rows))
    print(
        "direct ms: the pipeline alone in this process; encode+write: what encoding the file and writing it with\n"
        "fsync adds to it here (the gateway does both before it answers); gateway ms: the client's wait for the\n"
        "stored artifact. n/a: steps of at most 50 ms, where the target does not apply (whether it would be met\n"
        f"in brackets). Client, server and Envoy share this machine's CPUs; load average now {load_average()}."
    )


# --- set-up -------------------------------------------------------------------------------------------------------


TINY_SD_LABEL = "tiny SD, torch"
TINY_SD_ONNX_LABEL = "tiny SD, ONNX"
TINY_SHAP_E_LABEL = "tiny Shap-E"
PIPELINES = {"sd": TINY_SD_LABEL, "sd-onnx": TINY_SD_ONNX_LABEL, "shap-e": TINY_SHAP_E_LABEL}


def build_tiny_pipelines(folder: Path, which: list[str]) -> None:
    """The test suite's tiny pipelines, each built unless its folder is there already (`--tiny-dir`)."""
    from tests.support.tiny_pipelines import (
        TINY_SD,
        TINY_SD_ONNX,
        TINY_SHAP_E,
        build_tiny_shap_e,
        build_tiny_stable_diffusion,
        build_tiny_stable_diffusion_onnx,
    )

    def build(name: str, builder: Callable[[Path], Path]) -> None:
        if not (folder / name / "model_index.json").exists():
            shutil.rmtree(folder / name, ignore_errors=True)
            builder(folder / name)

    if {"sd", "sd-onnx"} & set(which):
        build(TINY_SD, build_tiny_stable_diffusion)
    if "sd-onnx" in which:
        build(TINY_SD_ONNX, lambda f: build_tiny_stable_diffusion_onnx(folder / TINY_SD, f))
    if "shap-e" in which:
        build(TINY_SHAP_E, build_tiny_shap_e)


def tiny_cases(folder: Path, args: argparse.Namespace) -> list[Case]:
    from tests.support.tiny_pipelines import TINY_SD, TINY_SD_ONNX, TINY_SHAP_E

    cases = []
    for size in args.sizes:
        if "sd" in args.pipelines:
            torch = common_pb2.RUNTIME_TORCH
            cases.append(Case(TINY_SD_LABEL, TINY_SD, folder / TINY_SD, "image", torch, args.steps, size))
        if "sd-onnx" in args.pipelines:
            onnx = common_pb2.RUNTIME_ONNX
            cases.append(Case(TINY_SD_ONNX_LABEL, TINY_SD_ONNX, folder / TINY_SD_ONNX, "image", onnx, args.steps, size))
    if "shap-e" in args.pipelines:
        torch, steps, grid = common_pb2.RUNTIME_TORCH, args.mesh_steps, args.mesh_grid_size
        cases.append(Case(TINY_SHAP_E_LABEL, TINY_SHAP_E, folder / TINY_SHAP_E, "mesh", torch, steps, grid=grid))
    return cases


def local_model_ids(models_dir: Path, model_dirs: list[Path]) -> list[str]:
    """Links each `--model-dir` into the models folder; returns their ids (the links' names)."""
    ids = []
    for index, source in enumerate(model_dirs):
        if not (source / "model_index.json").is_file():
            raise SystemExit(f"--model-dir {source}: no model_index.json (not a diffusers pipeline folder)")
        model_id = f"local-{index + 1}-" + "".join(c if c.isalnum() else "-" for c in source.resolve().name.lower())
        (models_dir / model_id).symlink_to(source.resolve(), target_is_directory=True)
        ids.append(model_id)
    return ids


def local_cases(gateway: Gateway, models_dir: Path, ids: list[str], args: argparse.Namespace) -> list[Case]:
    """Each linked model as the gateway describes it: modality, and the runtime asked for or its first."""
    cases = []
    for model_id in ids:
        model = gateway.models.GetModel(model_service_pb2.GetModelRequest(name=f"models/{model_id}"), timeout=60)
        runtimes = list(model.runtimes)
        wanted = {"torch": common_pb2.RUNTIME_TORCH, "onnx": common_pb2.RUNTIME_ONNX}.get(args.model_runtime)
        runtime = wanted if wanted is not None else (runtimes[0] if runtimes else common_pb2.RUNTIME_TORCH)
        if runtime not in runtimes:
            raise SystemExit(f"{model_id} has no {args.model_runtime} runtime (it has {runtimes})")
        mesh = model.modality == common_pb2.MODALITY_MESH
        kind, steps = ("mesh", args.model_mesh_steps) if mesh else ("image", args.model_steps)
        label = f"{model_id}, {common_pb2.Runtime.Name(runtime).removeprefix('RUNTIME_').lower()}"
        size = 0 if mesh else args.model_size
        grid = args.mesh_grid_size if mesh else 0
        cases.append(Case(label, model_id, models_dir / model_id, kind, runtime, steps, size, grid))
    return cases


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Environment variables for the server process started inside (it inherits this process's environment)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def server_environment(args: argparse.Namespace) -> dict[str, str]:
    """The generation settings, all of them: a PLUGGABLY_GENERATION__* variable replaces the section that
    `bench.serve_stack` builds (pydantic-settings merges dicts, not the section object), so every value it
    would set is set here too."""
    return {
        "PLUGGABLY_GENERATION__MAX_CONCURRENCY": "1",
        "PLUGGABLY_GENERATION__MAX_QUEUE": "8",
        "PLUGGABLY_GENERATION__THREADS": "0",
        "PLUGGABLY_GENERATION__MESH_GRID_SIZE": str(args.mesh_grid_size),
        "PLUGGABLY_GENERATION__MAX_IMAGE_SIDE_PX": str(max(2048, *args.sizes, args.model_size)),
        "PLUGGABLY_GENERATION__MAX_DENOISING_STEPS": str(max(150, args.steps, args.mesh_steps, args.model_steps)),
        **dict(item.split("=", 1) for item in args.server_env),
    }


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generation", description=__doc__.split("\n\n")[0], epilog=f"Target: {TARGET}."
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs per path and pipeline (medians)")
    parser.add_argument("--warmup", type=int, default=1, help="runs per path before measuring")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[128], help="tiny SD image widths (= heights), multiples of 8"
    )
    parser.add_argument("--steps", type=int, default=8, help="tiny SD denoising steps")
    parser.add_argument("--mesh-steps", type=int, default=16, help="tiny Shap-E denoising steps")
    parser.add_argument("--mesh-grid-size", type=int, default=128, help="generation.mesh_grid_size, both paths")
    parser.add_argument(
        "--pipelines",
        nargs="*",
        choices=sorted(PIPELINES),
        default=list(PIPELINES),
        help="tiny pipelines to run (none: only --model-dir)",
    )
    parser.add_argument(
        "--model-dir", type=Path, action="append", default=[], help="a real diffusers pipeline folder (repeatable)"
    )
    parser.add_argument("--model-runtime", choices=("torch", "onnx"), help="--model-dir runtime (default: its first)")
    parser.add_argument("--model-size", type=int, default=512, help="--model-dir image width and height")
    parser.add_argument("--model-steps", type=int, default=20, help="--model-dir image denoising steps")
    parser.add_argument("--model-mesh-steps", type=int, default=64, help="--model-dir Shap-E denoising steps")
    parser.add_argument("--tiny-dir", type=Path, help="build the tiny pipelines once into this folder and reuse it")
    parser.add_argument("--start-timeout", type=float, default=600.0, help="seconds to wait for the server")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server's logs and data folder")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server process only (repeatable), e.g. OMP_NUM_THREADS=1",
    )
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.server_env):
        parser.error("--server-env takes NAME=VALUE")
    if args.runs < 1 or args.warmup < 0 or min(args.steps, args.mesh_steps, args.model_steps) < 1:
        parser.error("--runs and steps must be at least 1, --warmup 0 or more")
    if any(size % 8 or size < 64 for size in [*args.sizes, args.model_size]):
        parser.error("image sizes must be multiples of 8, at least 64")
    if not 16 <= args.mesh_grid_size <= 256:
        parser.error("--mesh-grid-size must be 16 to 256 (generation.mesh_grid_size)")
    if not args.pipelines and not args.model_dir:
        parser.error("nothing to run: give --pipelines or --model-dir")
    return args


def run_case(case: Case, gateway: Gateway, stack: StackProcess, args: argparse.Namespace) -> Summary:
    print(heading(f"{case.label}: {case.kind}, {case.what}, {args.runs} runs per path"), flush=True)
    started = time.perf_counter()
    direct = DirectPipeline(case, stack.work_dir / "direct-writes")
    try:
        print(f"  loaded here in {time.perf_counter() - started:.1f} s ({direct.device})", flush=True)
        samples = measure(case, direct, gateway, args)
    finally:
        direct.close()
    summary = report(case, samples, stack.log_file)
    print(f"({time.perf_counter() - started:.1f} s)", flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    print("Pluggably generation benchmark")
    print(machine_facts())
    print(
        "server:    own process (gRPC server + Envoy), generation.max_concurrency 1, "
        f"mesh_grid_size {args.mesh_grid_size}; the direct runs in this process, one pipeline loaded at a time"
    )
    versions = ", ".join(f"{name} {_version(name)}" for name in ("diffusers", "optimum", "trimesh", "pillow"))
    print(f"also:      {versions}")
    print(f"target:    {TARGET}")
    sys.stdout.flush()
    started = time.perf_counter()
    models_dir = Path(tempfile.mkdtemp(prefix="pluggably-bench-models-"))
    try:
        tiny_dir = args.tiny_dir.resolve() if args.tiny_dir else models_dir
        tiny_dir.mkdir(parents=True, exist_ok=True)
        build_tiny_pipelines(tiny_dir, args.pipelines)
        if tiny_dir != models_dir:
            for folder in tiny_dir.iterdir():
                (models_dir / folder.name).symlink_to(folder, target_is_directory=True)
        print(f"tiny pipelines ready in {time.perf_counter() - started:.1f} s", flush=True)
        local_ids = local_model_ids(models_dir, args.model_dir)
        cases = tiny_cases(models_dir, args)
        preload = list(dict.fromkeys([case.model_id for case in cases] + local_ids))
        serve_args = ["--models-dir", str(models_dir), "--default-model", preload[0], "--max-concurrency", "1"]
        for model_id in preload:
            serve_args += ["--preload", model_id]
        stack = StackProcess(serve_args, args.start_timeout, args.keep_logs)
        with contextlib.ExitStack() as running:
            with environment(server_environment(args)):  # the server's only: restored once it has started
                endpoints = running.enter_context(stack)
            print(f"server ready in {time.perf_counter() - started:.1f} s", flush=True)
            gateway = Gateway(endpoints)
            try:
                cases += local_cases(gateway, models_dir, local_ids, args)
                summaries = [run_case(case, gateway, stack, args) for case in cases]
            except Exception:
                print_log_tail(stack.log_file)
                raise
            finally:
                gateway.close()
        print_summary(summaries)
    finally:
        shutil.rmtree(models_dir, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
