"""Text generation: validation, routing, admission and the token loop's policy.

Runners only produce tokens. This module decides when to stop (token budget,
stop sequences, cancellation), bridges the runner's worker thread to the event
loop, and turns the outcome into events. The unary call is the stream, collected.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass

from pluggably.core.errors import PluggablyError
from pluggably.core.generation.admission import AdmissionController
from pluggably.core.generation.backends import GeneratedToken, TextGenerator
from pluggably.core.generation.in_use import ModelsInUse
from pluggably.core.generation.pool import TextGeneratorPool
from pluggably.core.generation.router import Router
from pluggably.core.generation.stop_sequences import StopSequenceFilter
from pluggably.core.generation.text import (
    DecodingConfig,
    FinishReason,
    ServedBy,
    TextDelta,
    TextEvent,
    TextFinished,
    TextRequest,
    TextResult,
    TextStarted,
    Usage,
)
from pluggably.core.generation.text_validation import (
    reject_provider_options,
    resolve_decoding,
    validate_text_request,
)
from pluggably.core.models import Modality

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextGenerationLimits:
    default_max_output_tokens: int


class _TokenStream:
    """Runs a generator's token loop in a worker thread, feeding an asyncio queue.

    `wait()` asks the thread to stop before its next forward pass and returns
    once it has really stopped using the CPU.
    """

    _DONE = object()

    def __init__(
        self,
        generator: TextGenerator,
        input_ids: list[int],
        config: DecodingConfig,
        executor: ThreadPoolExecutor,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._stop = threading.Event()
        self._future = self._loop.run_in_executor(executor, self._work, generator, input_ids, config)

    def _put(self, item: object) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _work(self, generator: TextGenerator, input_ids: list[int], config: DecodingConfig) -> None:
        produced = 0
        try:
            for token in generator.generate(input_ids, config):
                self._put(token)
                produced += 1
                if token.is_end_of_sequence or produced >= config.max_new_tokens or self._stop.is_set():
                    break
        except BaseException as err:  # handed to the event loop, re-raised there
            self._put(err)
        finally:
            self._put(self._DONE)

    async def tokens(self) -> AsyncIterator[GeneratedToken]:
        while (item := await self._queue.get()) is not self._DONE:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, GeneratedToken)
            yield item

    async def wait(self) -> None:
        """Stops the thread before its next forward pass and waits until it has."""
        self._stop.set()
        await asyncio.shield(self._future)


class TextGenerationService:
    def __init__(
        self,
        router: Router,
        pool: TextGeneratorPool,
        admission: AdmissionController,
        limits: TextGenerationLimits,
        max_concurrency: int,
        in_use: ModelsInUse,
        record_use: Callable[[str], None],
    ) -> None:
        self._in_use = in_use
        self._record_use = record_use
        self._router = router
        self._pool = pool
        self._admission = admission
        self._limits = limits
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="generate")

    async def stream(self, request: TextRequest) -> AsyncIterator[TextEvent]:
        """Validates, then yields TextStarted, TextDelta..., TextFinished.

        Errors found before generation starts are raised; after TextStarted the
        outcome is reported in TextFinished. Cancelling the consumer stops the
        runner between tokens.
        """
        validate_text_request(request)
        route = self._router.route(request.selection, Modality.TEXT)
        reject_provider_options(request, route.provider)
        generator = await self._pool.get(route.model, route.runtime)
        input_ids = await asyncio.to_thread(generator.encode, request.messages, request.prompt)
        config = resolve_decoding(
            request, len(input_ids), generator.context_length, self._limits.default_max_output_tokens
        )
        served_by = ServedBy(
            model=route.model.name, provider=route.provider, runtime=route.runtime, device=generator.device
        )
        async with self._admission.slot():
            with self._in_use.hold(route.model.id):
                self._record_use(route.model.id)
                yield TextStarted(served_by)
                async for event in self._generate(generator, input_ids, config, request):
                    yield event

    async def _generate(
        self, generator: TextGenerator, input_ids: list[int], config: DecodingConfig, request: TextRequest
    ) -> AsyncIterator[TextEvent]:
        stops = StopSequenceFilter(request.params.stop_sequences)
        output_tokens = 0
        # Stays None only if the consumer goes away mid-stream (cancelled or closed).
        finish: FinishReason | None = None
        error: Exception | None = None
        started = time.monotonic()
        tokens = _TokenStream(generator, input_ids, config, self._executor)
        try:
            async for token in tokens.tokens():
                output_tokens += 1
                if token.is_end_of_sequence:
                    finish = FinishReason.STOP
                    break
                if text := stops.push(token.text):
                    yield TextDelta(text)
                if stops.stopped:
                    finish = FinishReason.STOP
                    break
            if text := stops.flush():
                yield TextDelta(text)
            finish = finish or FinishReason.LENGTH
        except PluggablyError as err:
            finish, error = FinishReason.ERROR, err
        except Exception as err:
            log.exception("generation failed")
            finish, error = FinishReason.ERROR, err
        finally:
            await tokens.wait()
            log.info(
                "generation finished",
                extra={
                    "input_tokens": len(input_ids),
                    "output_tokens": output_tokens,
                    "finish_reason": (finish or FinishReason.CANCELLED).value,
                    "generation_s": round(time.monotonic() - started, 3),
                },
            )
        assert finish is not None
        yield TextFinished(finish, Usage(len(input_ids), output_tokens), error)

    async def generate(self, request: TextRequest) -> TextResult:
        """The whole text at once. A failure during generation is raised."""
        parts: list[str] = []
        served_by: ServedBy | None = None
        async with aclosing(self.stream(request)) as events:
            async for event in events:
                match event:
                    case TextStarted():
                        served_by = event.served_by
                    case TextDelta():
                        parts.append(event.text)
                    case TextFinished(error=error) if error is not None:
                        raise error
                    case TextFinished():
                        assert served_by is not None
                        return TextResult("".join(parts), event.finish_reason, event.usage, served_by)
        raise AssertionError("the text stream ended without TextFinished")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
