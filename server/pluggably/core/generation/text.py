"""Domain types of text generation: the request, its events and its result."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pluggably.core.generation.common import ModelSelection, ServedBy, Usage

CHAT_ROLES = ("system", "user", "assistant")
MAX_STOP_SEQUENCES = 4


class FinishReason(enum.Enum):
    STOP = "stop"
    LENGTH = "length"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class SamplingParams:
    """Decoding parameters. `None` means "the default": the gateway's (max_output_tokens) or the backend's."""

    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class TextRequest:
    selection: ModelSelection
    messages: tuple[ChatMessage, ...] = ()
    prompt: str = ""
    params: SamplingParams = SamplingParams()
    provider_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TextStarted:
    """First event of a stream: what serves it."""

    served_by: ServedBy


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class TextFinished:
    """Last event of a stream. `error` is set when `finish_reason` is ERROR."""

    finish_reason: FinishReason
    usage: Usage
    error: Exception | None = None


TextEvent = TextStarted | TextDelta | TextFinished


@dataclass(frozen=True)
class TextResult:
    text: str
    finish_reason: FinishReason
    usage: Usage
    served_by: ServedBy
