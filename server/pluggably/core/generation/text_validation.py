"""Checks a text request, reporting every bad field at once (VALIDATION_ERROR).

Envoy drops unknown JSON fields and accepts loose types, so the server checks
everything it receives. Field paths follow the request message
(`messages[2].role`, `temperature`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pluggably.core.errors import FieldViolation, ValidationError
from pluggably.core.generation.common import MAX_SEED
from pluggably.core.generation.text import CHAT_ROLES, MAX_STOP_SEQUENCES, TextRequest

MAX_TEMPERATURE = 2.0
MAX_STOP_SEQUENCE_CHARS = 256


def validate_text_request(request: TextRequest) -> None:
    """Checks what can be checked without the model."""
    violations: list[FieldViolation] = []

    def bad(field: str, description: str) -> None:
        violations.append(FieldViolation(field, description))

    if request.messages and request.prompt:
        bad("prompt", "give either messages or prompt, not both")
    elif not request.messages and not request.prompt:
        bad("messages", "required: give messages (a chat) or prompt (plain text)")
    for i, message in enumerate(request.messages):
        if message.role not in CHAT_ROLES:
            bad(f"messages[{i}].role", f"must be one of {', '.join(CHAT_ROLES)}; got {message.role!r}")
        if not message.content:
            bad(f"messages[{i}].content", "must not be empty")
    if request.messages and request.messages[-1].role == "assistant":
        bad(f"messages[{len(request.messages) - 1}].role", "the last message must not be the assistant's")

    params = request.params
    if params.max_output_tokens is not None and params.max_output_tokens < 1:
        bad("max_output_tokens", f"must be at least 1; got {params.max_output_tokens}")
    if params.temperature is not None and not 0.0 <= params.temperature <= MAX_TEMPERATURE:
        bad("temperature", f"must be between 0 and {MAX_TEMPERATURE:g}; got {params.temperature:g}")
    if params.top_p is not None and not 0.0 < params.top_p <= 1.0:
        bad("top_p", f"must be greater than 0 and at most 1; got {params.top_p:g}")
    if params.top_k is not None and params.top_k < 0:
        bad("top_k", f"must be 0 or more; got {params.top_k}")
    if len(params.stop_sequences) > MAX_STOP_SEQUENCES:
        bad("stop_sequences", f"at most {MAX_STOP_SEQUENCES}; got {len(params.stop_sequences)}")
    for i, stop in enumerate(params.stop_sequences):
        if not stop:
            bad(f"stop_sequences[{i}]", "must not be empty")
        elif len(stop) > MAX_STOP_SEQUENCE_CHARS:
            bad(f"stop_sequences[{i}]", f"at most {MAX_STOP_SEQUENCE_CHARS} characters")
    if params.seed is not None and not 0 <= params.seed <= MAX_SEED:
        bad("seed", f"must be between 0 and {MAX_SEED}; got {params.seed}")
    if violations:
        raise ValidationError(violations)


def reject_provider_options(options: Mapping[str, Any], provider: str) -> None:
    """Local backends take no provider options: a request that sends some is told so, not silently ignored."""
    if options:
        keys = ", ".join(sorted(options))
        raise ValidationError.single(
            "provider_options", f"provider {provider!r} accepts no provider options; got: {keys}"
        )
