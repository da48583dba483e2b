"""ModelService pieces without a server: page tokens, paging, not-yet-available methods.

SYS-REQ-015 (list models), SYS-NFR-002 (clear errors). The servicer's methods
are called directly; none of them uses the gRPC context.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from pluggably.api.models import ModelServicer
from pluggably.api.paging import decode_page_token as _decode_page_token
from pluggably.api.paging import encode_page_token as _encode_page_token
from pluggably.api.unimplemented import unimplemented
from pluggably.core.errors import FeatureNotSupportedError, NotFoundError, ValidationError
from pluggably.core.generation.pool import ModelPool
from pluggably.core.models import ModelInfo, Runtime
from pluggably.core.models.discovery import describe_model
from pluggably.core.models.management import ModelManager
from pluggably.core.models.registry import ModelRegistry
from pluggably.core.models.scanning import ModelScanner
from pluggably.v1 import model_service_pb2, model_service_pb2_grpc
from tests.unit.models_factory import model_info


@pytest.mark.parametrize(
    ("after", "filter_text"),
    [("tiny-llama-chat", ""), ("a.b_c-d", "modality = MODALITY_TEXT AND state = READY"), ("", 'provider = "x/y"')],
)
def test_page_token_round_trip_SYS_REQ_015(after: str, filter_text: str) -> None:
    token = _encode_page_token(after, filter_text)
    assert _decode_page_token(token, filter_text) == after
    # URL-safe, without padding: it goes into a query string unescaped.
    assert all(c.isalnum() or c in "-_" for c in token)


@pytest.mark.parametrize(
    "token",
    [
        "garbage!!",
        "x",
        base64.urlsafe_b64encode(b"\xff\xfe not utf-8").decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'"a string"').decode(),
        base64.urlsafe_b64encode(json.dumps({"after": "x"}).encode()).decode(),
    ],
)
def test_garbage_page_token_is_a_validation_error_on_page_token_SYS_NFR_002(token: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _decode_page_token(token, "")
    assert [v.field for v in caught.value.violations] == ["page_token"]


def test_page_token_from_another_filter_is_rejected_SYS_NFR_002() -> None:
    token = _encode_page_token("model-b", "state = READY")
    with pytest.raises(ValidationError) as caught:
        _decode_page_token(token, "state = FAILED")
    (violation,) = caught.value.violations
    assert violation.field == "page_token"
    assert "filter" in violation.description


class ListStore:
    """A ModelStore over a list: the registry's persistence is not what these tests are about."""

    def __init__(self, models: list[ModelInfo]) -> None:
        self.models = {m.id: m for m in models}

    def load_all(self) -> list[ModelInfo]:
        return list(self.models.values())

    def save(self, model: ModelInfo) -> None:
        self.models[model.id] = model

    def delete(self, model_id: str) -> None:
        self.models.pop(model_id, None)


def catalog(count: int) -> ModelManager:
    models = [
        model_info(f"model-{i:02d}", runtimes=(Runtime.ONNX,) if i % 2 else (Runtime.TORCH,)) for i in range(count)
    ]
    registry = ModelRegistry(ListStore(models))
    models_dir = Path("/nonexistent/models")
    return ModelManager(registry, ModelScanner(registry, models_dir), ModelPool(), models_dir, describe_model)


def servicer_of(manager: ModelManager) -> ModelServicer:
    """Downloads and storage play no part in listing and getting."""
    return ModelServicer(manager, None, None)  # type: ignore[arg-type]


async def list_all(servicer: ModelServicer, page_size: int, filter_text: str = "") -> list[list[str]]:
    pages, token = [], ""
    while True:
        request = model_service_pb2.ListModelsRequest(page_size=page_size, filter=filter_text, page_token=token)
        response = await servicer.ListModels(request, None)  # type: ignore[arg-type]
        pages.append([m.name for m in response.models])
        token = response.next_page_token
        if not token:
            return pages


async def test_paging_returns_every_model_once_in_id_order_SYS_REQ_015() -> None:
    servicer = servicer_of(catalog(7))
    pages = await list_all(servicer, page_size=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    names = [name for page in pages for name in page]
    assert names == [f"models/model-{i:02d}" for i in range(7)]


async def test_paging_with_a_filter_SYS_REQ_015() -> None:
    servicer = servicer_of(catalog(7))
    pages = await list_all(servicer, page_size=2, filter_text="runtimes:RUNTIME_ONNX")
    assert [name for page in pages for name in page] == [f"models/model-{i:02d}" for i in (1, 3, 5)]


async def test_exact_last_page_has_no_next_token_SYS_REQ_015() -> None:
    pages = await list_all(servicer_of(catalog(4)), page_size=2)
    assert [len(p) for p in pages] == [2, 2]


async def test_default_page_size_and_bounds_SYS_NFR_002() -> None:
    servicer = servicer_of(catalog(3))
    assert len((await list_all(servicer, page_size=0))[0]) == 3
    for bad in (-1, 1001):
        with pytest.raises(ValidationError) as caught:
            await servicer.ListModels(model_service_pb2.ListModelsRequest(page_size=bad), None)  # type: ignore[arg-type]
        assert caught.value.violations[0].field == "page_size"


async def test_get_model_by_resource_name_SYS_REQ_015() -> None:
    servicer = servicer_of(catalog(2))
    model = await servicer.GetModel(model_service_pb2.GetModelRequest(name="models/model-01"), None)  # type: ignore[arg-type]
    assert model.name == "models/model-01"
    with pytest.raises(NotFoundError):
        await servicer.GetModel(model_service_pb2.GetModelRequest(name="models/nope"), None)  # type: ignore[arg-type]
    for bad in ("model-01", "models/", ""):
        with pytest.raises(ValidationError) as caught:
            await servicer.GetModel(model_service_pb2.GetModelRequest(name=bad), None)  # type: ignore[arg-type]
        assert caught.value.violations[0].field == "name"


async def test_unimplemented_covers_every_rpc_of_a_service_SYS_NFR_002() -> None:
    servicer = unimplemented(model_service_pb2_grpc.ModelServiceServicer, "pluggably.v1.ModelService", "later")()
    rpcs = model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].methods_by_name
    assert rpcs
    for method in rpcs:
        with pytest.raises(FeatureNotSupportedError, match="later"):
            await getattr(servicer, method)(None, None)
