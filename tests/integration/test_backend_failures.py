"""A model that cannot load gives BACKEND_UNAVAILABLE with retry guidance (SYS-NFR-002)."""

from __future__ import annotations

import shutil

import grpc

from pluggably.v1 import common_pb2, text_service_pb2, text_service_pb2_grpc
from tests.support.status import from_rpc_error
from tests.support.tiny_models import CHAT_MODEL_ID


async def test_broken_weights_give_backend_unavailable(gateway_factory, tiny_models_dir, tmp_path) -> None:
    models_dir = tmp_path / "models"
    broken = models_dir / "broken-llama"
    shutil.copytree(tiny_models_dir / CHAT_MODEL_ID, broken)
    (broken / "pluggably.json").unlink()  # its aliases belong to the original
    (broken / "onnx" / "model.onnx").write_bytes(b"not an onnx graph")
    (broken / "model.safetensors").write_bytes(b"truncated")
    async with (
        gateway_factory(models_dir=models_dir, models={"default_text_model": "broken-llama", "preload": ()}) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
    ):
        stub = text_service_pb2_grpc.TextServiceStub(channel)
        for runtime in (common_pb2.RUNTIME_ONNX, common_pb2.RUNTIME_TORCH):
            request = text_service_pb2.GenerateTextRequest(
                model=common_pb2.ModelSelection(runtime=runtime), prompt="hi"
            )
            try:
                await stub.GenerateText(request)
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE
                status = from_rpc_error(error)
                assert status.reason == "BACKEND_UNAVAILABLE"
                assert status.retry_delay_s and status.retry_delay_s > 0
                assert status.metadata["model"] == "models/broken-llama"
            else:
                raise AssertionError("a model with broken weights generated text")
