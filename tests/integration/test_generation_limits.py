"""Cancellation, deadlines, bounded concurrency and drain (SYS-NFR-003, SYS-REQ-017, SYS-REQ-007).

The tiny chat model never ends on its own, so a request for thousands of
tokens keeps generating until it is stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
import pytest

from pluggably.app import Gateway
from pluggably.v1 import common_pb2, text_service_pb2, text_service_pb2_grpc
from tests.support.status import from_rpc_error
from tests.support.waiting import wait_until

LONG = 3000  # tokens: seconds of generation on the tiny model


def chat(max_output_tokens: int) -> text_service_pb2.GenerateTextRequest:
    return text_service_pb2.GenerateTextRequest(
        messages=[text_service_pb2.ChatMessage(role="user", content="Go on forever")],
        max_output_tokens=max_output_tokens,
    )


async def read_all(call) -> list[text_service_pb2.StreamTextResponse]:  # type: ignore[no-untyped-def]
    messages = []
    while (message := await call.read()) is not grpc.aio.EOF:
        messages.append(message)
    return messages


def finished_generations(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "generation finished"]


async def test_cancelling_a_stream_stops_generation_between_tokens(
    gateway_factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        gateway_factory(generation={"max_concurrency": 1}) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        call = text_service_pb2_grpc.TextServiceStub(channel).StreamText(chat(LONG))
        received = 0
        async for message in call:
            received += bool(message.text)
            if received == 5:
                break
        assert gateway.admission.active == 1, "generation should still be running"
        call.cancel()
        await wait_until(lambda: gateway.admission.active == 0, timeout_s=2.0)
        (record,) = finished_generations(caplog)
        assert record.finish_reason == "cancelled"
        assert 5 <= record.output_tokens < LONG
        # The slot is free: the next request starts at once.
        response = await text_service_pb2_grpc.TextServiceStub(channel).GenerateText(chat(3), timeout=5)
        assert response.usage.output_tokens == 3


async def test_deadline_stops_generation_and_frees_the_slot(gateway_factory, caplog) -> None:
    caplog.set_level(logging.INFO)
    async with (
        gateway_factory(generation={"max_concurrency": 1}) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        stub = text_service_pb2_grpc.TextServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GenerateText(chat(LONG), timeout=0.5)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await wait_until(lambda: gateway.admission.active == 0, timeout_s=2.0)
        (record,) = finished_generations(caplog)
        assert record.finish_reason == "cancelled" and record.output_tokens < LONG


async def test_sys_nfr_003_overload_gives_resource_exhausted_with_retry_guidance(gateway_factory) -> None:
    async with (
        gateway_factory(generation={"max_concurrency": 1, "max_queue": 1}) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        stub = text_service_pb2_grpc.TextServiceStub(channel)
        running = stub.StreamText(chat(LONG))
        await running.read()  # holds the one slot
        queued = asyncio.ensure_future(stub.GenerateText(chat(2)))
        await wait_until(lambda: gateway.admission.waiting == 1)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GenerateText(chat(2))
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        status = from_rpc_error(raised.value)
        assert status.reason == "OVERLOADED"
        assert status.retry_delay_s is not None and status.retry_delay_s >= 1
        running.cancel()
        # The queued request was kept, not lost: it runs once the slot frees.
        assert (await queued).usage.output_tokens == 2


async def test_sys_nfr_003_queue_wait_is_bounded_in_time(gateway_factory) -> None:
    async with (
        gateway_factory(generation={"max_concurrency": 1, "max_queue": 2, "queue_timeout_s": 0.3}) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        stub = text_service_pb2_grpc.TextServiceStub(channel)
        running = stub.StreamText(chat(LONG))
        await running.read()
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GenerateText(chat(2))
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert time.monotonic() - started >= 0.3
        assert gateway.admission.waiting == 0
        running.cancel()


async def test_sys_req_007_drain_lets_in_flight_streams_finish(gateway_factory) -> None:
    async with gateway_factory() as gateway:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}")
        stub = text_service_pb2_grpc.TextServiceStub(channel)
        call = stub.StreamText(chat(400))
        await call.read()
        stopping = asyncio.create_task(gateway.stop(grace_s=10))
        messages = await read_all(call)
        assert messages[-1].finish_reason == common_pb2.FINISH_REASON_LENGTH
        assert messages[-1].usage.output_tokens == 400
        await stopping
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GenerateText(chat(2), timeout=2)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        await channel.close()


async def test_drain_cancels_streams_that_outlast_the_grace_period(gateway_factory) -> None:
    async with gateway_factory() as gateway, grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        call = text_service_pb2_grpc.TextServiceStub(channel).StreamText(chat(LONG))
        await call.read()
        started = time.monotonic()
        await gateway.stop(grace_s=0.3)
        assert time.monotonic() - started < 3
        with pytest.raises(grpc.aio.AioRpcError):
            await read_all(call)
        assert gateway.admission.active == 0


async def test_gateway_fixture_is_shared_and_serving(gateway: Gateway) -> None:
    assert gateway.admission.active == 0
