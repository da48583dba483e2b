"""Checks an image request, every bad field at once (VALIDATION_ERROR), and resolves it into a job.

First what holds for any model (`validate_image_request`), then what the
chosen backend says it can do (`resolve_image_job`: sizes, image count,
steps, formats). Field paths are the request's (`width`, `guidance_scale`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from pluggably.core.errors import FieldViolation, ValidationError
from pluggably.core.generation.backends import ImageDescription
from pluggably.core.generation.common import MAX_SEED, fresh_seed
from pluggably.core.generation.images import ImageFormat, ImageJob, ImageRequest

MAX_PROMPT_CHARS = 4000
MAX_GUIDANCE_SCALE = 30.0
MAX_IMAGES = 4


def check_prompt(violations: list[FieldViolation], field: str, text: str, required: bool) -> None:
    if required and not text.strip():
        violations.append(FieldViolation(field, "required: say what to generate"))
    elif len(text) > MAX_PROMPT_CHARS:
        violations.append(FieldViolation(field, f"at most {MAX_PROMPT_CHARS} characters; got {len(text)}"))


def check_denoising(
    violations: list[FieldViolation], steps: int | None, guidance_scale: float | None, seed: int | None
) -> None:
    """Steps, guidance and seed, as every diffusion request has them."""
    if steps is not None and steps < 0:
        violations.append(FieldViolation("steps", f"must be 1 or more (0: the default); got {steps}"))
    if guidance_scale is not None and not 0.0 <= guidance_scale <= MAX_GUIDANCE_SCALE:
        violations.append(
            FieldViolation("guidance_scale", f"must be between 0 and {MAX_GUIDANCE_SCALE:g}; got {guidance_scale:g}")
        )
    if seed is not None and not 0 <= seed <= MAX_SEED:
        violations.append(FieldViolation("seed", f"must be between 0 and {MAX_SEED}; got {seed}"))


def check_steps_limit(violations: list[FieldViolation], steps: int, max_steps: int) -> None:
    if steps > max_steps:
        violations.append(FieldViolation("steps", f"at most {max_steps} for this model; got {steps}"))


def check_format(violations: list[FieldViolation], chosen: enum.Enum, supported: Sequence[enum.Enum]) -> None:
    if chosen not in supported:
        names = ", ".join(f.name for f in supported)
        violations.append(FieldViolation("format", f"this model writes {names}; got {chosen.name}"))


def validate_image_request(request: ImageRequest) -> None:
    violations: list[FieldViolation] = []
    check_prompt(violations, "prompt", request.prompt, required=True)
    check_prompt(violations, "negative_prompt", request.negative_prompt, required=False)
    for field, value in (("width", request.width), ("height", request.height)):
        if value is not None and value < 0:
            violations.append(FieldViolation(field, f"must be positive (0: the model's size); got {value}"))
    if request.image_count is not None and not 0 <= request.image_count <= MAX_IMAGES:
        violations.append(FieldViolation("image_count", f"must be 1 to {MAX_IMAGES}; got {request.image_count}"))
    check_denoising(violations, request.steps, request.guidance_scale, request.seed)
    if violations:
        raise ValidationError(violations)


def resolve_image_job(request: ImageRequest, can: ImageDescription) -> ImageJob:
    """The job for this backend: defaults filled in, and every value within what it can do."""
    violations: list[FieldViolation] = []
    width = request.width or can.default_width
    height = request.height or can.default_height
    for field, value in (("width", width), ("height", height)):
        if value % can.size_multiple:
            violations.append(FieldViolation(field, f"must be a multiple of {can.size_multiple}; got {value}"))
        elif not can.min_side <= value <= can.max_side:
            violations.append(
                FieldViolation(field, f"must be between {can.min_side} and {can.max_side} pixels; got {value}")
            )
    count = request.image_count or 1
    if count > can.max_images:
        violations.append(FieldViolation("image_count", f"at most {can.max_images} for this model; got {count}"))
    steps = request.steps or can.default_steps
    check_steps_limit(violations, steps, can.max_steps)
    image_format = request.format or ImageFormat.PNG
    check_format(violations, image_format, can.formats)
    if request.negative_prompt and not can.negative_prompt:
        violations.append(FieldViolation("negative_prompt", "this model takes no negative prompt"))
    if violations:
        raise ValidationError(violations)
    return ImageJob(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        width=width,
        height=height,
        image_count=count,
        steps=steps,
        guidance_scale=request.guidance_scale,
        seed=fresh_seed(request.seed),
        format=image_format,
        provider_options=request.provider_options,
    )
