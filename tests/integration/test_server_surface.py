"""Health, reflection and the methods of later releases (SYS-REQ-007, SYS-NFR-002, SYS-REQ-015)."""

from __future__ import annotations

import grpc
import pytest
from google.longrunning import operations_pb2
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from pluggably.app import SERVICE_NAMES, start_gateway
from pluggably.v1 import model_service_pb2, model_service_pb2_grpc
from tests.support.loopback import settings_for_test
from tests.support.status import from_rpc_error
from tests.support.tiny_models import CHAT_MODEL_ID, PLAIN_MODEL_ID

IMPLEMENTED = {
    "pluggably.v1.TextService/GenerateText",
    "pluggably.v1.TextService/StreamText",
    "pluggably.v1.ModelService/ListModels",
    "pluggably.v1.ModelService/GetModel",
    "pluggably.v1.ModelService/UpdateModel",
    "pluggably.v1.ModelService/CreateModel",
    "pluggably.v1.ModelService/DeleteModel",
    "pluggably.v1.ModelService/DiscoverModels",
    "pluggably.v1.ModelService/DownloadModel",
    "pluggably.v1.ModelService/GetStorage",
    "pluggably.v1.ModelService/CleanupStorage",
    "pluggably.v1.OperationWatchService/WatchOperation",
    "google.longrunning.Operations/ListOperations",
    "google.longrunning.Operations/GetOperation",
    "google.longrunning.Operations/DeleteOperation",
    "google.longrunning.Operations/CancelOperation",
    "google.longrunning.Operations/WaitOperation",
    "pluggably.v1.ImageService/GenerateImages",
    "pluggably.v1.ImageService/GenerateImagesLongRunning",
    "pluggably.v1.MeshService/GenerateMesh",
    "pluggably.v1.ArtifactService/GetArtifact",
    "pluggably.v1.ArtifactService/ListArtifacts",
    "pluggably.v1.ArtifactService/DeleteArtifact",
    "pluggably.v1.ArtifactService/DownloadArtifact",
}
assert operations_pb2  # registers google.longrunning.Operations in the descriptor pool


def all_methods() -> list[tuple[str, object]]:
    pool = descriptor_pool.Default()
    methods = []
    for service_name in SERVICE_NAMES:
        service = pool.FindServiceByName(service_name)
        methods += [(f"{service.full_name}/{m.name}", m) for m in service.methods]
    return methods


NOT_YET = [(name, method) for name, method in all_methods() if name not in IMPLEMENTED]


@pytest.mark.parametrize(("name", "method"), NOT_YET, ids=[name for name, _ in NOT_YET])
async def test_methods_of_later_releases_answer_feature_not_supported(channel, name, method) -> None:
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    kind = channel.unary_stream if method.server_streaming else channel.unary_unary
    call = kind(
        f"/{name}", request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString
    )(request_class())
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        if method.server_streaming:
            async for _ in call:
                pass
        else:
            await call
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    status = from_rpc_error(raised.value)
    assert status.reason == "FEATURE_NOT_SUPPORTED"
    assert status.metadata["method"] == name
    assert "not available on this server yet" in status.message


async def test_sys_req_007_health_is_not_serving_until_models_are_loaded(tiny_models_dir, tmp_path) -> None:
    """Each service says SERVING only when it can serve: with text models only, image and mesh generation cannot
    (they answer, with NO_MODEL_FOR_MODALITY), and the schema service is not built."""
    gateway = await start_gateway(settings_for_test(tmp_path, tiny_models_dir))
    cannot_serve = {"pluggably.v1.ImageService", "pluggably.v1.MeshService", "pluggably.v1.SchemaService"}
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", *SERVICE_NAMES):
                answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
                assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
            await gateway.preload()
            for service in ("", *SERVICE_NAMES):
                answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
                expected = "NOT_SERVING" if service in cannot_serve else "SERVING"
                assert health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status) == expected, service
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
            await gateway.health.servicer.enter_graceful_shutdown()
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
            watch.cancel()
    finally:
        await gateway.stop(0)


async def test_reflection_lists_every_service(channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    async for response in responses:
        listed = {s.name for s in response.list_services_response.service}
        break
    assert set(SERVICE_NAMES) <= listed
    assert "grpc.health.v1.Health" in listed


async def test_sys_req_015_list_models_shows_capabilities(channel) -> None:
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    models = {m.name: m for m in (await stub.ListModels(model_service_pb2.ListModelsRequest())).models}
    assert set(models) == {f"models/{CHAT_MODEL_ID}", f"models/{PLAIN_MODEL_ID}"}
    chat = models[f"models/{CHAT_MODEL_ID}"]
    assert chat.capabilities.context_length == 4096 and chat.capabilities.chat
    assert list(chat.runtimes) == [1, 2]  # RUNTIME_ONNX, RUNTIME_TORCH: preferred first
    assert chat.aliases == ["tiny-chat"] and chat.state == model_service_pb2.Model.READY
    assert chat.size_bytes > 0 and chat.hardware.memory_bytes > 0
    plain = models[f"models/{PLAIN_MODEL_ID}"]
    assert not plain.capabilities.chat and plain.capabilities.context_length == 64


async def test_list_models_paginates_and_filters(channel) -> None:
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    first = await stub.ListModels(model_service_pb2.ListModelsRequest(page_size=1))
    assert [m.name for m in first.models] == [f"models/{PLAIN_MODEL_ID}"] and first.next_page_token
    second = await stub.ListModels(model_service_pb2.ListModelsRequest(page_size=1, page_token=first.next_page_token))
    assert [m.name for m in second.models] == [f"models/{CHAT_MODEL_ID}"] and not second.next_page_token
    chat_only = await stub.ListModels(
        model_service_pb2.ListModelsRequest(
            filter="modality = MODALITY_TEXT AND runtimes:RUNTIME_ONNX AND state = READY"
        )
    )
    assert len(chat_only.models) == 2
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ListModels(model_service_pb2.ListModelsRequest(filter="colour = blue"))
    assert "filter" in from_rpc_error(raised.value).field_violations


async def test_get_model_by_alias_and_unknown_model(channel) -> None:
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    model = await stub.GetModel(model_service_pb2.GetModelRequest(name="models/tiny-chat"))
    assert model.name == f"models/{CHAT_MODEL_ID}"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetModel(model_service_pb2.GetModelRequest(name="models/nope"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert from_rpc_error(raised.value).reason == "NOT_FOUND"
