"""TextService over a real grpc.aio server with tiny models.

SYS-REQ-001 (one versioned API), SYS-REQ-003 (local runners), SYS-REQ-011
(model selection, validated), SYS-REQ-017 (streaming), SYS-NFR-002 (errors).
"""

from __future__ import annotations

import grpc
import pytest

from pluggably.v1 import common_pb2, text_service_pb2, text_service_pb2_grpc
from tests.support.status import from_rpc_error
from tests.support.tiny_models import CHAT_MODEL_ID, PLAIN_MODEL_CONTEXT, PLAIN_MODEL_ID

Request = text_service_pb2.GenerateTextRequest
Message = text_service_pb2.ChatMessage
Selection = common_pb2.ModelSelection


def chat(text: str = "Hello there", **kwargs: object) -> text_service_pb2.GenerateTextRequest:
    return Request(messages=[Message(role="user", content=text)], **kwargs)


async def collect(call) -> list[text_service_pb2.StreamTextResponse]:  # type: ignore[no-untyped-def]
    return [message async for message in call]


@pytest.fixture
def text_stub(channel: grpc.aio.Channel) -> text_service_pb2_grpc.TextServiceStub:
    return text_service_pb2_grpc.TextServiceStub(channel)


async def test_sys_req_003_unary_chat_generates_up_to_the_token_budget(text_stub) -> None:
    response = await text_stub.GenerateText(chat(max_output_tokens=12))
    assert response.finish_reason == common_pb2.FINISH_REASON_LENGTH
    assert response.usage.output_tokens == 12
    assert response.usage.input_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + 12
    assert response.served_by.model == f"models/{CHAT_MODEL_ID}"
    assert response.served_by.provider == "local"
    assert response.served_by.runtime == common_pb2.RUNTIME_ONNX
    assert response.served_by.device == "CPUExecutionProvider"


async def test_sys_req_017_stream_starts_with_served_by_and_ends_with_the_outcome(text_stub) -> None:
    request = chat("Tell me a story", max_output_tokens=20)
    messages = await collect(text_stub.StreamText(request))
    first, deltas, last = messages[0], messages[1:-1], messages[-1]
    assert first.served_by.model == f"models/{CHAT_MODEL_ID}" and not first.text
    assert all(m.finish_reason == common_pb2.FINISH_REASON_UNSPECIFIED for m in messages[:-1])
    assert all(not m.HasField("usage") for m in messages[:-1])
    assert last.finish_reason == common_pb2.FINISH_REASON_LENGTH
    assert last.usage.output_tokens == 20
    assert not last.HasField("error")
    # The stream is the unary result, in pieces.
    unary = await text_stub.GenerateText(request)
    assert "".join(m.text for m in deltas) == unary.text
    assert last.usage == unary.usage


async def test_sys_req_003_plain_prompt_runs_to_the_end_of_the_context(text_stub) -> None:
    response = await text_stub.GenerateText(
        Request(model=Selection(id=PLAIN_MODEL_ID), prompt="Hello", max_output_tokens=1000)
    )
    assert response.finish_reason == common_pb2.FINISH_REASON_LENGTH
    assert response.usage.total_tokens == PLAIN_MODEL_CONTEXT


async def test_sys_req_011_chat_on_a_model_without_chat_template_is_not_supported(text_stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await text_stub.GenerateText(chat(model=Selection(id=PLAIN_MODEL_ID)))
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert from_rpc_error(raised.value).reason == "FEATURE_NOT_SUPPORTED"


async def test_sys_req_011_alias_and_resource_name_select_the_same_model(text_stub) -> None:
    for reference in ("tiny-chat", f"models/{CHAT_MODEL_ID}", CHAT_MODEL_ID):
        response = await text_stub.GenerateText(chat(model=Selection(id=reference), max_output_tokens=2))
        assert response.served_by.model == f"models/{CHAT_MODEL_ID}"


async def test_sys_req_011_runtimes_are_selectable_and_agree_on_greedy_text(text_stub) -> None:
    texts = {}
    for runtime in (common_pb2.RUNTIME_ONNX, common_pb2.RUNTIME_TORCH):
        response = await text_stub.GenerateText(chat(model=Selection(runtime=runtime), max_output_tokens=24))
        assert response.served_by.runtime == runtime
        texts[runtime] = response.text
    assert response.served_by.device == "cpu"
    assert texts[common_pb2.RUNTIME_ONNX] == texts[common_pb2.RUNTIME_TORCH]


async def test_same_seed_and_parameters_give_the_same_sampled_text(text_stub) -> None:
    def sampled(seed: int) -> text_service_pb2.GenerateTextRequest:
        return chat(temperature=1.5, top_p=0.95, top_k=50, seed=seed, max_output_tokens=30)

    first = await text_stub.GenerateText(sampled(7))
    again = await text_stub.GenerateText(sampled(7))
    other = await text_stub.GenerateText(sampled(8))
    assert first.text == again.text
    assert first.text != other.text


async def test_stop_sequence_cuts_the_text_before_it(text_stub) -> None:
    full = await text_stub.GenerateText(chat(max_output_tokens=40))
    stop = next(full.text[i : i + 3] for i in range(8, len(full.text)) if full.text[i : i + 3].strip())
    cut = await text_stub.GenerateText(chat(max_output_tokens=40, stop_sequences=[stop]))
    assert cut.finish_reason == common_pb2.FINISH_REASON_STOP
    assert cut.text == full.text[: full.text.index(stop)]
    streamed = await collect(text_stub.StreamText(chat(max_output_tokens=40, stop_sequences=[stop])))
    assert "".join(m.text for m in streamed) == cut.text


async def test_sys_nfr_002_every_bad_field_is_reported_at_once(text_stub) -> None:
    request = Request(
        messages=[Message(role="robot", content="")],
        temperature=3.0,
        top_p=0.0,
        stop_sequences=["", "a", "b", "c", "d"],
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await text_stub.GenerateText(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = from_rpc_error(raised.value)
    assert status.reason == "VALIDATION_ERROR" and status.domain == "pluggably.dev"
    assert set(status.field_violations) == {
        "messages[0].role",
        "messages[0].content",
        "temperature",
        "top_p",
        "stop_sequences",
        "stop_sequences[0]",
    }
    assert "robot" in status.field_violations["messages[0].role"]


async def test_sys_req_011_unknown_model_and_provider_are_validation_errors(text_stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await text_stub.GenerateText(chat(model=Selection(id="no-such-model")))
    status = from_rpc_error(raised.value)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert CHAT_MODEL_ID in status.field_violations["model.id"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await text_stub.GenerateText(chat(model=Selection(provider="openai")))
    assert "model.provider" in from_rpc_error(raised.value).field_violations


async def test_local_models_reject_provider_options(text_stub) -> None:
    request = chat()
    request.provider_options.update({"logit_bias": 1})
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await text_stub.GenerateText(request)
    assert "logit_bias" in from_rpc_error(raised.value).field_violations["provider_options"]


async def test_prompt_longer_than_the_context_is_rejected_before_generating(text_stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await text_stub.GenerateText(Request(model=Selection(id=PLAIN_MODEL_ID), prompt="hello world " * 100))
    status = from_rpc_error(raised.value)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"holds {PLAIN_MODEL_CONTEXT}" in status.field_violations["prompt"]


async def test_stream_validation_errors_end_the_call_before_any_message(text_stub) -> None:
    call = text_stub.StreamText(Request(prompt="x", messages=[Message(role="user", content="y")]))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await collect(call)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "prompt" in from_rpc_error(raised.value).field_violations
