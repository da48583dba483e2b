"""The local text backend: a tokenizer and a token loop behind the request-level `TextBackend` seam.

Each local runtime (ONNX Runtime through optimum, torch through
transformers) provides a `TokenGenerator`: it encodes a prompt and yields
tokens one forward pass at a time. This backend does the rest of what a
local model needs and a remote provider does not: it counts the prompt
against the context, fits the output into what is left, seeds sampling,
runs the loop in a worker thread, stops between tokens when its consumer
goes away, and cuts the text at stop sequences without emitting part of one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from threading import Event
from typing import Protocol

from pluggably.core.errors import ValidationError
from pluggably.core.generation.backends import BackendFactory, TextDescription
from pluggably.core.generation.common import Usage, fresh_seed
from pluggably.core.generation.stop_sequences import StopSequenceFilter
from pluggably.core.generation.text import ChatMessage, FinishReason, TextDelta, TextFinished, TextRequest
from pluggably.core.models import ModelInfo, Runtime
from pluggably.runners.threaded import WorkerStream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeneratedToken:
    """One generated token. `text` is what it adds to the output: empty while a
    multi-byte character is still incomplete, and for the end-of-sequence token."""

    text: str
    is_end_of_sequence: bool = False


@dataclass(frozen=True)
class DecodingConfig:
    """Fully resolved parameters for the token loop: no defaults left to guess."""

    max_new_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


class TokenGenerator(Protocol):
    """A loaded local text model. Its methods block: the backend runs them in worker threads."""

    @property
    def runtime(self) -> Runtime: ...

    @property
    def device(self) -> str: ...

    @property
    def context_length(self) -> int: ...

    def encode(self, messages: Sequence[ChatMessage], prompt: str) -> list[int]:
        """Token ids of the prompt: chat messages through the chat template, or plain text."""
        ...

    def generate(self, input_ids: Sequence[int], config: DecodingConfig) -> Iterator[GeneratedToken]:
        """Yields tokens lazily, one forward pass per `next()`, until the end-of-sequence
        token or the context is full. The caller stops early by not asking for more;
        every `next()` must come from the same thread."""
        ...


def resolve_decoding(request: TextRequest, input_tokens: int, context_length: int) -> DecodingConfig:
    """Fits the output into what the context has left and fills in the sampling defaults."""
    params = request.params
    room = context_length - input_tokens
    if room < 1:
        raise ValidationError.single(
            "prompt" if request.prompt else "messages",
            f"the prompt is {input_tokens} tokens; the model's context holds {context_length} "
            f"with at least 1 left for the output",
        )
    assert params.max_output_tokens is not None  # the service fills in the gateway's default
    return DecodingConfig(
        max_new_tokens=min(params.max_output_tokens, room),
        temperature=params.temperature or 0.0,
        top_p=params.top_p if params.top_p is not None else 1.0,
        top_k=params.top_k or 0,
        seed=fresh_seed(params.seed),
    )


def local_text_factory(
    load_generator: Callable[[ModelInfo], TokenGenerator], executor: Executor
) -> BackendFactory[LocalTextBackend]:
    """How the gateway serves a local text model on one runtime: `load_generator` loads its weights."""
    return BackendFactory(
        load=lambda model: LocalTextBackend(load_generator(model), executor),
        describe=lambda model: TextDescription(model.capabilities.context_length, model.capabilities.chat),
    )


class LocalTextBackend:
    def __init__(self, generator: TokenGenerator, executor: Executor) -> None:
        self._generator = generator
        self._executor = executor

    @property
    def device(self) -> str:
        return self._generator.device

    def close(self) -> None:
        # The weights go when the last reference does; the pool holds this backend's only one.
        del self._generator

    async def stream(self, request: TextRequest) -> AsyncIterator[TextDelta | TextFinished]:
        generator = self._generator
        input_ids = await asyncio.get_running_loop().run_in_executor(
            self._executor, generator.encode, request.messages, request.prompt
        )
        config = resolve_decoding(request, len(input_ids), generator.context_length)
        stops = StopSequenceFilter(request.params.stop_sequences)
        output_tokens = 0
        finish: FinishReason | None = None  # stays None only if the consumer goes away
        started = time.monotonic()
        tokens = WorkerStream(_token_loop(generator, input_ids, config), self._executor)
        try:
            async for token in tokens.items():
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
            yield TextFinished(finish, Usage(input_tokens=len(input_ids), output_tokens=output_tokens))
        except Exception:
            finish = FinishReason.ERROR
            raise
        finally:
            await tokens.stop()
            log.info(
                "generation finished",
                extra={
                    "input_tokens": len(input_ids),
                    "output_tokens": output_tokens,
                    "finish_reason": (finish or FinishReason.CANCELLED).value,
                    "generation_s": round(time.monotonic() - started, 3),
                },
            )


def _token_loop(
    generator: TokenGenerator, input_ids: list[int], config: DecodingConfig
) -> Callable[[Callable[[GeneratedToken], None], Event], None]:
    def work(emit: Callable[[GeneratedToken], None], stopping: Event) -> None:
        for produced, token in enumerate(generator.generate(input_ids, config), start=1):
            emit(token)
            if token.is_end_of_sequence or produced >= config.max_new_tokens or stopping.is_set():
                break

    return work
