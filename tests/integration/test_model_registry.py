"""The persistent model registry over gRPC: update, pin, delete, discovery, restarts.

SYS-REQ-010 (register and update models over time), SYS-REQ-018 (discovery),
DATA-REQ-005 (registry schema), SYS-NFR-002 (clear refusals).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2

from pluggably.v1 import model_service_pb2, model_service_pb2_grpc, text_service_pb2, text_service_pb2_grpc
from tests.support.status import from_rpc_error
from tests.support.tiny_models import CHAT_MODEL_ID, PLAIN_MODEL_ID

Model = model_service_pb2.Model


@pytest.fixture
def models_dir(tiny_models_dir: Path, tmp_path: Path) -> Path:
    """A private copy: these tests delete and move model folders."""
    copy = tmp_path / "models"
    shutil.copytree(tiny_models_dir, copy)
    return copy


def update(name: str, paths: list[str], **fields: object) -> model_service_pb2.UpdateModelRequest:
    return model_service_pb2.UpdateModelRequest(
        model=Model(name=name, **fields), update_mask=field_mask_pb2.FieldMask(paths=paths)
    )


async def test_sys_req_010_pins_aliases_and_labels_survive_a_restart(gateway_factory, models_dir, tmp_path) -> None:
    data_dir = tmp_path / "data"
    async with (
        gateway_factory(models_dir=models_dir, data_dir=data_dir) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        changed = await model_service_pb2_grpc.ModelServiceStub(channel).UpdateModel(
            update(
                f"models/{PLAIN_MODEL_ID}",
                ["pinned", "aliases", "labels", "display_name"],
                pinned=True,
                aliases=["plain", "gpt2-tiny"],
                labels={"team": "search"},
                display_name="Plain GPT-2",
            )
        )
        assert changed.pinned and list(changed.aliases) == ["plain", "gpt2-tiny"]
        assert changed.update_time.ToDatetime() >= changed.create_time.ToDatetime()
    async with (
        gateway_factory(models_dir=models_dir, data_dir=data_dir) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        model = await model_service_pb2_grpc.ModelServiceStub(channel).GetModel(
            model_service_pb2.GetModelRequest(name="models/gpt2-tiny")
        )
    assert model.name == f"models/{PLAIN_MODEL_ID}"
    assert model.pinned and model.labels == {"team": "search"} and model.display_name == "Plain GPT-2"


async def test_alias_taken_by_another_model_is_refused(gateway_factory, models_dir) -> None:
    async with (
        gateway_factory(models_dir=models_dir) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.UpdateModel(update(f"models/{PLAIN_MODEL_ID}", ["aliases"], aliases=["tiny-chat"]))
        assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert "tiny-chat" in raised.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.UpdateModel(update(f"models/{PLAIN_MODEL_ID}", ["colour"]))
        assert "update_mask" in from_rpc_error(raised.value).field_violations


async def test_delete_refuses_pinned_models_then_removes_files(gateway_factory, models_dir) -> None:
    async with (
        gateway_factory(models_dir=models_dir) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        name = f"models/{PLAIN_MODEL_ID}"
        await stub.UpdateModel(update(name, [], pinned=True))  # no mask: the fields given
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.DeleteModel(model_service_pb2.DeleteModelRequest(name=name))
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "pinned" in raised.value.details()
        assert (models_dir / PLAIN_MODEL_ID).is_dir()

        await stub.UpdateModel(update(name, ["pinned"], pinned=False))
        await stub.DeleteModel(model_service_pb2.DeleteModelRequest(name=name))
        assert not (models_dir / PLAIN_MODEL_ID).exists()
        assert not any(p.name.startswith(".trash") for p in models_dir.iterdir())
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetModel(model_service_pb2.GetModelRequest(name=name))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        # A scan does not bring it back.
        found = await stub.DiscoverModels(model_service_pb2.DiscoverModelsRequest())
        assert name not in found.added


async def test_delete_refuses_a_model_that_is_serving(gateway_factory, models_dir) -> None:
    async with (
        gateway_factory(models_dir=models_dir) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        stream = text_service_pb2_grpc.TextServiceStub(channel).StreamText(
            text_service_pb2.GenerateTextRequest(prompt="go on", max_output_tokens=3000)
        )
        await stream.read()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await model_service_pb2_grpc.ModelServiceStub(channel).DeleteModel(
                model_service_pb2.DeleteModelRequest(name=f"models/{CHAT_MODEL_ID}")
            )
        stream.cancel()
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "serving 1 request" in raised.value.details()
        assert (models_dir / CHAT_MODEL_ID).is_dir()


async def test_sys_req_018_discovery_on_request_adds_marks_missing_and_restores(gateway_factory, models_dir) -> None:
    parked = models_dir.parent / "parked"
    async with (
        gateway_factory(models_dir=models_dir) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        name = f"models/{PLAIN_MODEL_ID}"
        (models_dir / PLAIN_MODEL_ID).rename(parked)
        found = await stub.DiscoverModels(model_service_pb2.DiscoverModelsRequest())
        assert list(found.missing) == [name]
        gone = await stub.GetModel(model_service_pb2.GetModelRequest(name=name))
        assert gone.state == Model.MISSING and "gone" in gone.state_reason
        # Requests for it say why it cannot serve.
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await text_service_pb2_grpc.TextServiceStub(channel).GenerateText(
                text_service_pb2.GenerateTextRequest(model={"id": PLAIN_MODEL_ID}, prompt="hi", max_output_tokens=2)
            )
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "missing" in raised.value.details()

        parked.rename(models_dir / PLAIN_MODEL_ID)
        (models_dir / "copy-of-plain").mkdir()
        shutil.copytree(models_dir / PLAIN_MODEL_ID, models_dir / "copy-of-plain", dirs_exist_ok=True)
        (models_dir / "copy-of-plain" / "pluggably.json").unlink()
        found = await stub.DiscoverModels(model_service_pb2.DiscoverModelsRequest())
        assert list(found.added) == ["models/copy-of-plain"] and list(found.updated) == [name]
        back = await stub.GetModel(model_service_pb2.GetModelRequest(name=name))
        assert back.state == Model.READY and not back.state_reason


async def test_sys_req_010_create_registers_files_in_place_and_delete_leaves_them(
    gateway_factory, models_dir, tiny_models_dir, tmp_path
) -> None:
    outside = tmp_path / "elsewhere" / "my-chat"
    shutil.copytree(tiny_models_dir / CHAT_MODEL_ID, outside)
    (outside / "pluggably.json").unlink()
    async with (
        gateway_factory(models_dir=models_dir) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        created = await stub.CreateModel(
            model_service_pb2.CreateModelRequest(
                model_id="my-chat",
                model=Model(
                    source=model_service_pb2.ModelSource(local_path=str(outside)), aliases=["mine"], pinned=True
                ),
            )
        )
        assert created.name == "models/my-chat" and created.state == Model.READY
        assert created.source.local_path == str(outside) and created.pinned and list(created.aliases) == ["mine"]
        response = await text_service_pb2_grpc.TextServiceStub(channel).GenerateText(
            text_service_pb2.GenerateTextRequest(model={"id": "mine"}, prompt="hi", max_output_tokens=2)
        )
        assert response.served_by.model == "models/my-chat"

        await stub.UpdateModel(update("models/my-chat", ["pinned"], pinned=False))
        await stub.DeleteModel(model_service_pb2.DeleteModelRequest(name="models/my-chat"))
        assert (outside / "config.json").exists(), "files outside the models directory are the user's"

        for bad, field in (
            ("relative/x", "model.source.local_path"),
            (str(tmp_path / "nothing"), "model.source.local_path"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.CreateModel(
                    model_service_pb2.CreateModelRequest(
                        model_id="bad", model=Model(source=model_service_pb2.ModelSource(local_path=bad))
                    )
                )
            assert field in from_rpc_error(raised.value).field_violations
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateModel(
                model_service_pb2.CreateModelRequest(
                    model_id="inside",
                    model=Model(source=model_service_pb2.ModelSource(local_path=str(models_dir / PLAIN_MODEL_ID))),
                )
            )
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
