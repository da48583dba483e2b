"""TextService: converts between protobuf and the domain; the work is in core."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import aclosing

from grpc import aio

from pluggably.api import convert
from pluggably.api.prompt_log import PromptLog
from pluggably.core.errors import PluggablyError
from pluggably.core.generation.text import TextDelta, TextFinished, TextRequest, TextStarted
from pluggably.core.generation.text_service import TextGenerationService
from pluggably.logs import request_id_var
from pluggably.rpc.interceptors import note_call_facts
from pluggably.rpc.status import status_for_unexpected, to_status
from pluggably.v1 import text_service_pb2, text_service_pb2_grpc


class TextServicer(text_service_pb2_grpc.TextServiceServicer):
    def __init__(self, service: TextGenerationService, prompts: PromptLog) -> None:
        self._service = service
        self._prompts = prompts

    def _log_prompt(self, request: TextRequest) -> None:
        self._prompts.prompt(messages=[dataclasses.asdict(m) for m in request.messages], prompt=request.prompt)

    def _log_output(self, text: str) -> None:
        self._prompts.output(text=text)

    async def GenerateText(
        self, request: text_service_pb2.GenerateTextRequest, context: aio.ServicerContext
    ) -> text_service_pb2.GenerateTextResponse:
        text_request = convert.text_request(request)
        self._log_prompt(text_request)
        result = await self._service.generate(text_request)
        note_call_facts(
            model=result.served_by.model,
            runtime=result.served_by.runtime.value,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            finish_reason=result.finish_reason.value,
        )
        self._log_output(result.text)
        return convert.text_response(result)

    async def StreamText(
        self, request: text_service_pb2.GenerateTextRequest, context: aio.ServicerContext
    ) -> AsyncIterator[text_service_pb2.StreamTextResponse]:
        text_request = convert.text_request(request)
        self._log_prompt(text_request)
        output: list[str] = []
        # aclosing: a cancelled call closes the stream here and now, which stops
        # the runner, instead of whenever the generator is garbage-collected.
        async with aclosing(self._service.stream(text_request)) as events:
            async for event in events:
                match event:
                    case TextStarted():
                        note_call_facts(model=event.served_by.model, runtime=event.served_by.runtime.value)
                        yield text_service_pb2.StreamTextResponse(served_by=convert.served_by(event.served_by))
                    case TextDelta():
                        output.append(event.text)
                        yield text_service_pb2.StreamTextResponse(text=event.text)
                    case TextFinished():
                        note_call_facts(
                            input_tokens=event.usage.input_tokens,
                            output_tokens=event.usage.output_tokens,
                            finish_reason=event.finish_reason.value,
                        )
                        self._log_output("".join(output))
                        last = text_service_pb2.StreamTextResponse(
                            finish_reason=convert.FINISH_TO_PROTO[event.finish_reason],
                            usage=convert.usage(event.usage),
                        )
                        if event.error is not None:
                            last.error.CopyFrom(
                                to_status(event.error)
                                if isinstance(event.error, PluggablyError)
                                else status_for_unexpected(request_id_var.get())
                            )
                        yield last
