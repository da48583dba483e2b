"""Local image generation with diffusers: torch (`DiffusionPipeline`) and ONNX Runtime (optimum's
`ORTDiffusionPipeline`), both behind the `ImageBackend` seam.

Both run diffusers' own `__call__`, so one step hook (`callback_on_step_end`)
reports progress and stops between steps for both. Seeds go through a CPU
`torch.Generator`: the same seed and parameters give the same images.
"""

from __future__ import annotations

import io
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from pluggably.core.generation.backends import BackendFactory, ImageDescription
from pluggably.core.generation.common import GeneratedFile, Progress, Stage
from pluggably.core.generation.images import ImageEvent, ImageFormat, ImageJob, ImagesGenerated
from pluggably.core.models import ModelInfo
from pluggably.runners.diffusion import PipelineBackend, StopGeneration, load_pipeline, torch_device
from pluggably.runners.onnx_text import onnx_provider

DEFAULT_SIDE = 512
MIN_SIDE = 64
MAX_SIDE = 4096
SIZE_MULTIPLE = 8  # the VAE's scale factor of every Stable Diffusion family model
MAX_IMAGES = 4
DEFAULT_STEPS = 50  # diffusers' own default for its text-to-image pipelines
MAX_STEPS = 1000
_PIL_FORMATS = {ImageFormat.PNG: "PNG", ImageFormat.JPEG: "JPEG", ImageFormat.WEBP: "WEBP"}


def describe_diffusers_images(model: ModelInfo) -> ImageDescription:
    width = height = DEFAULT_SIDE
    if model.capabilities.image_sizes:
        width, height = (int(n) for n in model.capabilities.image_sizes[0].split("x"))
    return ImageDescription(
        default_width=width,
        default_height=height,
        size_multiple=SIZE_MULTIPLE,
        min_side=MIN_SIDE,
        max_side=MAX_SIDE,
        max_images=MAX_IMAGES,
        default_steps=DEFAULT_STEPS,
        max_steps=MAX_STEPS,
        formats=tuple(ImageFormat),
        negative_prompt=True,
    )


def encode_image(image: Any, image_format: ImageFormat) -> bytes:
    """A PIL image in the asked format (JPEG has no alpha: it is dropped)."""
    out = io.BytesIO()
    if image_format is ImageFormat.JPEG:
        image = image.convert("RGB")
    image.save(out, format=_PIL_FORMATS[image_format], **({} if image_format is ImageFormat.PNG else {"quality": 92}))
    return out.getvalue()


class DiffusersImageBackend(PipelineBackend[ImageEvent]):
    def stream(self, job: ImageJob) -> AsyncIterator[ImageEvent]:
        return self.run(lambda emit, stopping: self._generate(job, emit, stopping))

    def _generate(self, job: ImageJob, emit: Callable[[ImageEvent], None], stopping: threading.Event) -> None:
        import torch

        def on_step_end(pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if stopping.is_set():
                raise StopGeneration
            emit(Progress(Stage.DENOISING, step + 1, job.steps))
            if step + 1 == job.steps:
                emit(Progress(Stage.DECODING))
            return tensors

        arguments: dict[str, Any] = {
            "prompt": job.prompt,
            "negative_prompt": job.negative_prompt or None,
            "width": job.width,
            "height": job.height,
            "num_images_per_prompt": job.image_count,
            "num_inference_steps": job.steps,
            "generator": torch.Generator("cpu").manual_seed(job.seed),
            "callback_on_step_end": on_step_end,
            "output_type": "pil",
        }
        if job.guidance_scale is not None:
            arguments["guidance_scale"] = job.guidance_scale
        try:
            result = self.pipeline(**arguments)
        except StopGeneration:
            return
        images = tuple(GeneratedFile(encode_image(i, job.format), job.format.value) for i in result.images)
        emit(ImagesGenerated(images))


def torch_image_factory(device_preference: str, executor: Executor) -> BackendFactory[DiffusersImageBackend]:
    def load(model: ModelInfo) -> DiffusersImageBackend:
        import torch
        from diffusers import DiffusionPipeline

        device = torch_device(device_preference)
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        pipeline = load_pipeline(lambda: DiffusionPipeline.from_pretrained(Path(model.path), torch_dtype=dtype))
        return DiffusersImageBackend(pipeline.to(device), device, executor)

    return BackendFactory(load=load, describe=describe_diffusers_images)


def onnx_image_factory(device_preference: str, executor: Executor) -> BackendFactory[DiffusersImageBackend]:
    def load(model: ModelInfo) -> DiffusersImageBackend:
        from optimum.onnxruntime import ORTDiffusionPipeline

        provider = onnx_provider(device_preference)
        pipeline = load_pipeline(lambda: ORTDiffusionPipeline.from_pretrained(Path(model.path), provider=provider))
        # onnxruntime-gpu lists CUDA even where it cannot load it: report what the sessions really got.
        return DiffusersImageBackend(pipeline, pipeline.providers[0], executor)

    return BackendFactory(load=load, describe=describe_diffusers_images)
