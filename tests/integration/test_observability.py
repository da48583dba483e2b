"""Request ids, structured logs and prompt privacy (SYS-NFR-005, DATA-REQ-003, SYS-NFR-001)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time

import grpc
import pytest

from pluggably.logs import JsonFormatter
from pluggably.rpc.interceptors import default_interceptors
from pluggably.v1 import model_service_pb2, model_service_pb2_grpc, text_service_pb2, text_service_pb2_grpc

SECRET_PROMPT = "my secret diary entry 4711"


def request() -> text_service_pb2.GenerateTextRequest:
    return text_service_pb2.GenerateTextRequest(
        messages=[text_service_pb2.ChatMessage(role="user", content=SECRET_PROMPT)], max_output_tokens=8
    )


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


async def test_sys_nfr_005_request_id_is_echoed_and_in_every_log_line(channel, caplog) -> None:
    caplog.set_level(logging.INFO)
    call = text_service_pb2_grpc.TextServiceStub(channel).GenerateText(
        request(), metadata=(("x-request-id", "req-abc-123"),)
    )
    await call
    assert ("x-request-id", "req-abc-123") in tuple(await call.initial_metadata())
    lines = [line for line in json_lines(caplog) if line.get("request_id") == "req-abc-123"]
    access = next(line for line in lines if line["logger"] == "pluggably.access")
    assert access["method"] == "/pluggably.v1.TextService/GenerateText"
    assert access["status"] == "OK"
    assert access["latency_ms"] > 0
    assert access["model"] == "models/tiny-llama-chat"
    assert access["output_tokens"] == 8 and access["input_tokens"] > 0
    assert any(line["message"] == "generation finished" for line in lines)


async def test_a_request_id_is_made_when_the_caller_sends_none(channel) -> None:
    call = model_service_pb2_grpc.ModelServiceStub(channel).ListModels(model_service_pb2.ListModelsRequest())
    await call
    request_id = dict(tuple(await call.initial_metadata()))["x-request-id"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0


async def test_data_req_003_prompts_and_outputs_stay_out_of_the_logs_by_default(channel, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    response = await text_service_pb2_grpc.TextServiceStub(channel).GenerateText(request())
    stream = text_service_pb2_grpc.TextServiceStub(channel).StreamText(request())
    async for _ in stream:
        pass
    logged = "\n".join(json.dumps(line) for line in json_lines(caplog))
    assert "tiny-llama-chat" in logged  # the log is there, just not the text
    assert SECRET_PROMPT not in logged
    assert response.text.strip() and response.text.strip() not in logged


async def test_data_req_003_operators_can_turn_prompt_logging_on(gateway_factory, caplog) -> None:
    caplog.set_level(logging.INFO)
    async with (
        gateway_factory(logging={"log_prompts": True}) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        response = await text_service_pb2_grpc.TextServiceStub(channel).GenerateText(request())
    lines = json_lines(caplog)
    assert any(SECRET_PROMPT in json.dumps(line) for line in lines if line["message"] == "prompt")
    assert any(line.get("text") == response.text for line in lines if line["message"] == "output")


class _EndlessText(text_service_pb2_grpc.TextServiceServicer):
    async def StreamText(self, request, context):  # type: ignore[no-untyped-def]
        while True:
            yield text_service_pb2.StreamTextResponse(text="x")


async def test_sys_nfr_005_abandoned_streams_are_logged_cancelled(caplog) -> None:
    """A client that leaves mid-stream is CANCELLED in the access log, wherever its stream was when it left:
    inside the servicer or between two messages (when grpc drops the stream without a CancelledError)."""
    caplog.set_level(logging.INFO, logger="pluggably.access")
    server = grpc.aio.server(interceptors=default_interceptors())
    text_service_pb2_grpc.add_TextServiceServicer_to_server(_EndlessText(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    abandoned = 40
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = text_service_pb2_grpc.TextServiceStub(channel)
            for _ in range(abandoned):
                call = stub.StreamText(request())
                for _ in range(3):
                    await call.read()
                call.cancel()
            deadline = time.monotonic() + 10
            while len(access_lines(caplog)) < abandoned and time.monotonic() < deadline:
                gc.collect()  # a dropped stream is closed when it is collected
                await asyncio.sleep(0.05)
    finally:
        await server.stop(0)
    assert [line["status"] for line in access_lines(caplog)] == ["CANCELLED"] * abandoned


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [line for line in json_lines(caplog) if line["logger"] == "pluggably.access"]
