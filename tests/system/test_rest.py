"""REST/JSON through Envoy: round trips and the JSON error body of each reason.

SYS-REQ-001 (versioned HTTP API), SYS-REQ-015 (list models), SYS-NFR-002 and
INT-REQ-001 (one error schema, the same over gRPC and REST).
"""

from __future__ import annotations

import shutil

import httpx
import pytest
from grpc_health.v1 import health_pb2

from tests.support.status import from_json
from tests.support.tiny_models import CHAT_MODEL_ID
from tests.system.conftest import base_url, wait_for_status

CHAT = {"messages": [{"role": "user", "content": "Hello"}], "maxOutputTokens": 8}


async def test_sys_req_001_text_generate_round_trip(rest: httpx.AsyncClient) -> None:
    response = await rest.post("/v1/text:generate", json=CHAT, headers={"x-request-id": "rest-1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "rest-1"
    body = response.json()
    assert body["finishReason"] == "FINISH_REASON_LENGTH"
    assert body["usage"]["outputTokens"] == 8
    assert body["servedBy"] == {
        "model": f"models/{CHAT_MODEL_ID}",
        "provider": "local",
        "runtime": "RUNTIME_ONNX",
        "device": "CPUExecutionProvider",
    }
    assert isinstance(body["text"], str)


async def test_rest_accepts_proto_field_names_and_selects_model_and_runtime(rest) -> None:
    body = {
        "model": {"id": "tiny-chat", "runtime": "RUNTIME_TORCH"},
        "prompt": "Once upon a time",
        "max_output_tokens": 4,
        "temperature": 0.7,
        "seed": "42",
    }
    response = await rest.post("/v1/text:generate", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["servedBy"]["runtime"] == "RUNTIME_TORCH"


async def test_sys_req_015_models_are_listed_and_fetched(rest) -> None:
    listed = (await rest.get("/v1/models")).json()["models"]
    assert {m["name"] for m in listed} == {"models/tiny-gpt2-plain", f"models/{CHAT_MODEL_ID}"}
    one = (await rest.get("/v1/models/tiny-chat")).json()
    assert one["name"] == f"models/{CHAT_MODEL_ID}"
    assert one["capabilities"] == {"contextLength": 4096, "chat": True, "outputFormats": ["text/plain"]}
    assert one["runtimes"] == ["RUNTIME_ONNX", "RUNTIME_TORCH"]
    filtered = (await rest.get("/v1/models", params={"filter": "runtimes:onnx", "pageSize": 1})).json()
    assert len(filtered["models"]) == 1 and filtered["nextPageToken"]


@pytest.mark.parametrize(
    ("method", "path", "body", "http_status", "code", "reason"),
    [
        ("POST", "/v1/text:generate", {"messages": [{"role": "bot", "content": "x"}]}, 400, 3, "VALIDATION_ERROR"),
        # Issue 4: with text models only, image and mesh requests say which command installs a model.
        ("POST", "/v1/images:generate", {"prompt": "a cat"}, 400, 9, "NO_MODEL_FOR_MODALITY"),
        ("POST", "/v1/meshes:generate", {"prompt": "a cup"}, 400, 9, "NO_MODEL_FOR_MODALITY"),
        ("POST", "/v1/images:generate", {"prompt": ""}, 400, 3, "VALIDATION_ERROR"),
        ("POST", "/v1/models:download", {"source": {}}, 400, 3, "VALIDATION_ERROR"),
        ("POST", "/v1/models:download", {"source": {"url": "ftp://x/y"}}, 400, 3, "VALIDATION_ERROR"),
        ("GET", "/v1/operations/abc", None, 404, 5, "NOT_FOUND"),
        ("POST", "/v1/operations/abc:cancel", {}, 404, 5, "NOT_FOUND"),
        ("DELETE", "/v1/models/nope", None, 404, 5, "NOT_FOUND"),
        ("GET", "/v1/artifacts/abc", None, 404, 5, "NOT_FOUND"),
        (
            "GET",
            "/v1/artifacts/abc:download?expireTime=2030-01-01T00:00:00Z&signature=x",
            None,
            403,
            7,
            "SIGNATURE_INVALID",
        ),
        ("GET", "/v1/artifacts/abc:download", None, 403, 7, "SIGNATURE_INVALID"),
        ("GET", "/v1/schemas", None, 501, 12, "FEATURE_NOT_SUPPORTED"),
        ("GET", "/v1/models/nope", None, 404, 5, "NOT_FOUND"),
        # Envoy's own replies carry the same JSON shape:
        ("GET", "/v1/no-such-route", None, 404, 5, "NOT_FOUND"),
        ("GET", "/v1/models?colour=blue", None, 400, 3, "VALIDATION_ERROR"),
    ],
)
async def test_sys_nfr_002_each_error_is_a_json_status(rest, method, path, body, http_status, code, reason) -> None:
    response = await rest.request(method, path, json=body)
    assert response.status_code == http_status, response.text
    assert response.headers["content-type"] == "application/json"
    status = from_json(response.json())
    assert (status.code, status.reason, status.domain) == (code, reason, "pluggably.dev")
    assert status.message
    if reason == "NO_MODEL_FOR_MODALITY":
        assert "pluggably models pull" in status.message


async def test_validation_error_lists_field_violations_over_rest(rest) -> None:
    response = await rest.post("/v1/text:generate", json={"prompt": "x", "temperature": 9, "topK": -1})
    status = from_json(response.json())
    assert set(status.field_violations) == {"temperature", "top_k"}


async def test_malformed_json_is_a_json_validation_error(rest) -> None:
    response = await rest.post(
        "/v1/text:generate", content=b'{"prompt": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert from_json(response.json()).reason == "VALIDATION_ERROR"


async def test_overload_is_429_with_retry_guidance(stack_factory) -> None:
    async with stack_factory(generation={"max_concurrency": 1, "max_queue": 0}) as stack:
        async with httpx.AsyncClient(base_url=base_url(stack), timeout=30) as client:
            await wait_for_status(client, "/healthz", 200)
            busy = {"messages": [{"role": "user", "content": "go"}], "maxOutputTokens": 3000}
            async with client.stream("POST", "/v1/text:stream", json=busy) as running:
                # Keep the iterator: dropping it closes the response, which cancels the stream.
                lines = running.aiter_lines()
                await anext(lines)
                response = await client.post("/v1/text:generate", json=CHAT)
        assert response.status_code == 429
        status = from_json(response.json())
        assert (status.code, status.reason) == (8, "OVERLOADED")
        assert status.retry_delay_s and status.retry_delay_s >= 1


async def test_broken_model_is_503_backend_unavailable(stack_factory, tiny_models_dir, tmp_path) -> None:
    broken = tmp_path / "models" / "broken-llama"
    shutil.copytree(tiny_models_dir / CHAT_MODEL_ID, broken)
    (broken / "pluggably.json").unlink()
    (broken / "onnx" / "model.onnx").write_bytes(b"garbage")
    settings = {"models": {"default_text_model": "broken-llama", "preload": ()}}
    async with (
        stack_factory(models_dir=tmp_path / "models", **settings) as stack,
        httpx.AsyncClient(base_url=base_url(stack), timeout=30) as client,
    ):
        await wait_for_status(client, "/healthz", 200)
        response = await client.post("/v1/text:generate", json={"prompt": "hi"})
    assert response.status_code == 503
    status = from_json(response.json())
    assert (status.code, status.reason) == (14, "BACKEND_UNAVAILABLE")
    assert status.retry_delay_s and status.retry_delay_s > 0


async def test_sys_req_007_healthz_follows_the_grpc_health_of_the_server(stack_factory) -> None:
    async with stack_factory() as stack, httpx.AsyncClient(base_url=base_url(stack), timeout=10) as client:
        await wait_for_status(client, "/healthz", 200)
        await stack.gateway.health.servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        await wait_for_status(client, "/healthz", 503, timeout_s=10)
        # While the server is out, REST callers get a JSON status, not a text page.
        # (Envoy's workers learn of the failed health check a moment after /healthz.)
        await wait_for_status(client, "/v1/models", 503, timeout_s=10)
        response = await client.get("/v1/models")
        assert response.status_code == 503
        assert from_json(response.json()).reason == "BACKEND_UNAVAILABLE"
        await stack.gateway.health.refresh()
        await wait_for_status(client, "/healthz", 200, timeout_s=10)
