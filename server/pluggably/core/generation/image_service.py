"""Image generation: validation, routing, and the run to stored artifacts, unary or as an operation."""

from __future__ import annotations

import dataclasses

from pluggably.core.generation.backends import ImageDescription
from pluggably.core.generation.common import Usage
from pluggably.core.generation.image_validation import resolve_image_job, validate_image_request
from pluggably.core.generation.images import ImageJob, ImageRequest, ImageResult, ImagesGenerated
from pluggably.core.generation.outputs import FileGeneration, ProgressReport, ignore_progress, job_json
from pluggably.core.generation.router import Route, Router
from pluggably.core.generation.text_validation import reject_provider_options
from pluggably.core.models import Modality
from pluggably.core.operations import Json, Operation

IMAGES_KIND = "generate_images"


def image_result_json(result: ImageResult) -> Json:
    return {
        "artifacts": [signed.artifact.id for signed in result.images],
        "images": result.usage.images,
        "served_by": result.served_by.to_json(),
    }


class ImageGenerationService:
    def __init__(self, router: Router, generation: FileGeneration, max_side_px: int, max_steps: int) -> None:
        self._router = router
        self._generation = generation
        self._max_side_px = max_side_px
        self._max_steps = max_steps

    def _prepare(self, request: ImageRequest) -> tuple[Route, ImageJob]:
        """Everything that can be refused before generating: the request, the model, the room to store."""
        validate_image_request(request)
        route = self._router.route(request.selection, Modality.IMAGE)
        reject_provider_options(request.provider_options, route.provider)
        description = route.factory.describe(route.model)
        assert isinstance(description, ImageDescription)
        # The gateway's own limits narrow what the backend can do.
        description = dataclasses.replace(
            description,
            max_side=min(description.max_side, self._max_side_px),
            max_steps=min(description.max_steps, self._max_steps),
        )
        job = resolve_image_job(request, description)
        self._generation.check_room()
        return route, job

    async def _generate(self, route: Route, job: ImageJob, report: ProgressReport) -> ImageResult:
        last, served_by = await self._generation.run(route, job, report)
        assert isinstance(last, ImagesGenerated)
        stored = await self._generation.store(last.images, served_by, report)
        return ImageResult(tuple(stored), Usage(images=len(stored)), served_by)

    async def generate(self, request: ImageRequest) -> ImageResult:
        route, job = self._prepare(request)
        return await self._generate(route, job, ignore_progress)

    def start(self, request: ImageRequest) -> Operation:
        """Checks the request now, then generates in a long-running operation."""
        route, job = self._prepare(request)

        async def work(report: ProgressReport) -> Json:
            return image_result_json(await self._generate(route, job, report))

        return self._generation.start_operation(IMAGES_KIND, job_json(route, job), job.steps, work)
