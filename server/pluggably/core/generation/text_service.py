"""Text generation: validation, routing, admission, and the stream's outcome.

The backend makes the text (a local runner counts tokens and runs its loop,
a provider calls its API); this service decides which backend, when it may
start, and turns whatever happens into events: TextStarted, TextDelta...,
TextFinished. The unary call is the stream, collected.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace

from pluggably.core.errors import InternalError, PluggablyError
from pluggably.core.generation.admission import AdmissionController
from pluggably.core.generation.backends import TextBackend
from pluggably.core.generation.common import ServedBy, Usage
from pluggably.core.generation.pool import ModelPool
from pluggably.core.generation.router import Router
from pluggably.core.generation.text import (
    FinishReason,
    TextDelta,
    TextEvent,
    TextFinished,
    TextRequest,
    TextResult,
    TextStarted,
)
from pluggably.core.generation.text_validation import reject_provider_options, validate_text_request
from pluggably.core.models import Modality

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextGenerationLimits:
    default_max_output_tokens: int


class TextGenerationService:
    def __init__(
        self,
        router: Router,
        pool: ModelPool,
        admission: AdmissionController,
        limits: TextGenerationLimits,
        record_use: Callable[[str], None],
    ) -> None:
        self._router = router
        self._pool = pool
        self._admission = admission
        self._limits = limits
        self._record_use = record_use

    async def stream(self, request: TextRequest) -> AsyncIterator[TextEvent]:
        """Validates, then yields TextStarted, TextDelta..., TextFinished.

        Errors found before generation starts are raised; after TextStarted the
        outcome is reported in TextFinished. Cancelling the consumer stops the
        backend before its next token.
        """
        validate_text_request(request)
        route = self._router.route(request.selection, Modality.TEXT)
        reject_provider_options(request.provider_options, route.provider)
        if request.params.max_output_tokens is None:
            params = replace(request.params, max_output_tokens=self._limits.default_max_output_tokens)
            request = replace(request, params=params)
        async with self._pool.lease(route) as backend:
            backend_: TextBackend = backend
            served_by = ServedBy(route.model.name, route.provider, route.runtime, backend_.device)
            async with self._admission.slot():
                self._record_use(route.model.id)
                # The backend checks what only it can (the prompt's length in its tokens) before its first event.
                async with aclosing(backend_.stream(request)) as events:
                    first = await anext(events, None)
                    yield TextStarted(served_by)
                    async for event in self._outcome(first, events):
                        yield event

    @staticmethod
    async def _outcome(
        first: TextDelta | TextFinished | None, events: AsyncIterator[TextDelta | TextFinished]
    ) -> AsyncIterator[TextDelta | TextFinished]:
        """The backend's events up to its TextFinished; a failure on the way becomes a TextFinished with it."""
        try:
            event = first
            while isinstance(event, TextDelta):
                yield event
                event = await anext(events, None)
            if event is None:
                raise InternalError("the backend's stream ended without a finish event")
            finished = event
        except PluggablyError as err:
            finished = TextFinished(FinishReason.ERROR, Usage(), err)
        except Exception as err:
            log.exception("generation failed")
            finished = TextFinished(FinishReason.ERROR, Usage(), err)
        yield finished

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
