"""Checks a mesh request, every bad field at once (VALIDATION_ERROR), and resolves it into a job."""

from __future__ import annotations

from pluggably.core.errors import FeatureNotSupportedError, FieldViolation, ValidationError
from pluggably.core.generation.backends import MeshDescription
from pluggably.core.generation.common import fresh_seed
from pluggably.core.generation.image_validation import (
    check_denoising,
    check_format,
    check_prompt,
    check_steps_limit,
)
from pluggably.core.generation.meshes import MeshFormat, MeshJob, MeshRequest


def validate_mesh_request(request: MeshRequest) -> None:
    violations: list[FieldViolation] = []
    check_prompt(violations, "prompt", request.prompt, required=True)
    check_denoising(violations, request.steps, request.guidance_scale, request.seed)
    if violations:
        raise ValidationError(violations)


def resolve_mesh_job(request: MeshRequest, can: MeshDescription) -> MeshJob:
    if not can.text_input:
        raise FeatureNotSupportedError("this model makes meshes from images, which the gateway does not take yet")
    violations: list[FieldViolation] = []
    steps = request.steps or can.default_steps
    check_steps_limit(violations, steps, can.max_steps)
    mesh_format = request.format or MeshFormat.GLB
    check_format(violations, mesh_format, can.formats)
    if violations:
        raise ValidationError(violations)
    return MeshJob(
        prompt=request.prompt,
        steps=steps,
        guidance_scale=request.guidance_scale,
        seed=fresh_seed(request.seed),
        format=mesh_format,
        provider_options=request.provider_options,
    )
