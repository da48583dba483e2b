"""Local image and 3D generation over gRPC, on a real server with tiny diffusers pipelines.

SYS-REQ-003 / SYS-REQ-004 (local image and mesh runners behind standard endpoints), SYS-REQ-016 (outputs stored as
artifacts), SYS-REQ-013 (long-running operations with progress and cancel), SYS-NFR-003 (a cancel frees the slot
within one denoising step), SYS-NFR-002 (errors name their reason and fields).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
import trimesh
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2
from PIL import Image

from pluggably.app import Gateway
from pluggably.core.generation.common import GeneratedFile
from pluggably.v1 import (
    artifact_service_pb2,
    artifact_service_pb2_grpc,
    common_pb2,
    image_service_pb2,
    image_service_pb2_grpc,
    mesh_service_pb2,
    mesh_service_pb2_grpc,
    operation_watch_service_pb2,
    operation_watch_service_pb2_grpc,
)
from tests.conftest import FAST_MESHES
from tests.support.artifacts import download
from tests.support.status import from_rpc_error, from_status
from tests.support.tiny_models import CHAT_MODEL_ID
from tests.support.tiny_pipelines import TINY_SD, TINY_SD_ONNX, TINY_SHAP_E, TINY_SHAP_E_IMG2IMG, build_tiny_shap_e
from tests.support.waiting import wait_until

ImagesRequest = image_service_pb2.GenerateImagesRequest
MeshRequest = mesh_service_pb2.GenerateMeshRequest
LONG_STEPS = 1000  # tens of seconds of denoising: only a cancel ends it early
ONE_SLOT = {"max_concurrency": 1, "max_denoising_steps": LONG_STEPS, **FAST_MESHES}


class Client:
    def __init__(self, gateway: Gateway, channel: grpc.aio.Channel) -> None:
        self.gateway = gateway
        self.channel = channel
        self.images = image_service_pb2_grpc.ImageServiceStub(channel)
        self.meshes = mesh_service_pb2_grpc.MeshServiceStub(channel)
        self.artifacts = artifact_service_pb2_grpc.ArtifactServiceStub(channel)
        self.operations = operations_pb2_grpc.OperationsStub(channel)
        self.watch = operation_watch_service_pb2_grpc.OperationWatchServiceStub(channel)

    async def wait(self, name: str, timeout_s: int = 60) -> operations_pb2.Operation:
        request = operations_pb2.WaitOperationRequest(name=name, timeout=duration_pb2.Duration(seconds=timeout_s))
        done = await self.operations.WaitOperation(request)
        assert done.done, f"{name} did not finish within {timeout_s} s"
        return done

    async def progress(self, name: str) -> AsyncIterator[tuple[operations_pb2.Operation, object]]:
        """Each change of an operation, with its unpacked metadata, until it is done."""
        request = operation_watch_service_pb2.WatchOperationRequest(name=name)
        async for snapshot in self.watch.WatchOperation(request):
            kind = "GenerateMeshMetadata" if "Mesh" in snapshot.metadata.type_url else "GenerateImagesMetadata"
            metadata = getattr(mesh_service_pb2 if "Mesh" in kind else image_service_pb2, kind)()
            snapshot.metadata.Unpack(metadata)
            yield snapshot, metadata


@pytest_asyncio.fixture(scope="module")
async def client(gateway_factory, all_models_dir: Path) -> AsyncIterator[Client]:
    async with (
        gateway_factory(models_dir=all_models_dir, generation=ONE_SLOT) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        yield Client(gateway, channel)


def image_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def response_of(operation: operations_pb2.Operation, response_type: type) -> object:
    response = response_type()
    assert operation.response.Unpack(response), operation
    return response


async def test_sys_req_004_images_are_stored_as_pngs_of_the_requested_size(client: Client) -> None:
    request = ImagesRequest(prompt="a red chair", width=64, height=96, image_count=2, steps=2, seed=5)
    response = await client.images.GenerateImages(request)
    assert len(response.images) == 2 and response.usage.images == 2
    assert response.served_by.model == f"models/{TINY_SD}"  # no model named: the first image model serves
    assert response.served_by.runtime == common_pb2.RUNTIME_TORCH and response.served_by.device == "cpu"
    for artifact in response.images:
        data = await download(client.channel, artifact)
        assert artifact.mime_type == "image/png" and artifact.size_bytes == len(data)
        assert artifact.sha256 == hashlib.sha256(data).hexdigest()
        assert artifact.model == f"models/{TINY_SD}"
        assert artifact.download_uri.startswith("https://localhost:")
        image = image_of(data)
        assert (image.format, image.size) == ("PNG", (64, 96))
    assert response.images[0].sha256 != response.images[1].sha256


async def test_the_same_seed_and_parameters_give_the_same_images(client: Client) -> None:
    request = ImagesRequest(prompt="a teapot", steps=2, seed=77)
    first, second = [await client.images.GenerateImages(request) for _ in range(2)]
    assert first.images[0].sha256 == second.images[0].sha256
    other = await client.images.GenerateImages(ImagesRequest(prompt="a teapot", steps=2, seed=78))
    assert other.images[0].sha256 != first.images[0].sha256


@pytest.mark.parametrize(
    ("image_format", "pil_format", "mime_type"),
    [
        (image_service_pb2.IMAGE_FORMAT_JPEG, "JPEG", "image/jpeg"),
        (image_service_pb2.IMAGE_FORMAT_WEBP, "WEBP", "image/webp"),
    ],
)
async def test_onnx_runtime_and_other_formats(client: Client, image_format, pil_format, mime_type) -> None:
    model = common_pb2.ModelSelection(id=TINY_SD_ONNX, runtime=common_pb2.RUNTIME_ONNX)
    request = ImagesRequest(model=model, prompt="a house", steps=2, seed=1, format=image_format)
    response = await client.images.GenerateImages(request)
    assert response.served_by.runtime == common_pb2.RUNTIME_ONNX
    assert response.served_by.device == "CPUExecutionProvider"
    (artifact,) = response.images
    assert artifact.mime_type == mime_type
    image = image_of(await download(client.channel, artifact))
    assert (image.format, image.size) == (pil_format, (64, 64))


async def test_sys_nfr_002_every_bad_image_parameter_is_named_at_once(client: Client) -> None:
    request = ImagesRequest(prompt="x", width=65, image_count=5, steps=LONG_STEPS + 1, guidance_scale=31, seed=-1)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.images.GenerateImages(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = from_rpc_error(raised.value)
    assert status.reason == "VALIDATION_ERROR"
    assert {"image_count", "guidance_scale", "seed"} <= set(status.field_violations)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.images.GenerateImages(ImagesRequest(prompt="x", width=65, height=4096, steps=LONG_STEPS + 1))
    assert set(from_rpc_error(raised.value).field_violations) == {"width", "height", "steps"}
    assert "multiple of 8" in from_rpc_error(raised.value).field_violations["width"]


async def test_a_text_model_asked_for_images_is_not_supported(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.images.GenerateImages(ImagesRequest(model={"id": CHAT_MODEL_ID}, prompt="x"))
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert from_rpc_error(raised.value).reason == "FEATURE_NOT_SUPPORTED"


async def test_sys_nfr_003_cancelling_mid_denoise_frees_the_slot_within_one_step(client: Client) -> None:
    admission = client.gateway.admission
    call = client.images.GenerateImages(ImagesRequest(prompt="a long one", steps=LONG_STEPS, seed=2))
    await wait_until(lambda: admission.active == 1, timeout_s=30, what="the generation to start")
    await asyncio.sleep(0.5)  # well into denoising
    cancelled = time.monotonic()
    call.cancel()
    await wait_until(lambda: admission.active == 0, timeout_s=2, what="the slot to be freed")
    freed_in = time.monotonic() - cancelled
    # A step of the tiny pipeline takes tens of milliseconds; the slot is free well within a second.
    assert freed_in < 1.0, freed_in
    quick = await client.images.GenerateImages(ImagesRequest(prompt="next", steps=1, seed=3), timeout=30)
    assert len(quick.images) == 1


async def test_sys_req_013_images_as_an_operation_report_each_step(client: Client) -> None:
    started = await client.images.GenerateImagesLongRunning(ImagesRequest(prompt="a cat", steps=4, seed=8))
    assert started.name.startswith("operations/") and not started.done
    stages, steps = [], []
    async for snapshot, metadata in client.progress(started.name):
        stages.append(metadata.stage)
        steps.append(metadata.steps_done)
        assert metadata.steps_total == 4
        last = snapshot
    assert last.done and not last.HasField("error")
    assert stages[-1] == common_pb2.GENERATION_STAGE_DONE and stages == sorted(stages)
    assert common_pb2.GENERATION_STAGE_DENOISING in stages and steps == sorted(steps) and steps[-1] == 4
    response = response_of(last, image_service_pb2.GenerateImagesResponse)
    assert len(response.images) == 1 and response.served_by.model == f"models/{TINY_SD}"
    assert image_of(await download(client.channel, response.images[0])).size == (64, 64)
    # The operation keeps the parameters, never the prompt (DATA-REQ-003).
    record = client.gateway.operations.get(started.name)
    assert record.request["steps"] == 4 and "prompt" not in record.request


async def test_an_image_operation_can_be_cancelled(client: Client) -> None:
    started = await client.images.GenerateImagesLongRunning(ImagesRequest(prompt="slow", steps=LONG_STEPS))
    async for _, metadata in client.progress(started.name):
        if metadata.steps_done >= 2:
            break
    await client.operations.CancelOperation(operations_pb2.CancelOperationRequest(name=started.name))
    done = await client.wait(started.name)
    assert done.error.code == code_pb2.CANCELLED
    await wait_until(lambda: client.gateway.admission.active == 0, timeout_s=2)


async def test_sys_req_004_a_mesh_operation_ends_with_a_glb_that_trimesh_loads(client: Client) -> None:
    started = await client.meshes.GenerateMesh(MeshRequest(prompt="a ball", steps=3, seed=4))
    stages = []
    async for snapshot, metadata in client.progress(started.name):
        stages.append(metadata.stage)
        last = snapshot
    assert not last.HasField("error"), last.error
    for stage in ("DENOISING", "DECODING", "STORING", "DONE"):
        assert common_pb2.GenerationStage.Value(f"GENERATION_STAGE_{stage}") in stages
    response = response_of(last, mesh_service_pb2.GenerateMeshResponse)
    assert response.usage.meshes == 1 and response.served_by.model == f"models/{TINY_SHAP_E}"
    assert response.mesh.mime_type == "model/gltf-binary"
    data = await download(client.channel, response.mesh)
    mesh = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh", process=False)
    assert (len(mesh.vertices), len(mesh.faces)) == (response.vertex_count, response.face_count)
    assert response.vertex_count > 100 and mesh.is_watertight


@pytest.mark.parametrize(("mesh_format", "file_type"), [(mesh_service_pb2.MESH_FORMAT_OBJ, "obj"), (3, "ply")])
async def test_meshes_as_obj_and_ply(client: Client, mesh_format: int, file_type: str) -> None:
    started = await client.meshes.GenerateMesh(MeshRequest(prompt="a ball", steps=2, seed=4, format=mesh_format))
    response = response_of(await client.wait(started.name), mesh_service_pb2.GenerateMeshResponse)
    data = await download(client.channel, response.mesh)
    mesh = trimesh.load(io.BytesIO(data), file_type=file_type, force="mesh", process=False)
    assert (len(mesh.vertices), len(mesh.faces)) == (response.vertex_count, response.face_count)


async def test_a_mesh_operation_can_be_cancelled_mid_denoise(client: Client) -> None:
    started = await client.meshes.GenerateMesh(MeshRequest(prompt="a slow ball", steps=LONG_STEPS))
    async for _, metadata in client.progress(started.name):
        if metadata.stage == common_pb2.GENERATION_STAGE_DENOISING:
            break
    await client.operations.CancelOperation(operations_pb2.CancelOperationRequest(name=started.name))
    done = await client.wait(started.name)
    assert done.error.code == code_pb2.CANCELLED
    await wait_until(lambda: client.gateway.admission.active == 0, timeout_s=2)


async def test_an_empty_mesh_is_an_error_and_stores_nothing(gateway_factory, tmp_path: Path) -> None:
    build_tiny_shap_e(tmp_path / "models" / "hollow", surface=False)
    async with (
        gateway_factory(models_dir=tmp_path / "models", generation=FAST_MESHES, models={"preload": ()}) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        client = Client(gateway, channel)
        done = await client.wait((await client.meshes.GenerateMesh(MeshRequest(prompt="nothing", steps=2))).name)
        listed = await client.artifacts.ListArtifacts(artifact_service_pb2.ListArtifactsRequest())
    assert done.error.code == code_pb2.FAILED_PRECONDITION
    status = from_status(done.error)
    assert status.reason == "EMPTY_MESH" and "another seed" in status.message
    assert not listed.artifacts and gateway.artifacts.stored_bytes() == 0


async def test_sys_req_016_outputs_over_the_artifact_budget_are_refused(gateway_factory, all_models_dir) -> None:
    async with (
        gateway_factory(models_dir=all_models_dir, models={"preload": ()}, artifacts={"budget_bytes": 1000}) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        client = Client(gateway, channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.images.GenerateImages(ImagesRequest(prompt="too big to keep", steps=1, seed=1))
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        status = from_rpc_error(raised.value)
        assert status.reason == "QUOTA_EXCEEDED" and "does not fit" in status.message
        assert "over their budget" in status.quota_violations["artifacts.budget_bytes"]
        assert gateway.artifacts.stored_bytes() == 0
        # A full store refuses the next request before it generates anything.
        await gateway.artifacts.store(GeneratedFile(b"x" * 1000, "image/png"), "models/elsewhere")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.images.GenerateImages(ImagesRequest(prompt="refused at once", steps=100))
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "is full" in from_rpc_error(raised.value).message


async def test_a_generation_interrupted_by_a_restart_fails_clearly(gateway_factory, all_models_dir, tmp_path) -> None:
    data_dir = tmp_path / "data"
    async with (
        gateway_factory(
            models_dir=all_models_dir, data_dir=data_dir, models={"preload": ()}, generation=ONE_SLOT
        ) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        started = await Client(gateway, channel).images.GenerateImagesLongRunning(
            ImagesRequest(prompt="interrupted", steps=LONG_STEPS)
        )
        await wait_until(lambda: gateway.admission.active == 1, timeout_s=30)
    async with (
        gateway_factory(models_dir=all_models_dir, data_dir=data_dir, models={"preload": ()}) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        done = await Client(gateway, channel).wait(started.name)
    assert done.error.code == code_pb2.UNAVAILABLE
    assert from_status(done.error).reason == "BACKEND_UNAVAILABLE" and "start it again" in done.error.message


def png_of(size: tuple[int, int] = (48, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, format="PNG")
    return out.getvalue()


async def test_sys_req_004_image_to_3d_from_inline_bytes_or_a_generated_artifact(client: Client) -> None:
    """Shap-E img2img: the input image comes in the request, or is named as an artifact (here, a generated one)."""
    model = common_pb2.ModelSelection(id=TINY_SHAP_E_IMG2IMG)
    generated = (await client.images.GenerateImages(ImagesRequest(prompt="a vase", steps=1, seed=1))).images[0]
    for image in (mesh_service_pb2.InputImage(data=png_of()), mesh_service_pb2.InputImage(artifact=generated.name)):
        started = await client.meshes.GenerateMesh(MeshRequest(model=model, image=image, steps=2, seed=3))
        done = await client.wait(started.name)
        assert not done.HasField("error"), done.error
        response = response_of(done, mesh_service_pb2.GenerateMeshResponse)
        assert response.served_by.model == f"models/{TINY_SHAP_E_IMG2IMG}" and response.vertex_count > 100
        data = await download(client.channel, response.mesh)
        mesh = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh", process=False)
        assert len(mesh.faces) == response.face_count
        assert "image" not in client.gateway.operations.get(started.name).request  # never stored in the record


@pytest.mark.parametrize(
    ("model_id", "fields", "field"),
    [
        (TINY_SHAP_E_IMG2IMG, {"image": {"data": b"not an image at all"}}, "image.data"),
        (TINY_SHAP_E_IMG2IMG, {"image": {"artifact": "artifacts/0123456789abcdef"}}, "image.artifact"),
        (TINY_SHAP_E_IMG2IMG, {"image": {}}, "image"),
        (TINY_SHAP_E_IMG2IMG, {"prompt": "a prompt, no image"}, "image"),
        (TINY_SHAP_E_IMG2IMG, {"prompt": "both", "image": {"data": png_of()}}, "prompt"),
        (TINY_SHAP_E, {"image": {"data": png_of()}}, "image"),  # a text-to-3D model
    ],
)
async def test_sys_nfr_002_a_bad_input_image_is_a_validation_error(client: Client, model_id, fields, field) -> None:
    request = MeshRequest(model={"id": model_id}, steps=2, **fields)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.meshes.GenerateMesh(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in from_rpc_error(raised.value).field_violations


async def test_an_artifact_that_is_not_an_image_is_refused_as_input(client: Client) -> None:
    started = await client.meshes.GenerateMesh(MeshRequest(prompt="a ball", steps=2, seed=1))
    glb = response_of(await client.wait(started.name), mesh_service_pb2.GenerateMeshResponse).mesh
    request = MeshRequest(model={"id": TINY_SHAP_E_IMG2IMG}, image={"artifact": glb.name}, steps=2)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.meshes.GenerateMesh(request)
    assert "not an image" in from_rpc_error(raised.value).field_violations["image.artifact"]
