"""The contract every generation backend meets, run on each: text (ONNX, torch), image (Stable Diffusion and SDXL on
torch, Stable Diffusion on ONNX), mesh (Shap-E from text and from an image, torch).

SYS-NFR-004 (one seam for every backend), SYS-REQ-003 (local runners), SYS-NFR-003 (bounded: a stopped
generation frees its worker within one step). The backends come from the composition root's own registry
(`local_backends`), loaded from the tiny models of tests/support; nothing here knows a runner's internals.
"""

from __future__ import annotations

import asyncio
import io
import random
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pluggably.app import local_backends
from pluggably.core.errors import BackendUnavailableError, ValidationError
from pluggably.core.generation.backends import (
    BackendFactory,
    ImageDescription,
    MeshDescription,
    TextDescription,
)
from pluggably.core.generation.common import ModelSelection, Progress, Stage
from pluggably.core.generation.image_validation import resolve_image_job
from pluggably.core.generation.images import ImageFormat, ImageJob, ImageRequest, ImagesGenerated
from pluggably.core.generation.mesh_validation import resolve_mesh_job
from pluggably.core.generation.meshes import InputImage, MeshFormat, MeshGenerated, MeshJob, MeshRequest
from pluggably.core.generation.pool import ModelPool
from pluggably.core.generation.router import Route
from pluggably.core.generation.text import SamplingParams, TextDelta, TextFinished, TextRequest
from pluggably.core.models import LOCAL_PROVIDER, Modality, ModelInfo, Runtime
from pluggably.core.models.discovery import describe_model, discover_models
from pluggably.settings import Settings
from tests.support.tiny_models import CHAT_MODEL_ID
from tests.support.tiny_pipelines import TINY_SD, TINY_SD_ONNX, TINY_SDXL, TINY_SHAP_E, TINY_SHAP_E_IMG2IMG

# A long job: many seconds of work, so that only a stop ends it early.
LONG = 3000


@dataclass(frozen=True)
class Case:
    """One backend, and how to give it work and read its output."""

    id: str
    modality: Modality
    runtime: Runtime
    model_id: str
    job: Callable[[int, int], Any]  # (seed, length: tokens or steps) -> what `stream` takes
    output: Callable[[Any], bytes]  # the last event -> comparable bytes
    describes: type

    def long_job(self, seed: int) -> Any:
        """Seconds of work, which only a stop ends early."""
        work = self.job(seed, LONG)
        # Greedy: the tiny chat model never picks its end-of-sequence token then (sampling may).
        return replace(work, params=replace(work.params, temperature=0.0)) if self.modality is Modality.TEXT else work


def _text(seed: int, length: int) -> TextRequest:
    return TextRequest(
        ModelSelection(), prompt="Once upon a time", params=SamplingParams(length, 1.0, 0.95, 0, (), seed)
    )


def _image(seed: int, length: int) -> ImageJob:
    return ImageJob("a red chair", "", 64, 64, 1, length, None, seed, ImageFormat.PNG)


def _mesh(seed: int, length: int) -> MeshJob:
    return MeshJob("a ball", None, length, None, seed, MeshFormat.GLB)


def _png(seed: int) -> bytes:
    """A small photo-like input: noise of the seed, as a PNG file."""
    rng = random.Random(seed)
    image = Image.new("RGB", (48, 40))
    image.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(48 * 40)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _mesh_from_image(seed: int, length: int) -> MeshJob:
    return MeshJob("", _png(seed), length, None, seed, MeshFormat.GLB)


