"""ModelService: the catalog over gRPC. Registry writes come with the model registry."""

from __future__ import annotations

import base64
import binascii
import json

from grpc import aio

from pluggably.api import convert
from pluggably.api.unimplemented import unimplemented
from pluggably.core.catalog import ModelCatalog
from pluggably.core.errors import ValidationError
from pluggably.core.model_filter import parse_model_filter
from pluggably.v1 import model_service_pb2, model_service_pb2_grpc

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

_RegistryWritesNotYet = unimplemented(
    model_service_pb2_grpc.ModelServiceServicer,
    "pluggably.v1.ModelService",
    "registering, updating, deleting and downloading models, discovery on request and "
    "storage management come with the persistent model registry",
    only=(
        "CreateModel",
        "UpdateModel",
        "DeleteModel",
        "DownloadModel",
        "DiscoverModels",
        "GetStorage",
        "CleanupStorage",
    ),
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


class ModelServicer(_RegistryWritesNotYet):  # type: ignore[misc, valid-type]
    def __init__(self, catalog: ModelCatalog) -> None:
        self._catalog = catalog

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
        if not request.name.startswith("models/") or request.name == "models/":
            raise ValidationError.single("name", f"must look like models/{{model}}; got {request.name!r}")
        return convert.model(self._catalog.get(request.name))
