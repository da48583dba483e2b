"""ModelService: the model registry over gRPC; the work is in core.model_management."""

from __future__ import annotations

import base64
import binascii
import json

from google.protobuf import empty_pb2
from grpc import aio

from pluggably.api import convert
from pluggably.api.unimplemented import unimplemented
from pluggably.core.errors import ValidationError
from pluggably.core.model_filter import parse_model_filter
from pluggably.core.model_management import ModelManager
from pluggably.v1 import model_service_pb2, model_service_pb2_grpc

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

_RegistryWritesNotYet = unimplemented(
    model_service_pb2_grpc.ModelServiceServicer,
    "pluggably.v1.ModelService",
    "registering local paths, downloads and storage management are not built yet",
    only=("CreateModel", "DownloadModel", "GetStorage", "CleanupStorage"),
)


def _encode_page_token(after: str, filter_text: str) -> str:
    raw = json.dumps({"after": after, "filter": filter_text}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str, filter_text: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, token_filter = str(data["after"]), str(data["filter"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationError.single("page_token", "not a token this server issued") from None
    if token_filter != filter_text:
        raise ValidationError.single("page_token", "was issued for a different filter")
    return after


UPDATABLE_FIELDS = ("display_name", "aliases", "pinned", "labels")


def _model_name(name: str, field: str = "name") -> str:
    if not name.startswith("models/") or name == "models/":
        raise ValidationError.single(field, f"must look like models/{{model}}; got {name!r}")
    return name


class ModelServicer(_RegistryWritesNotYet):  # type: ignore[misc, valid-type]
    def __init__(self, models: ModelManager) -> None:
        self._models = models
        self._catalog = models.catalog

    async def ListModels(
        self, request: model_service_pb2.ListModelsRequest, context: aio.ServicerContext
    ) -> model_service_pb2.ListModelsResponse:
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            raise ValidationError.single("page_size", f"must be between 0 and {MAX_PAGE_SIZE}")
        page_size = request.page_size or DEFAULT_PAGE_SIZE
        matches = parse_model_filter(request.filter)
        after = _decode_page_token(request.page_token, request.filter) if request.page_token else ""
        models = [m for m in self._catalog.list() if m.id > after and matches(m)]
        page = models[:page_size]
        next_token = _encode_page_token(page[-1].id, request.filter) if len(models) > page_size else ""
        return model_service_pb2.ListModelsResponse(models=[convert.model(m) for m in page], next_page_token=next_token)

    async def GetModel(
        self, request: model_service_pb2.GetModelRequest, context: aio.ServicerContext
    ) -> model_service_pb2.Model:
        return convert.model(self._catalog.get(_model_name(request.name)))

    async def UpdateModel(
        self, request: model_service_pb2.UpdateModelRequest, context: aio.ServicerContext
    ) -> model_service_pb2.Model:
        name = _model_name(request.model.name, "model.name")
        # AIP-134: without a mask, the fields given (with non-default values) are updated.
        paths = list(request.update_mask.paths) or [f for f in UPDATABLE_FIELDS if _is_set(request.model, f)]
        unknown = [p for p in paths if p not in UPDATABLE_FIELDS]
        if unknown:
            raise ValidationError.single(
                "update_mask", f"cannot update {', '.join(unknown)}; updatable: {', '.join(UPDATABLE_FIELDS)}"
            )
        model = request.model
        updated = self._models.update(
            name,
            display_name=model.display_name if "display_name" in paths else None,
            aliases=tuple(model.aliases) if "aliases" in paths else None,
            pinned=model.pinned if "pinned" in paths else None,
            labels=dict(model.labels) if "labels" in paths else None,
        )
        return convert.model(updated)

    async def DeleteModel(
        self, request: model_service_pb2.DeleteModelRequest, context: aio.ServicerContext
    ) -> empty_pb2.Empty:
        await self._models.delete(_model_name(request.name))
        return empty_pb2.Empty()

    async def DiscoverModels(
        self, request: model_service_pb2.DiscoverModelsRequest, context: aio.ServicerContext
    ) -> model_service_pb2.DiscoverModelsResponse:
        summary = await self._models.discover()
        return model_service_pb2.DiscoverModelsResponse(
            added=summary.added,
            updated=summary.updated,
            missing=summary.missing,
            problems=[model_service_pb2.DiscoveryProblem(path=p.path, reason=p.reason) for p in summary.problems],
        )


def _is_set(message: model_service_pb2.Model, field: str) -> bool:
    return bool(getattr(message, field))