CASES = [
    Case("text-onnx", Modality.TEXT, Runtime.ONNX, CHAT_MODEL_ID, _text, lambda e: e, TextDescription),
    Case("text-torch", Modality.TEXT, Runtime.TORCH, CHAT_MODEL_ID, _text, lambda e: e, TextDescription),
    Case(
        "image-torch",
        Modality.IMAGE,
        Runtime.TORCH,
        TINY_SD,
        _image,
        lambda e: b"".join(i.data for i in e.images),
        ImageDescription,
    ),
    Case(
        "image-sdxl-torch",
        Modality.IMAGE,
        Runtime.TORCH,
        TINY_SDXL,
        _image,
        lambda e: b"".join(i.data for i in e.images),
        ImageDescription,
    ),
    Case(
        "image-onnx",
        Modality.IMAGE,
        Runtime.ONNX,
        TINY_SD_ONNX,
        _image,
        lambda e: b"".join(i.data for i in e.images),
        ImageDescription,
    ),
    Case("mesh-torch", Modality.MESH, Runtime.TORCH, TINY_SHAP_E, _mesh, lambda e: e.file.data, MeshDescription),
    Case(
        "mesh-from-image-torch",
        Modality.MESH,
        Runtime.TORCH,
        TINY_SHAP_E_IMG2IMG,
        _mesh_from_image,
        lambda e: e.file.data,
        MeshDescription,
    ),
]


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    """One worker thread, like a gateway with one generation slot."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="conformance") as pool:
        yield pool


@pytest.fixture(scope="module")
def models(all_models_dir: Path) -> dict[str, ModelInfo]:
    return {m.id: m for m in discover_models(all_models_dir).models}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(generation={"mesh_grid_size": 32})


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


@pytest.fixture(scope="module")
def factory(case: Case, settings: Settings, executor: ThreadPoolExecutor) -> BackendFactory[Any]:
    registered = local_backends(settings, executor).factory(LOCAL_PROVIDER, case.runtime, case.modality)
    assert registered is not None, f"no {case.id} backend is registered"
    return registered


@pytest.fixture(scope="module")
def backend(case: Case, factory: BackendFactory[Any], models: dict[str, ModelInfo]) -> Iterator[Any]:
    loaded = factory.load(models[case.model_id])
    yield loaded
    loaded.close()


async def run(backend: Any, work: Any) -> list[Any]:
    async with aclosing(backend.stream(work)) as events:
        return [event async for event in events]


async def result(backend: Any, case: Case, seed: int, length: int = 16) -> bytes:
    events = await run(backend, case.job(seed, length))
    last = events[-1]
    if isinstance(last, TextFinished):  # text: the output is its deltas
        return "".join(e.text for e in events if isinstance(e, TextDelta)).encode()
    return case.output(last)


async def first_events(backend: Any, work: Any) -> AsyncIterator[Any]:
    async with aclosing(backend.stream(work)) as events:
        async for event in events:
            yield event


async def worker_is_free(executor: ThreadPoolExecutor, within_s: float) -> None:
    """The generation slot's thread takes new work at once: the stopped job is no longer on it."""
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.run_in_executor(executor, lambda: None), timeout=within_s)


def test_sys_nfr_004_describes_what_it_can_do_without_loading(case: Case, factory, models) -> None:
    description = factory.describe(models[case.model_id])
    assert isinstance(description, case.describes)
    match description:
        case TextDescription():
            assert description.context_length == 4096 and description.chat
        case ImageDescription():
            assert (description.default_width, description.default_height) == (64, 64)
            assert description.size_multiple == 8 and set(description.formats) == set(ImageFormat)
        case MeshDescription():
            assert description.text_input == (case.model_id == TINY_SHAP_E)
            assert set(description.formats) == set(MeshFormat)


def test_reports_the_device_it_really_runs_on(backend) -> None:
    assert backend.device in {"cpu", "CPUExecutionProvider"}


