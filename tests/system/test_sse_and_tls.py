"""SSE streaming, TLS and native gRPC through Envoy.

SYS-REQ-017 / INT-REQ-002 (SSE streaming), SYS-NFR-008 (TLS), SYS-REQ-007
(gRPC health through the front), SYS-NFR-003 (a cancelled stream frees its resources).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from httpx_sse import aconnect_sse

from pluggably.stack import Stack
from pluggably.v1 import common_pb2, model_service_pb2, model_service_pb2_grpc, text_service_pb2, text_service_pb2_grpc
from tests.support.status import from_rpc_error
from tests.support.tiny_models import CHAT_MODEL_ID
from tests.system.conftest import base_url, grpc_target, wait_for_status


def chat(tokens: int) -> dict:
    return {"messages": [{"role": "user", "content": "Stream to me"}], "maxOutputTokens": tokens}


async def test_sys_req_017_sse_events_arrive_while_the_model_is_still_generating(stack: Stack, rest) -> None:
    admission = stack.gateway.text._admission
    events = []
    async with aconnect_sse(rest, "POST", "/v1/text:stream", json=chat(1500)) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for event in source.aiter_sse():
            events.append(json.loads(event.data))
            if len(events) == 3:
                # Two messages are out and the generation is still running.
                assert admission.active == 1
    first, deltas, last = events[0], events[1:-1], events[-1]
    assert first == {
        "servedBy": {
            "model": f"models/{CHAT_MODEL_ID}",
            "provider": "local",
            "runtime": "RUNTIME_ONNX",
            "device": "CPUExecutionProvider",
        }
    }
    assert all(set(d) == {"text"} for d in deltas)
    assert last["finishReason"] == "FINISH_REASON_LENGTH"
    assert last["usage"]["outputTokens"] == 1500
    # SSE and unary give the same text.
    unary = (await rest.post("/v1/text:generate", json=chat(1500))).json()
    assert "".join(d["text"] for d in deltas) == unary["text"]


async def test_closing_an_sse_stream_cancels_the_generation(stack: Stack, rest, caplog) -> None:
    caplog.set_level(logging.INFO)
    admission = stack.gateway.text._admission
    async with aconnect_sse(rest, "POST", "/v1/text:stream", json=chat(3000)) as source:
        events = source.aiter_sse()
        for _ in range(5):
            await anext(events)
        assert admission.active == 1
    # The client hung up: Envoy resets the upstream stream, the runner stops.
    for _ in range(200):
        if admission.active == 0:
            break
        await asyncio.sleep(0.01)
    assert admission.active == 0
    finished = [r for r in caplog.records if r.getMessage() == "generation finished"]
    assert finished[-1].finish_reason == "cancelled" and finished[-1].output_tokens < 3000


async def test_sse_stream_errors_before_generation_are_json_statuses(rest) -> None:
    response = await rest.post("/v1/text:stream", json={"prompt": "x", "temperature": -1})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 3 and body["details"][0]["reason"] == "VALIDATION_ERROR"


async def test_sys_nfr_008_rest_over_tls_verifies_the_certificate(stack: Stack) -> None:
    async with httpx.AsyncClient(
        base_url=base_url(stack, tls=True), verify=ssl.create_default_context(cafile=stack.tls.cert_file)
    ) as client:
        await wait_for_status(client, "/healthz", 200)
        response = await client.post("/v1/text:generate", json=chat(4))
        assert response.status_code == 200
        assert response.json()["usage"]["outputTokens"] == 4
    async with httpx.AsyncClient(base_url=base_url(stack, tls=True)) as untrusting:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusting.get("/healthz")


async def test_sys_nfr_008_tls_offers_h2_and_http11(stack: Stack) -> None:
    context = ssl.create_default_context(cafile=str(stack.tls.cert_file))
    for protocol in ("h2", "http/1.1"):
        context.set_alpn_protocols([protocol])
        port = stack.gateway.settings.envoy.https_port
        _, writer = await asyncio.open_connection("localhost", port, ssl=context)
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == protocol
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_native_grpc_passes_through_envoy(stack: Stack, tls: bool) -> None:
    if tls:
        credentials = grpc.ssl_channel_credentials(root_certificates=stack.tls.cert_file.read_bytes())
        channel = grpc.aio.secure_channel(grpc_target(stack, tls=True), credentials)
    else:
        channel = grpc.aio.insecure_channel(grpc_target(stack))
    async with channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        models = await model_service_pb2_grpc.ModelServiceStub(channel).ListModels(
            model_service_pb2.ListModelsRequest()
        )
        assert len(models.models) == 2
        stream = text_service_pb2_grpc.TextServiceStub(channel).StreamText(
            text_service_pb2.GenerateTextRequest(prompt="hi", max_output_tokens=5)
        )
        messages = [m async for m in stream]
        assert messages[-1].finish_reason == common_pb2.FINISH_REASON_LENGTH
        assert messages[-1].usage.output_tokens == 5
        # Errors keep their details through Envoy.
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await text_service_pb2_grpc.TextServiceStub(channel).GenerateText(
                text_service_pb2.GenerateTextRequest(prompt="hi", top_k=-2)
            )
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "top_k" in from_rpc_error(raised.value).field_violations


async def test_grpc_health_through_envoy_follows_the_server(stack_factory) -> None:
    async with stack_factory() as stack, grpc.aio.insecure_channel(grpc_target(stack)) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="pluggably.v1.TextService")
        assert (await health.Check(request)).status == health_pb2.HealthCheckResponse.SERVING
        await stack.gateway.health.servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        # Envoy stops routing to a server that fails its health check.
        for _ in range(100):
            try:
                await health.Check(request, timeout=1)
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("Envoy kept routing to a NOT_SERVING server")
