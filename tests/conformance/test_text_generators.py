"""The contract every local text runtime's token generator meets (`TokenGenerator`), run on each.

The request-level contract of the backends built on them is in test_backends.py.

SYS-REQ-003 (local runners), SYS-NFR-004 (a runtime plugs in behind one interface).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from pluggably.core.generation.text import ChatMessage
from pluggably.core.models import ModelInfo, Runtime
from pluggably.core.models.discovery import discover_models
from pluggably.runners.local_text import DecodingConfig, TokenGenerator
from pluggably.runners.onnx_text import make_onnx_text_loader
from pluggably.runners.torch_text import make_torch_text_loader
from tests.support.tiny_models import CHAT_MODEL_ID, PLAIN_MODEL_CONTEXT, PLAIN_MODEL_ID

LOADERS = {Runtime.ONNX: make_onnx_text_loader("cpu", 0), Runtime.TORCH: make_torch_text_loader("cpu", 0)}
RUNTIMES = sorted(LOADERS, key=lambda r: r.value)
GREEDY = DecodingConfig(max_new_tokens=16, temperature=0.0, top_p=1.0, top_k=0, seed=0)


def sampling(seed: int) -> DecodingConfig:
    return DecodingConfig(max_new_tokens=16, temperature=1.2, top_p=0.9, top_k=40, seed=seed)


@pytest.fixture(scope="module")
def tiny_models(tiny_models_dir: Path) -> dict[str, ModelInfo]:
    return {m.id: m for m in discover_models(tiny_models_dir).models}


@pytest.fixture(scope="module", params=RUNTIMES, ids=lambda r: r.value)
def runtime(request: pytest.FixtureRequest) -> Runtime:
    return request.param


@pytest.fixture(scope="module")
def chat_generator(tiny_models, runtime) -> TokenGenerator:
    return LOADERS[runtime](tiny_models[CHAT_MODEL_ID])


@pytest.fixture(scope="module")
def plain_generator(tiny_models, runtime) -> TokenGenerator:
    return LOADERS[runtime](tiny_models[PLAIN_MODEL_ID])


def take(generator: TokenGenerator, ids: list[int], config: DecodingConfig, count: int) -> list[str]:
    return [token.text for token in itertools.islice(generator.generate(ids, config), count)]


def test_reports_its_runtime_device_and_context(chat_generator, runtime) -> None:
    assert chat_generator.runtime is runtime
    assert chat_generator.device in {"CPUExecutionProvider", "cpu"}
    assert chat_generator.context_length == 4096


def test_chat_goes_through_the_template_and_prompts_do_not(chat_generator) -> None:
    chat_ids = chat_generator.encode([ChatMessage("user", "Hello")], "")
    plain_ids = chat_generator.encode([], "Hello")
    assert len(chat_ids) > len(plain_ids) > 0
    assert chat_ids != plain_ids


def test_greedy_decoding_is_deterministic_and_can_stop_anywhere(chat_generator) -> None:
    ids = chat_generator.encode([ChatMessage("user", "Hello")], "")
    first = take(chat_generator, ids, GREEDY, 16)
    assert len(first) == 16
    # Abandoning a generation midway leaves nothing behind for the next one.
    assert take(chat_generator, ids, GREEDY, 5) == first[:5]
    assert take(chat_generator, ids, GREEDY, 16) == first


def test_sampling_follows_the_seed(chat_generator) -> None:
    ids = chat_generator.encode([ChatMessage("user", "Hello")], "")
    assert take(chat_generator, ids, sampling(1), 16) == take(chat_generator, ids, sampling(1), 16)
    assert take(chat_generator, ids, sampling(1), 16) != take(chat_generator, ids, sampling(2), 16)


def test_generation_ends_when_the_context_is_full(plain_generator) -> None:
    ids = plain_generator.encode([], "Hello there")
    tokens = list(plain_generator.generate(ids, GREEDY))
    eos_at = next((i for i, t in enumerate(tokens) if t.is_end_of_sequence), None)
    if eos_at is None:
        assert len(ids) + len(tokens) == PLAIN_MODEL_CONTEXT
    else:
        assert eos_at == len(tokens) - 1 and tokens[-1].text == ""
