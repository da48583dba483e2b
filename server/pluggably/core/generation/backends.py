"""The interfaces runners implement. Core depends on these, never on a runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from pluggably.core.generation.text import ChatMessage, DecodingConfig
from pluggably.core.models import ModelInfo, Runtime


@dataclass(frozen=True)
class GeneratedToken:
    """One generated token. `text` is what it adds to the output: empty while a
    multi-byte character is still incomplete, and for the end-of-sequence token."""

    text: str
    is_end_of_sequence: bool = False


class TextGenerator(Protocol):
    """A loaded text model. Its methods block: callers run them in worker threads."""

    @property
    def runtime(self) -> Runtime: ...

    @property
    def device(self) -> str:
        """The execution device really in use (e.g. `CPUExecutionProvider`, `cuda:0`)."""
        ...

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


# Loads a model for one runtime. Blocking; raises on failure.
TextGeneratorLoader = Callable[[ModelInfo], TextGenerator]
