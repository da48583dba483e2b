"""google.longrunning.Operations and OperationWatchService over the operation manager."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import empty_pb2
from grpc import aio

from pluggably.api import convert
from pluggably.api.names import resource_name
from pluggably.api.paging import decode_page_token, encode_page_token, page_size
from pluggably.core.errors import ValidationError
from pluggably.core.operations import Operations
from pluggably.v1 import operation_watch_service_pb2, operation_watch_service_pb2_grpc

COLLECTION = "operations"
# AIP-151's WaitOperation: the longest a caller may wait in one call.
MAX_WAIT_S = 300.0


def _name(name: str) -> str:
    return resource_name(name, COLLECTION, "operation")


class OperationsServicer(operations_pb2_grpc.OperationsServicer):
    def __init__(self, operations: Operations, artifact_of: convert.ArtifactLookup) -> None:
        self._operations = operations
        self._artifact_of = artifact_of

    async def GetOperation(
        self, request: operations_pb2.GetOperationRequest, context: aio.ServicerContext
    ) -> operations_pb2.Operation:
        return convert.operation(self._operations.get(_name(request.name)), self._artifact_of)

    async def ListOperations(
        self, request: operations_pb2.ListOperationsRequest, context: aio.ServicerContext
    ) -> operations_pb2.ListOperationsResponse:
        if request.name not in ("", COLLECTION):
            raise ValidationError.single("name", f"must be {COLLECTION!r}")
        if request.filter:
            raise ValidationError.single("filter", "filters are not supported on operations yet")
        size = page_size(request.page_size)
        after = decode_page_token(request.page_token, "") if request.page_token else ""
        listed = self._operations.list()
        if after:
            names = [o.name for o in listed]
            listed = listed[names.index(after) + 1 :] if after in names else []
        page = listed[:size]
        token = encode_page_token(page[-1].name, "") if len(listed) > size else ""
        return operations_pb2.ListOperationsResponse(
            operations=[convert.operation(o, self._artifact_of) for o in page], next_page_token=token
        )

    async def DeleteOperation(
        self, request: operations_pb2.DeleteOperationRequest, context: aio.ServicerContext
    ) -> empty_pb2.Empty:
        self._operations.delete(_name(request.name))
        return empty_pb2.Empty()

    async def CancelOperation(
        self, request: operations_pb2.CancelOperationRequest, context: aio.ServicerContext
    ) -> empty_pb2.Empty:
        await self._operations.cancel(_name(request.name))
        return empty_pb2.Empty()

    async def WaitOperation(
        self, request: operations_pb2.WaitOperationRequest, context: aio.ServicerContext
    ) -> operations_pb2.Operation:
        timeout = request.timeout.ToTimedelta().total_seconds() if request.HasField("timeout") else MAX_WAIT_S
        remaining = context.time_remaining()
        if remaining is not None:
            timeout = min(timeout, remaining)
        waited = await self._operations.wait(_name(request.name), min(timeout, MAX_WAIT_S))
        return convert.operation(waited, self._artifact_of)


class OperationWatchServicer(operation_watch_service_pb2_grpc.OperationWatchServiceServicer):
    def __init__(self, operations: Operations, artifact_of: convert.ArtifactLookup) -> None:
        self._operations = operations
        self._artifact_of = artifact_of

    async def WatchOperation(
        self, request: operation_watch_service_pb2.WatchOperationRequest, context: aio.ServicerContext
    ) -> AsyncIterator[operations_pb2.Operation]:
        async for snapshot in self._operations.watch(_name(request.name)):
            yield convert.operation(snapshot, self._artifact_of)
