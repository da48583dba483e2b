"""Server interceptors: request id, access log, error mapping.

Order (outermost first): `RequestIdInterceptor` sets the id every later log
line carries; `AccessLogInterceptor` logs one line per call with its outcome;
`ErrorMappingInterceptor` turns domain errors into `google.rpc.Status`.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio
from grpc_status import rpc_status

from pluggably.core.errors import PluggablyError
from pluggably.core.redaction import Redactor
from pluggably.logs import request_id_var
from pluggably.rpc.status import grpc_code, status_for_unexpected, to_status

log = logging.getLogger("pluggably.access")

REQUEST_ID_HEADER = "x-request-id"
MAX_REQUEST_ID_CHARS = 128
HEALTH_METHOD_PREFIX = "/grpc.health.v1.Health/"

# Per-call facts (model, token counts) that servicers add for the access log.
call_facts_var: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("call_facts", default=None)


# Initial metadata (response headers, over REST) that servicers add; sent with the first message.
response_metadata_var: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar(
    "response_metadata", default=None
)


def add_response_metadata(*pairs: tuple[str, str]) -> None:
    """Adds initial metadata to the current call's response (REST: headers). The request id interceptor sends
    it, once, with the first message: metadata can be sent only once, and sending it early would commit a REST
    caller's response to HTTP 200 before an error could still turn it into a 4xx."""
    current = response_metadata_var.get()
    if current is not None:
        current.extend(pairs)


def note_call_facts(**facts: Any) -> None:
    """Adds fields to the current call's access-log line (no prompts, no secrets)."""
    current = call_facts_var.get()
    if current is not None:
        current.update(facts)


# A behavior wrapper gets the inner behavior, the request (or iterator), the
# context and the method name, and returns what the behavior would.
UnaryWrapper = Callable[[Callable[..., Awaitable[Any]], Any, aio.ServicerContext, str], Awaitable[Any]]
StreamWrapper = Callable[[Callable[..., Any], Any, aio.ServicerContext, str], AsyncIterator[Any]]


