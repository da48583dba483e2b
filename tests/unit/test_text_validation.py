"""Text request validation: every bad field reported at once, by its path (SYS-REQ-011, SYS-NFR-002)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pluggably.core.errors import ValidationError
from pluggably.core.generation.common import MAX_SEED, ModelSelection
from pluggably.core.generation.text import MAX_STOP_SEQUENCES, ChatMessage, SamplingParams, TextRequest
from pluggably.core.generation.text_validation import (
    MAX_STOP_SEQUENCE_CHARS,
    MAX_TEMPERATURE,
    reject_provider_options,
    validate_text_request,
)
from pluggably.runners.local_text import resolve_decoding as resolve_for_context

USER = ChatMessage("user", "hi")


def request(*messages: ChatMessage, prompt: str = "", **params: Any) -> TextRequest:
    return TextRequest(ModelSelection(), messages=messages, prompt=prompt, params=SamplingParams(**params))


def resolve_decoding(req: TextRequest, input_tokens: int, context_length: int, default_max_output_tokens: int):  # type: ignore[no-untyped-def]
    """The local backend's resolution, after the service filled in the gateway's default output budget."""
    if req.params.max_output_tokens is None:
        req = dataclasses.replace(
            req, params=dataclasses.replace(req.params, max_output_tokens=default_max_output_tokens)
        )
    return resolve_for_context(req, input_tokens, context_length)


def violations(req: TextRequest) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        validate_text_request(req)
    assert caught.value.reason == "VALIDATION_ERROR"
    return {v.field: v.description for v in caught.value.violations}


def test_valid_chat_and_prompt_requests_pass_SYS_REQ_011() -> None:
    validate_text_request(request(ChatMessage("system", "be brief"), USER))
    validate_text_request(request(prompt="Once upon a time"))
    validate_text_request(
        request(
            USER,
            max_output_tokens=1,
            temperature=MAX_TEMPERATURE,
            top_p=1.0,
            top_k=0,
            seed=MAX_SEED,
            stop_sequences=tuple("x" * MAX_STOP_SEQUENCE_CHARS for _ in range(MAX_STOP_SEQUENCES)),
        )
    )
    validate_text_request(request(USER, temperature=0.0, seed=0))


def test_every_violation_is_reported_at_once_with_its_field_path_SYS_NFR_002() -> None:
    bad = request(
        ChatMessage("user", "hello"),
        ChatMessage("robot", "beep"),
        ChatMessage("user", ""),
        temperature=3.0,
        top_p=0.0,
        top_k=-1,
        max_output_tokens=0,
        seed=-5,
    )
    found = violations(bad)
    assert set(found) == {
        "messages[1].role",
        "messages[2].content",
        "temperature",
        "top_p",
        "top_k",
        "max_output_tokens",
        "seed",
    }
    assert "robot" in found["messages[1].role"]
    # The summary message names every field too.
    with pytest.raises(ValidationError) as caught:
        validate_text_request(bad)
    for field in found:
        assert field in caught.value.message


def test_messages_and_prompt_are_exclusive_SYS_REQ_011() -> None:
    assert set(violations(request(USER, prompt="also this"))) == {"prompt"}
    assert set(violations(request())) == {"messages"}


def test_last_message_must_not_be_the_assistants_SYS_REQ_011() -> None:
    found = violations(request(USER, ChatMessage("assistant", "I already answered")))
    assert set(found) == {"messages[1].role"}
    validate_text_request(request(ChatMessage("assistant", "earlier turn"), USER))


@pytest.mark.parametrize(
    ("field", "bad_values", "good_values"),
    [
        ("temperature", [-0.1, MAX_TEMPERATURE + 0.01, float("nan")], [0.0, 0.7, MAX_TEMPERATURE]),
        ("top_p", [0.0, -0.5, 1.01, float("nan")], [0.01, 1.0]),
        ("top_k", [-1], [0, 1, 50]),
        ("max_output_tokens", [0, -3], [1, 4096]),
        ("seed", [-1, MAX_SEED + 1], [0, 42, MAX_SEED]),
    ],
)
def test_sampling_parameter_ranges_SYS_REQ_011(field: str, bad_values: list[Any], good_values: list[Any]) -> None:
    for value in bad_values:
        assert set(violations(request(USER, **{field: value}))) == {field}, value
    for value in good_values:
        validate_text_request(request(USER, **{field: value}))


def test_stop_sequence_limits_SYS_REQ_011() -> None:
    too_many = tuple(f"s{i}" for i in range(MAX_STOP_SEQUENCES + 1))
    assert "stop_sequences" in violations(request(USER, stop_sequences=too_many))
    found = violations(request(USER, stop_sequences=("ok", "", "x" * (MAX_STOP_SEQUENCE_CHARS + 1))))
    assert set(found) == {"stop_sequences[1]", "stop_sequences[2]"}


def test_provider_options_are_rejected_by_a_provider_without_any_SYS_REQ_011() -> None:
    reject_provider_options(request(USER).provider_options, "local")
    with pytest.raises(ValidationError) as caught:
        reject_provider_options({"beam": 4, "alpha": 1}, "local")
    (violation,) = caught.value.violations
    assert violation.field == "provider_options"
    assert "alpha" in violation.description and "beam" in violation.description
    assert "local" in violation.description


def test_resolve_decoding_fills_in_defaults_SYS_REQ_011() -> None:
    config = resolve_decoding(request(USER), input_tokens=10, context_length=1000, default_max_output_tokens=256)
    assert config.max_new_tokens == 256
    assert config.temperature == 0.0 and config.greedy
    assert config.top_p == 1.0
    assert config.top_k == 0
    assert 0 <= config.seed <= MAX_SEED
    # An unseeded request gets a fresh seed each time (random sampling is not silently fixed).
    seeds = {resolve_decoding(request(USER), 10, 1000, 256).seed for _ in range(5)}
    assert len(seeds) > 1


def test_resolve_decoding_keeps_what_the_caller_asked_SYS_REQ_011() -> None:
    config = resolve_decoding(
        request(USER, max_output_tokens=7, temperature=0.8, top_p=0.9, top_k=40, seed=0), 10, 1000, 256
    )
    assert (config.max_new_tokens, config.temperature, config.top_p, config.top_k, config.seed) == (7, 0.8, 0.9, 40, 0)
    assert not config.greedy


def test_output_budget_is_clamped_to_the_context_left_SYS_NFR_003() -> None:
    assert resolve_decoding(request(USER, max_output_tokens=500), 60, 64, 256).max_new_tokens == 4
    assert resolve_decoding(request(USER), 63, 64, 256).max_new_tokens == 1


@pytest.mark.parametrize(("req", "field"), [(request(USER), "messages"), (request(prompt="long"), "prompt")])
def test_prompt_too_long_for_the_context_is_a_validation_error_SYS_NFR_002(req: TextRequest, field: str) -> None:
    for input_tokens in (64, 100):
        with pytest.raises(ValidationError) as caught:
            resolve_decoding(req, input_tokens, 64, 256)
        (violation,) = caught.value.violations
        assert violation.field == field
        assert str(input_tokens) in violation.description and "64" in violation.description
