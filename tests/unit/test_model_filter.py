"""ListModels filters (AIP-160 subset) over the catalog (SYS-REQ-015, SYS-REQ-011, SYS-NFR-002)."""

from __future__ import annotations

import pytest

from pluggably.core.errors import ValidationError
from pluggably.core.models import Modality, ModelFormat, ModelState, Runtime
from pluggably.core.models.filter import parse_model_filter
from tests.unit.models_factory import model_info

MODELS = [
    model_info("both-ready"),
    model_info("onnx-only", runtimes=(Runtime.ONNX,), formats=(ModelFormat.ONNX,), pinned=True),
    model_info("torch-downloading", runtimes=(Runtime.TORCH,), formats=(ModelFormat.SAFETENSORS,),
               state=ModelState.DOWNLOADING),
    model_info("image-model", modality=Modality.IMAGE, runtimes=(Runtime.TORCH,), formats=(ModelFormat.DIFFUSERS,)),
    model_info("remote-text", provider="openai", runtimes=(Runtime.REMOTE,), formats=()),
]  # fmt: skip


def matching(filter_text: str) -> set[str]:
    predicate = parse_model_filter(filter_text)
    return {m.id for m in MODELS if predicate(m)}


ALL = {m.id for m in MODELS}
TEXT = ALL - {"image-model"}


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_filter_matches_every_model_SYS_REQ_015(text: str) -> None:
    assert matching(text) == ALL


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("modality = MODALITY_TEXT", TEXT),
        ("modality = text", TEXT),
        ("modality = Text", TEXT),
        ("modality=MODALITY_IMAGE", {"image-model"}),
        ("modality != MODALITY_TEXT", {"image-model"}),
        ("state = READY", ALL - {"torch-downloading"}),
        ("state = STATE_READY", ALL - {"torch-downloading"}),
        ("state = downloading", {"torch-downloading"}),
        ("state != READY", {"torch-downloading"}),
        ("provider = openai", {"remote-text"}),
        ('provider = "local"', ALL - {"remote-text"}),
        ("provider != local", {"remote-text"}),
        ("pinned = true", {"onnx-only"}),
        ("pinned = FALSE", ALL - {"onnx-only"}),
        ("runtimes:RUNTIME_ONNX", {"both-ready", "onnx-only"}),
        ("runtimes : onnx", {"both-ready", "onnx-only"}),
        ("runtimes = RUNTIME_TORCH", {"both-ready", "torch-downloading", "image-model"}),
        ("runtimes:remote", {"remote-text"}),
        ("formats:MODEL_FORMAT_SAFETENSORS", {"both-ready", "torch-downloading"}),
        ("formats:diffusers", {"image-model"}),
    ],
)
def test_each_field_and_operator_SYS_REQ_015(filter_text: str, expected: set[str]) -> None:
    assert matching(filter_text) == expected


def test_clauses_joined_with_and_must_all_hold_SYS_REQ_015() -> None:
    assert matching("modality = MODALITY_TEXT AND state = READY AND runtimes:RUNTIME_ONNX") == {
        "both-ready",
        "onnx-only",
    }
    assert matching("runtimes:RUNTIME_TORCH AND state = READY AND modality = text") == {"both-ready"}
    assert matching("pinned = true AND runtimes:torch") == set()


@pytest.mark.parametrize(
    "filter_text",
    [
        "modality",  # no operator
        "modality = ",  # no value
        "colour = red",  # unknown field
        "modality : text",  # `:` on a scalar
        "runtimes != onnx",  # `!=` on a repeated field
        "state > READY",  # unknown operator
        "state = READY OR state = FAILED",  # OR is not supported
        "state = READY AND",  # dangling AND
        "state = READY and modality = text",  # lower-case `and`
        "display_name = 'x y'",
        "modality = banana",  # not a modality
        "runtimes:RUNTIME_GPU",  # not a runtime
        "pinned = maybe",
    ],
)
def test_malformed_filters_are_validation_errors_on_filter_SYS_NFR_002(filter_text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_model_filter(filter_text)
    (violation,) = caught.value.violations
    assert violation.field == "filter"
    assert violation.description


def test_unsupported_field_error_lists_the_filterable_fields_SYS_NFR_002() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_model_filter("colour = red")
    description = caught.value.violations[0].description
    for field in ("modality", "state", "provider", "pinned", "runtimes", "formats"):
        assert field in description


def test_capabilities_filter_by_chat_context_and_output_format_SYS_REQ_015() -> None:
    from pluggably.core.models import ModelCapabilities

    models = [
        model_info("small-chat", capabilities=ModelCapabilities(2048, True, ("text/plain",))),
        model_info("long-base", capabilities=ModelCapabilities(32768, False, ("text/plain",))),
        model_info("sd", modality=Modality.IMAGE, capabilities=ModelCapabilities(0, False, ("image/png",))),
        model_info("broken", modality=None, state=ModelState.FAILED, capabilities=ModelCapabilities()),
    ]

    def match(text: str) -> set[str]:
        predicate = parse_model_filter(text)
        return {m.id for m in models if predicate(m)}

    assert match("capabilities.chat = true") == {"small-chat"}
    assert match("capabilities.context_length >= 4096") == {"long-base"}
    assert match("capabilities.context_length < 4096 AND modality = text") == {"small-chat"}
    assert match('capabilities.output_formats:"image/png"') == {"sd"}
    assert match("modality != text") == {"sd", "broken"}  # an unknown modality is not text
    with pytest.raises(ValidationError):
        parse_model_filter("capabilities.context_length >= lots")
    with pytest.raises(ValidationError):
        parse_model_filter("capabilities.chat > true")