async def test_sys_req_003_a_stream_ends_with_exactly_one_result(case: Case, backend) -> None:
    events = await run(backend, case.job(1, 3))
    last, rest = events[-1], events[:-1]
    assert isinstance(last, TextFinished | ImagesGenerated | MeshGenerated)
    assert not any(isinstance(e, TextFinished | ImagesGenerated | MeshGenerated) for e in rest)
    if case.modality is Modality.TEXT:
        assert last.usage.output_tokens == 3 and last.usage.input_tokens > 0
    else:
        steps = [e.done for e in rest if isinstance(e, Progress) and e.stage is Stage.DENOISING]
        assert steps[-1] == 3 and steps == sorted(steps)
        assert [e.stage for e in rest][-1] is Stage.DECODING


async def test_the_same_seed_gives_the_same_output_and_another_seed_another(case: Case, backend) -> None:
    first = await result(backend, case, seed=11)
    assert first and await result(backend, case, seed=11) == first
    assert await result(backend, case, seed=12) != first


async def test_sys_nfr_003_closing_the_stream_stops_the_work_within_one_step(case: Case, backend, executor) -> None:
    started = time.monotonic()
    async for event in first_events(backend, case.long_job(3)):
        assert isinstance(event, Progress | TextDelta), event
        break  # leaving the loop closes the stream
    await worker_is_free(executor, within_s=1.0)
    assert time.monotonic() - started < 10, "the work ran far longer than one step after the stop"


async def test_a_deadline_stops_the_work_and_frees_the_worker(case: Case, backend, executor) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await run(backend, case.long_job(4))
    await worker_is_free(executor, within_s=1.0)


def _invalid_requests(case: Case) -> list[tuple[Any, str]]:
    if case.modality is Modality.IMAGE:
        base = ImageRequest(ModelSelection(), "a chair")
        return [
            (replace(base, width=65), "width"),
            (replace(base, height=8), "height"),
            (replace(base, image_count=5), "image_count"),
            (replace(base, steps=100_000), "steps"),
        ]
    if case.model_id == TINY_SHAP_E:
        base_mesh = MeshRequest(ModelSelection(), "a ball")
        wrong_input = replace(base_mesh, image=InputImage(data=_png(1)))
    else:
        base_mesh = MeshRequest(ModelSelection(), image=InputImage(data=_png(1)))
        wrong_input = replace(base_mesh, image=None)  # a prompt-less request of a model that wants an image
    return [(replace(base_mesh, steps=100_000), "steps"), (wrong_input, "image")]


async def test_sys_req_011_parameters_are_checked_against_what_the_backend_describes(
    case: Case, factory, backend, models
) -> None:
    if case.modality is Modality.TEXT:
        # Only the backend knows the prompt's length in its own tokens: it refuses before its first event.
        too_long = replace(case.job(1, 4), prompt="hello world " * 20_000)
        with pytest.raises(ValidationError) as caught:
            await run(backend, too_long)
        assert [v.field for v in caught.value.violations] == ["prompt"]
        return
    description = factory.describe(models[case.model_id])
    for request, field in _invalid_requests(case):
        with pytest.raises(ValidationError) as caught:
            if case.modality is Modality.IMAGE:
                resolve_image_job(request, description)
            else:
                resolve_mesh_job(request, description, request.image.data if request.image else None)
        assert field in {v.field for v in caught.value.violations}, (request, caught.value)


async def test_sys_nfr_002_a_model_that_cannot_load_is_backend_unavailable(
    case: Case, factory, models, tmp_path: Path
) -> None:
    broken = tmp_path / case.model_id
    shutil.copytree(Path(models[case.model_id].path), broken)
    for weights in [*broken.rglob("*.safetensors"), *broken.rglob("*.onnx")]:
        weights.write_bytes(b"not weights")
    model = describe_model(broken, case.model_id)
    route = Route(model, LOCAL_PROVIDER, case.runtime, factory)
    pool = ModelPool()
    with pytest.raises(BackendUnavailableError) as caught:
        async with pool.lease(route):
            pass
    assert caught.value.retry_after_s > 0
    assert caught.value.metadata["model"] == f"models/{case.model_id}"
    assert pool.requests(case.model_id) == 0 and not pool.loaded()
    pool.close()
