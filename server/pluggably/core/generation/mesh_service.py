"""Mesh generation: validation and routing now, then the run to a stored mesh in a long-running operation."""

from __future__ import annotations

import dataclasses

from pluggably.core.generation.backends import MeshDescription
from pluggably.core.generation.common import Usage
from pluggably.core.generation.mesh_validation import resolve_mesh_job, validate_mesh_request
from pluggably.core.generation.meshes import MeshGenerated, MeshJob, MeshRequest, MeshResult
from pluggably.core.generation.outputs import FileGeneration, ProgressReport, job_json
from pluggably.core.generation.router import Route, Router
from pluggably.core.generation.text_validation import reject_provider_options
from pluggably.core.models import Modality
from pluggably.core.operations import Json, Operation

MESH_KIND = "generate_mesh"


def mesh_result_json(result: MeshResult) -> Json:
    return {
        "artifact": result.mesh.artifact.id,
        "vertex_count": result.vertex_count,
        "face_count": result.face_count,
        "served_by": result.served_by.to_json(),
    }


class MeshGenerationService:
    def __init__(self, router: Router, generation: FileGeneration, max_steps: int) -> None:
        self._router = router
        self._generation = generation
        self._max_steps = max_steps

    async def _prepare(self, request: MeshRequest) -> tuple[Route, MeshJob]:
        validate_mesh_request(request)
        route = self._router.route(request.selection, Modality.MESH)
        reject_provider_options(request.provider_options, route.provider)
        description = route.factory.describe(route.model)
        assert isinstance(description, MeshDescription)
        description = dataclasses.replace(description, max_steps=min(description.max_steps, self._max_steps))
        image = request.image
        if image is not None and image.artifact and not description.text_input:
            data: bytes | None = await self._generation.input_image(image.artifact, "image.artifact")
        else:
            data = image.data if image is not None else None
        job = resolve_mesh_job(request, description, data)
        self._generation.check_room()
        return route, job

    async def _generate(self, route: Route, job: MeshJob, report: ProgressReport) -> MeshResult:
        last, served_by = await self._generation.run(route, job, report)
        assert isinstance(last, MeshGenerated)
        (stored,) = await self._generation.store([last.file], served_by, report)
        return MeshResult(stored, last.vertex_count, last.face_count, Usage(meshes=1), served_by)

    async def start(self, request: MeshRequest) -> Operation:
        """Checks the request now, then generates in a long-running operation."""
        route, job = await self._prepare(request)

        async def work(report: ProgressReport) -> Json:
            return mesh_result_json(await self._generate(route, job, report))

        return self._generation.start_operation(MESH_KIND, job_json(route, job), job.steps, work)