async def _iterate(behavior: Callable[..., Any], request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
    """Runs a streaming behavior written either as an async generator or with `context.write`."""
    result = behavior(request, context)
    if inspect.isasyncgen(result):
        async for response in result:
            yield response
    else:
        await result


def _wrap_handler(
    handler: grpc.RpcMethodHandler | None, method: str, unary: UnaryWrapper, stream: StreamWrapper
) -> grpc.RpcMethodHandler | None:
    if handler is None:
        return None
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: aio.ServicerContext) -> Any:
            return await unary(inner_uu, request, context, method)

        return grpc.unary_unary_rpc_method_handler(unary_unary, **kwargs)
    if handler.stream_unary:
        inner_su = handler.stream_unary

        async def stream_unary(requests: Any, context: aio.ServicerContext) -> Any:
            return await unary(inner_su, requests, context, method)

        return grpc.stream_unary_rpc_method_handler(stream_unary, **kwargs)
    if handler.unary_stream:
        inner_us = handler.unary_stream

        async def unary_stream(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            async for response in stream(inner_us, request, context, method):
                yield response

        return grpc.unary_stream_rpc_method_handler(unary_stream, **kwargs)
    inner_ss = handler.stream_stream

    async def stream_stream(requests: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
        async for response in stream(inner_ss, requests, context, method):
            yield response

    return grpc.stream_stream_rpc_method_handler(stream_stream, **kwargs)


class _WrappingInterceptor(aio.ServerInterceptor):
    """Base: subclasses define `around_unary` and `around_stream`."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        return _wrap_handler(handler, handler_call_details.method, self.around_unary, self.around_stream)

    async def around_unary(
        self, behavior: Callable[..., Awaitable[Any]], request: Any, context: aio.ServicerContext, method: str
    ) -> Any:
        raise NotImplementedError

    def around_stream(
        self, behavior: Callable[..., Any], request: Any, context: aio.ServicerContext, method: str
    ) -> AsyncIterator[Any]:
        raise NotImplementedError


def _incoming_request_id(context: aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if (
            key == REQUEST_ID_HEADER
            and isinstance(value, str)
            and 0 < len(value) <= MAX_REQUEST_ID_CHARS
            and value.isprintable()
        ):
            return value
    return uuid.uuid4().hex


class RequestIdInterceptor(_WrappingInterceptor):
    """Takes `x-request-id` from the caller (Envoy sets one) or makes one, and echoes it.

    A stream sends the id with its first message, not before: headers sent
    ahead of a failure would commit a REST caller's response to HTTP 200.
    Errors carry the id in their trailers (see `ErrorMappingInterceptor`).
    """

    @staticmethod
    def _start(context: aio.ServicerContext) -> list[tuple[str, str]]:
        request_id = _incoming_request_id(context)
        request_id_var.set(request_id)
        metadata = [(REQUEST_ID_HEADER, request_id)]
        response_metadata_var.set(metadata)  # servicers add to it (`add_response_metadata`)
        return metadata

    async def around_unary(self, behavior, request, context, method):  # type: ignore[no-untyped-def]
        metadata = self._start(context)
        response = await behavior(request, context)
        await context.send_initial_metadata(tuple(metadata))
        return response

    async def around_stream(self, behavior, request, context, method):  # type: ignore[no-untyped-def]
        metadata = self._start(context)
        first = True
        async for response in _iterate(behavior, request, context):
            if first:
                await context.send_initial_metadata(tuple(metadata))
                first = False
            yield response


class AccessLogInterceptor(_WrappingInterceptor):
    """One structured line per call: method, status, latency and the facts servicers noted."""

    def _log(self, method: str, started: float, code: grpc.StatusCode, facts: dict[str, Any]) -> None:
        # Envoy asks for health every second: those lines only at DEBUG.
        level = logging.DEBUG if method.startswith(HEALTH_METHOD_PREFIX) else logging.INFO
        log.log(
            level,
            "call",
            extra={
                "method": method,
                "status": code.name,
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                **facts,
            },
        )

    @staticmethod
    def _code(context: aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
        # A client that goes away while its stream is between messages is not
        # seen as a CancelledError: grpc drops the response generator, which
        # is then closed with GeneratorExit where it last yielded.
        if isinstance(error, asyncio.CancelledError | GeneratorExit):
            return grpc.StatusCode.CANCELLED
        code = context.code()
        if isinstance(code, grpc.StatusCode):
            return code
        if error is None:
            return grpc.StatusCode.OK
        # Writing to a call the client has left fails with grpc's own errors.
        return grpc.StatusCode.CANCELLED if context.cancelled() else grpc.StatusCode.UNKNOWN

    async def around_unary(self, behavior, request, context, method):  # type: ignore[no-untyped-def]
        facts: dict[str, Any] = {}
        call_facts_var.set(facts)
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            return await behavior(request, context)
        except BaseException as err:
            error = err
            raise
        finally:
            self._log(method, started, self._code(context, error), facts)

    async def around_stream(self, behavior, request, context, method):  # type: ignore[no-untyped-def]
        facts: dict[str, Any] = {}
        call_facts_var.set(facts)
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            async for response in _iterate(behavior, request, context):
                yield response
        except BaseException as err:
            error = err
            raise
        finally:
            self._log(method, started, self._code(context, error), facts)


class ErrorMappingInterceptor(_WrappingInterceptor):
    """Domain errors become their `google.rpc.Status`, without secrets; anything else becomes INTERNAL, logged."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    async def _abort(self, context: aio.ServicerContext, error: Exception, method: str) -> None:
        if isinstance(error, PluggablyError):
            status = to_status(self._redactor.error(error))
            if grpc_code(error) is grpc.StatusCode.INTERNAL:
                log.error("internal error", exc_info=error, extra={"method": method})
        else:
            log.error("unexpected error", exc_info=error, extra={"method": method})
            status = status_for_unexpected(request_id_var.get())
        grpc_status = rpc_status.to_status(status)
        trailers = (*grpc_status.trailing_metadata, (REQUEST_ID_HEADER, request_id_var.get() or ""))
        await context.abort(grpc_status.code, grpc_status.details, trailers)

    async def around_unary(self, behavior, request, context, method):  # type: ignore[no-untyped-def]
        try:
            return await behavior(request, context)
        except aio.AbortError:
            raise
        except Exception as err:
            await self._abort(context, err, method)

    async def around_stream(self, behavior, request, context, method):  # type: ignore[no-untyped-def]
        try:
            async for response in _iterate(behavior, request, context):
                yield response
        except aio.AbortError:
            raise
        except Exception as err:
            await self._abort(context, err, method)


def default_interceptors(redactor: Redactor | None = None) -> list[aio.ServerInterceptor]:
    return [RequestIdInterceptor(), AccessLogInterceptor(), ErrorMappingInterceptor(redactor or Redactor())]
