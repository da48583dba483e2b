"""Model selection: catalog look-ups and the router's choice of model, provider and runtime.

SYS-REQ-005 (routing), SYS-REQ-011 (request names a model/approach, validated),
SYS-NFR-002 (clear, typed errors).
"""

from __future__ import annotations

import pytest

from pluggably.core.errors import (
    AlreadyExistsError,
    BackendUnavailableError,
    FailedPreconditionError,
    FeatureNotSupportedError,
    NoModelForModalityError,
    NotFoundError,
    ValidationError,
)
from pluggably.core.generation.backends import BackendFactory, BackendRegistry, TextDescription
from pluggably.core.generation.common import ModelSelection
from pluggably.core.generation.router import INSTALL_HINTS, Router
from pluggably.core.models import Modality, ModelInfo, ModelState, Runtime
from pluggably.core.models.catalog import ModelCatalog
from tests.unit.models_factory import model_info

CHAT = model_info("chat-model", aliases=("chat", "default-chat"))
ONNX_ONLY = model_info("onnx-model", runtimes=(Runtime.ONNX,))
TORCH_FIRST = model_info("torch-first", runtimes=(Runtime.TORCH, Runtime.ONNX))
IMAGE = model_info("image-model", modality=Modality.IMAGE, runtimes=(Runtime.TORCH,))
DOWNLOADING = model_info("downloading-model", state=ModelState.DOWNLOADING)
MISSING = model_info("missing-model", state=ModelState.MISSING, state_reason="its folder was deleted")
FAILED = model_info("failed-model", state=ModelState.FAILED)


def catalog() -> ModelCatalog:
    return ModelCatalog([CHAT, ONNX_ONLY, TORCH_FIRST, IMAGE, DOWNLOADING, MISSING, FAILED])


def unused_load(model: ModelInfo) -> object:
    raise AssertionError("routing never loads a model")


def backends(runtimes: tuple[Runtime, ...], provider: str = "local") -> BackendRegistry:
    registry = BackendRegistry()
    for runtime in runtimes:
        factory = BackendFactory(unused_load, lambda m: TextDescription(m.capabilities.context_length, True))
        registry.register(provider, runtime, Modality.TEXT, factory)
    return registry


def router(runtimes: tuple[Runtime, ...] = (Runtime.ONNX, Runtime.TORCH), default: str = "chat-model") -> Router:
    return Router(catalog(), {Modality.TEXT: default}, backends(runtimes))


def select(model_id: str = "", provider: str = "", runtime: Runtime | None = None) -> ModelSelection:
    return ModelSelection(id=model_id, provider=provider, runtime=runtime)


# --- catalog -----------------------------------------------------------------


@pytest.mark.parametrize("reference", ["chat-model", "models/chat-model", "chat", "models/default-chat"])
def test_catalog_finds_a_model_by_id_resource_name_or_alias_SYS_REQ_011(reference: str) -> None:
    assert catalog().find(reference) is CHAT
    assert catalog().get(reference) is CHAT


def test_catalog_unknown_model_SYS_NFR_002() -> None:
    assert catalog().find("nope") is None
    assert catalog().find("models/") is None
    with pytest.raises(NotFoundError) as caught:
        catalog().get("models/nope")
    assert caught.value.resource == "models/nope"


def test_catalog_lists_models_sorted_by_id_SYS_REQ_015() -> None:
    ids = [m.id for m in catalog().list()]
    assert ids == sorted(ids)
    assert len(ids) == 7


def test_catalog_put_replaces_the_entry_with_the_same_id_SYS_REQ_018() -> None:
    newer = model_info("chat-model", aliases=("chat-v2",))
    cat = ModelCatalog([CHAT, newer])
    assert cat.get("chat-model") is newer
    assert cat.find("chat") is None  # the old entry's aliases went with it
    assert cat.find("chat-v2") is newer


@pytest.mark.parametrize(
    "models",
    [
        # an alias that is another model's id
        [CHAT, model_info("other", aliases=("chat-model",))],
        # one alias on two models
        [CHAT, model_info("other", aliases=("chat",))],
    ],
)
def test_catalog_rejects_ambiguous_aliases_SYS_REQ_018(models: list) -> None:
    with pytest.raises(AlreadyExistsError):
        ModelCatalog(models)


def test_rejected_put_leaves_the_catalog_as_it_was_SYS_REQ_018() -> None:
    cat = catalog()
    before = cat.list()
    with pytest.raises(AlreadyExistsError):
        cat.put(model_info("intruder", aliases=("chat",)))
    assert cat.list() == before and cat.find("chat") is CHAT
    cat.remove("chat-model")
    assert cat.find("chat") is None and cat.find("chat-model") is None


# --- router ------------------------------------------------------------------


def test_no_model_named_routes_to_the_default_model_SYS_REQ_005() -> None:
    route = router().route(select(), Modality.TEXT)
    assert route.model is CHAT
    assert route.provider == "local"
    assert route.runtime is Runtime.ONNX


def test_default_model_may_be_an_alias_SYS_REQ_005() -> None:
    assert router(default="chat").route(select(), Modality.TEXT).model is CHAT


@pytest.mark.parametrize("reference", ["onnx-model", "models/onnx-model"])
def test_request_picks_a_model_by_id_or_name_SYS_REQ_011(reference: str) -> None:
    assert router().route(select(reference), Modality.TEXT).model is ONNX_ONLY


def test_request_picks_a_model_by_alias_SYS_REQ_011() -> None:
    assert router(default="onnx-model").route(select("default-chat"), Modality.TEXT).model is CHAT


