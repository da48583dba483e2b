"""Request ids, structured logs and prompt privacy (SYS-NFR-005, DATA-REQ-003, SYS-NFR-001)."""

from __future__ import annotations

import json
import logging

import grpc
import pytest

from pluggably.logs import JsonFormatter
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
