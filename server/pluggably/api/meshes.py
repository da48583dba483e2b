"""MeshService: converts between protobuf and the domain; the work is in core."""

from __future__ import annotations

from google.longrunning import operations_pb2
from grpc import aio

from pluggably.api import convert
from pluggably.api.prompt_log import PromptLog
from pluggably.core.generation.mesh_service import MeshGenerationService
from pluggably.rpc.interceptors import note_call_facts
from pluggably.v1 import mesh_service_pb2, mesh_service_pb2_grpc


class MeshServicer(mesh_service_pb2_grpc.MeshServiceServicer):
    def __init__(self, service: MeshGenerationService, prompts: PromptLog) -> None:
        self._service = service
        self._prompts = prompts

    async def GenerateMesh(
        self, request: mesh_service_pb2.GenerateMeshRequest, context: aio.ServicerContext
    ) -> operations_pb2.Operation:
        mesh_request = convert.mesh_request(request)
        self._prompts.prompt(prompt=mesh_request.prompt)
        started = await self._service.start(mesh_request)
        note_call_facts(operation=started.name)
        return convert.operation(started)