def test_unknown_model_is_a_validation_error_listing_available_models_SYS_REQ_011() -> None:
    with pytest.raises(ValidationError) as caught:
        router().route(select("gpt-9"), Modality.TEXT)
    (violation,) = caught.value.violations
    assert violation.field == "model.id"
    assert "gpt-9" in violation.description
    for text_model in ("chat-model", "onnx-model", "torch-first"):
        assert text_model in violation.description
    assert "image-model" not in violation.description  # only models of the asked modality


def test_a_default_that_is_not_installed_is_the_operators_problem_not_a_bad_request_SYS_REQ_011() -> None:
    with pytest.raises(FailedPreconditionError) as caught:
        Router(catalog(), {Modality.TEXT: "not-installed"}, backends((Runtime.ONNX,))).route(select(), Modality.TEXT)
    assert "chat-model" in caught.value.message  # says what could be named instead


def test_without_a_configured_default_the_first_servable_model_serves_SYS_REQ_005() -> None:
    route = Router(catalog(), {}, backends((Runtime.TORCH,))).route(select(), Modality.TEXT)
    assert route.model is CHAT and route.runtime is Runtime.TORCH


@pytest.mark.parametrize("modality", [Modality.IMAGE, Modality.MESH])
def test_no_model_of_the_modality_names_the_command_that_installs_one(modality: Modality) -> None:
    """Issue 4: a request for a modality with no installed model is FAILED_PRECONDITION NO_MODEL_FOR_MODALITY."""
    with pytest.raises(NoModelForModalityError) as caught:
        Router(ModelCatalog([CHAT]), {}, backends((Runtime.ONNX,))).route(select(), modality)
    assert caught.value.reason == "NO_MODEL_FOR_MODALITY"
    assert isinstance(caught.value, FailedPreconditionError)
    command, _ = INSTALL_HINTS[modality]
    assert f"`{command}`" in caught.value.message and command.startswith("pluggably models pull ")


def test_unknown_provider_is_a_validation_error_on_model_provider_SYS_REQ_005() -> None:
    with pytest.raises(ValidationError) as caught:
        router().route(select("chat-model", provider="acme"), Modality.TEXT)
    (violation,) = caught.value.violations
    assert violation.field == "model.provider"
    assert "acme" in violation.description and "local" in violation.description


def test_the_provider_asked_for_must_be_the_models_SYS_REQ_005() -> None:
    """A request is never served by a provider other than the one it names."""
    registry = backends((Runtime.ONNX,))
    registry.register("acme", Runtime.REMOTE, Modality.TEXT, BackendFactory(unused_load, unused_load))
    remote = model_info("acme-chat", provider="acme", runtimes=(Runtime.REMOTE,))
    routes = Router(ModelCatalog([CHAT, remote]), {}, registry)
    assert routes.route(select("acme-chat", provider="acme"), Modality.TEXT).provider == "acme"
    assert routes.route(select("acme-chat"), Modality.TEXT).runtime is Runtime.REMOTE
    with pytest.raises(ValidationError) as caught:
        routes.route(select("chat-model", provider="acme"), Modality.TEXT)
    (violation,) = caught.value.violations
    assert violation.field == "model.provider"
    assert "'local'" in violation.description and "'acme'" in violation.description


def test_model_of_another_modality_is_not_supported_SYS_REQ_011() -> None:
    with pytest.raises(FeatureNotSupportedError) as caught:
        router().route(select("image-model"), Modality.TEXT)
    assert caught.value.metadata["model"] == "models/image-model"
    assert "image" in caught.value.message


def test_runtimes_are_tried_in_the_models_preferred_order_SYS_REQ_005() -> None:
    both = (Runtime.ONNX, Runtime.TORCH)
    assert router(both).route(select("chat-model"), Modality.TEXT).runtime is Runtime.ONNX
    assert router(both).route(select("torch-first"), Modality.TEXT).runtime is Runtime.TORCH
    # The preferred runtime is not installed: the next one serves.
    assert router((Runtime.TORCH,)).route(select("chat-model"), Modality.TEXT).runtime is Runtime.TORCH


def test_requested_runtime_is_honoured_SYS_REQ_011() -> None:
    route = router().route(select("chat-model", runtime=Runtime.TORCH), Modality.TEXT)
    assert route.runtime is Runtime.TORCH


def test_runtime_the_model_lacks_is_not_supported_SYS_REQ_011() -> None:
    with pytest.raises(FeatureNotSupportedError) as caught:
        router().route(select("onnx-model", runtime=Runtime.TORCH), Modality.TEXT)
    assert caught.value.metadata["runtime"] == "torch"


def test_runtime_not_installed_is_not_supported_SYS_REQ_011() -> None:
    with pytest.raises(FeatureNotSupportedError):
        router((Runtime.TORCH,)).route(select("onnx-model"), Modality.TEXT)
    with pytest.raises(FeatureNotSupportedError):
        router((Runtime.TORCH,)).route(select("chat-model", runtime=Runtime.ONNX), Modality.TEXT)


def test_downloading_model_is_unavailable_for_now_SYS_NFR_002() -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        router().route(select("downloading-model"), Modality.TEXT)
    assert caught.value.retry_after_s >= 1


@pytest.mark.parametrize("model_id", ["missing-model", "failed-model"])
def test_missing_or_failed_model_is_a_failed_precondition_SYS_NFR_002(model_id: str) -> None:
    with pytest.raises(FailedPreconditionError) as caught:
        router().route(select(model_id), Modality.TEXT)
    assert caught.value.metadata["model"] == f"models/{model_id}"


def test_failed_precondition_gives_the_state_reason_SYS_NFR_002() -> None:
    with pytest.raises(FailedPreconditionError, match="its folder was deleted"):
        router().route(select("missing-model"), Modality.TEXT)
