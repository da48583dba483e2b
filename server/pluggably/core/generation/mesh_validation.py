"""Checks a mesh request, every bad field at once (VALIDATION_ERROR), and resolves it into a job."""

from __future__ import annotations

from pluggably.core.errors import FieldViolation, ValidationError
from pluggably.core.generation.backends import MeshDescription
from pluggably.core.generation.common import fresh_seed
from pluggably.core.generation.image_validation import (
    check_denoising,
    check_format,
    check_prompt,
    check_steps_limit,
)
from pluggably.core.generation.meshes import MeshFormat, MeshJob, MeshRequest

# Enough for any photo a 3D model conditions on (they are resized to a few hundred pixels).
MAX_INPUT_IMAGE_BYTES = 16 << 20
# The first bytes of the image files the backends read: PNG, JPEG, WEBP (RIFF....WEBP).
_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def looks_like_an_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def validate_mesh_request(request: MeshRequest) -> None:
    violations: list[FieldViolation] = []
    image = request.image
    check_prompt(violations, "prompt", request.prompt, required=image is None)
    if image is not None:
        if request.prompt:
            violations.append(FieldViolation("prompt", "give either prompt (text to 3D) or image, not both"))
        if bool(image.data) == bool(image.artifact):
            violations.append(FieldViolation("image", "give the image's data or an artifact holding it"))
        elif image.data and len(image.data) > MAX_INPUT_IMAGE_BYTES:
            violations.append(
                FieldViolation("image.data", f"at most {MAX_INPUT_IMAGE_BYTES} bytes; got {len(image.data)}")
            )
        elif image.data and not looks_like_an_image(image.data):
            violations.append(FieldViolation("image.data", "must be a PNG, JPEG or WEBP file"))
    check_denoising(violations, request.steps, request.guidance_scale, request.seed)
    if violations:
        raise ValidationError(violations)


def resolve_mesh_job(request: MeshRequest, can: MeshDescription, image: bytes | None) -> MeshJob:
    """The job for this backend; `image` is the input image's bytes (fetched from its artifact if need be)."""
    if can.text_input and request.image is not None:
        raise ValidationError.single("image", "this model makes meshes from text: give a prompt instead")
    if not can.text_input and image is None:
        raise ValidationError.single("image", "required: this model makes meshes from an image, not a prompt")
    violations: list[FieldViolation] = []
    steps = request.steps or can.default_steps
    check_steps_limit(violations, steps, can.max_steps)
    mesh_format = request.format or MeshFormat.GLB
    check_format(violations, mesh_format, can.formats)
    if violations:
        raise ValidationError(violations)
    return MeshJob(
        prompt=request.prompt,
        image=image,
        steps=steps,
        guidance_scale=request.guidance_scale,
        seed=fresh_seed(request.seed),
        format=mesh_format,
        provider_options=request.provider_options,
    )
