"""ImageService: converts between protobuf and the domain; the work is in core."""

from __future__ import annotations

from google.longrunning import operations_pb2
from grpc import aio

from pluggably.api import convert
from pluggably.api.prompt_log import PromptLog
from pluggably.core.generation.image_service import ImageGenerationService
from pluggably.rpc.interceptors import note_call_facts
from pluggably.v1 import image_service_pb2, image_service_pb2_grpc


class ImageServicer(image_service_pb2_grpc.ImageServiceServicer):
    def __init__(self, service: ImageGenerationService, prompts: PromptLog) -> None:
        self._service = service
        self._prompts = prompts

    async def GenerateImages(
        self, request: image_service_pb2.GenerateImagesRequest, context: aio.ServicerContext
    ) -> image_service_pb2.GenerateImagesResponse:
        image_request = convert.image_request(request)
        self._prompts.prompt(prompt=image_request.prompt, negative_prompt=image_request.negative_prompt)
        result = await self._service.generate(image_request)
        note_call_facts(
            model=result.served_by.model, runtime=result.served_by.runtime.value, images=result.usage.images
        )
        return convert.images_response(result)

    async def GenerateImagesLongRunning(
        self, request: image_service_pb2.GenerateImagesRequest, context: aio.ServicerContext
    ) -> operations_pb2.Operation:
        image_request = convert.image_request(request)
        self._prompts.prompt(prompt=image_request.prompt, negative_prompt=image_request.negative_prompt)
        started = self._service.start(image_request)
        note_call_facts(operation=started.name)
        return convert.operation(started)
