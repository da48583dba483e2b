"""ModelService: the model registry over gRPC; the work is in core (model_management, downloads, storage)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from google.longrunning import operations_pb2
from google.protobuf import empty_pb2
from grpc import aio

from pluggably.api import convert
from pluggably.api.names import resource_name
from pluggably.api.paging import decode_page_token, encode_page_token, page_size
from pluggably.core.errors import ValidationError
from pluggably.core.models.downloads import DownloadManager, DownloadRequest, default_model_id
from pluggably.core.models.filter import parse_model_filter
from pluggably.core.models.management import ModelManager
from pluggably.core.models.storage import StorageManager
from pluggably.v1 import model_service_pb2, model_service_pb2_grpc

UPDATABLE_FIELDS = ("display_name", "aliases", "pinned", "labels")


def _model_name(name: str, field: str = "name") -> str:
    return resource_name(name, "models", "model", field)


STORAGE = "storage"


def _storage_name(name: str) -> None:
    if name != STORAGE:
        raise ValidationError.single("name", f"must be {STORAGE!r}; got {name!r}")


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, models: ModelManager, downloads: DownloadManager, storage: StorageManager) -> None:
        self._models = models
        self._catalog = models.catalog
        self._downloads = downloads
        self._storage = storage

    async def ListModels(
        self, request: model_service_pb2.ListModelsRequest, context: aio.ServicerContext
    ) -> model_service_pb2.ListModelsResponse:
        size = page_size(request.page_size)
        matches = parse_model_filter(request.filter)
        after = decode_page_token(request.page_token, request.filter) if request.page_token else ""
        models = [m for m in self._catalog.list() if m.id > after and matches(m)]
        page = models[:size]
        next_token = encode_page_token(page[-1].id, request.filter) if len(models) > size else ""
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

    async def CreateModel(
        self, request: model_service_pb2.CreateModelRequest, context: aio.ServicerContext
    ) -> model_service_pb2.Model:
        model = request.model
        if model.source.WhichOneof("source") != "local_path":
            raise ValidationError.single(
                "model.source.local_path", "required: CreateModel registers files on this machine; download others"
            )
        created = self._models.create(
            request.model_id,
            Path(model.source.local_path),
            display_name=model.display_name,
            aliases=tuple(model.aliases),
            pinned=model.pinned,
            labels=dict(model.labels),
        )
        return convert.model(created)

    async def DownloadModel(
        self, request: model_service_pb2.DownloadModelRequest, context: aio.ServicerContext
    ) -> operations_pb2.Operation:
        source = convert.model_source_from_proto(request.source)
        download = DownloadRequest(source, request.model_id or default_model_id(source), request.sha256)
        return convert.operation(self._downloads.start(download))

    async def GetStorage(
        self, request: model_service_pb2.GetStorageRequest, context: aio.ServicerContext
    ) -> model_service_pb2.Storage:
        _storage_name(request.name)
        return convert.storage(await asyncio.to_thread(self._storage.usage))

    async def CleanupStorage(
        self, request: model_service_pb2.CleanupStorageRequest, context: aio.ServicerContext
    ) -> model_service_pb2.CleanupStorageResponse:
        _storage_name(request.name)
        return convert.cleanup(await self._storage.cleanup(dry_run=request.dry_run))


def _is_set(message: model_service_pb2.Model, field: str) -> bool:
    return bool(getattr(message, field))
