"""Conversions between protobuf messages and domain objects. No logic lives here."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from google.longrunning import operations_pb2
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from pluggably.api.names import resource_name
from pluggably.core import models as domain
from pluggably.core import operations
from pluggably.core.artifacts import SignedArtifact
from pluggably.core.errors import ValidationError
from pluggably.core.generation import common, images, meshes, text
from pluggably.core.generation.image_service import IMAGES_KIND
from pluggably.core.generation.mesh_service import MESH_KIND
from pluggably.core.models import downloads
from pluggably.core.models import storage as domain_storage
from pluggably.core.models.serialization import model_from_json
from pluggably.rpc.status import to_status
from pluggably.v1 import (
    artifact_service_pb2,
    common_pb2,
    image_service_pb2,
    mesh_service_pb2,
    model_service_pb2,
    text_service_pb2,
)

RUNTIME_TO_PROTO = {
    domain.Runtime.ONNX: common_pb2.RUNTIME_ONNX,
    domain.Runtime.TORCH: common_pb2.RUNTIME_TORCH,
    domain.Runtime.REMOTE: common_pb2.RUNTIME_REMOTE,
}
RUNTIME_FROM_PROTO = {value: key for key, value in RUNTIME_TO_PROTO.items()}
MODALITY_TO_PROTO = {
    domain.Modality.TEXT: common_pb2.MODALITY_TEXT,
    domain.Modality.IMAGE: common_pb2.MODALITY_IMAGE,
    domain.Modality.MESH: common_pb2.MODALITY_MESH,
}
FORMAT_TO_PROTO = {
    domain.ModelFormat.SAFETENSORS: model_service_pb2.MODEL_FORMAT_SAFETENSORS,
    domain.ModelFormat.ONNX: model_service_pb2.MODEL_FORMAT_ONNX,
    domain.ModelFormat.GGUF: model_service_pb2.MODEL_FORMAT_GGUF,
    domain.ModelFormat.DIFFUSERS: model_service_pb2.MODEL_FORMAT_DIFFUSERS,
    domain.ModelFormat.PYTORCH: model_service_pb2.MODEL_FORMAT_PYTORCH,
}
STATE_TO_PROTO = {
    domain.ModelState.READY: model_service_pb2.Model.READY,
    domain.ModelState.DOWNLOADING: model_service_pb2.Model.DOWNLOADING,
    domain.ModelState.FAILED: model_service_pb2.Model.FAILED,
    domain.ModelState.MISSING: model_service_pb2.Model.MISSING,
}
GPU_TO_PROTO = {
    domain.GpuRequirement.NONE: model_service_pb2.GPU_REQUIREMENT_NONE,
    domain.GpuRequirement.RECOMMENDED: model_service_pb2.GPU_REQUIREMENT_RECOMMENDED,
    domain.GpuRequirement.REQUIRED: model_service_pb2.GPU_REQUIREMENT_REQUIRED,
}
FINISH_TO_PROTO = {
    text.FinishReason.STOP: common_pb2.FINISH_REASON_STOP,
    text.FinishReason.LENGTH: common_pb2.FINISH_REASON_LENGTH,
    text.FinishReason.CANCELLED: common_pb2.FINISH_REASON_CANCELLED,
    text.FinishReason.ERROR: common_pb2.FINISH_REASON_ERROR,
}


def timestamp(value: datetime.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(value)
    return result


def struct_to_dict(value: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(value)


def model_selection(message: common_pb2.ModelSelection) -> common.ModelSelection:
    if message.runtime not in RUNTIME_FROM_PROTO and message.runtime != common_pb2.RUNTIME_UNSPECIFIED:
        raise ValidationError.single("model.runtime", f"unknown runtime value {message.runtime}")
    return common.ModelSelection(
        id=message.id,
        provider=message.provider,
        runtime=RUNTIME_FROM_PROTO.get(message.runtime),
    )


def _optional(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


def text_request(message: text_service_pb2.GenerateTextRequest) -> text.TextRequest:
    return text.TextRequest(
        selection=model_selection(message.model),
        messages=tuple(text.ChatMessage(role=m.role, content=m.content) for m in message.messages),
        prompt=message.prompt,
        params=text.SamplingParams(
            max_output_tokens=_optional(message, "max_output_tokens"),
            temperature=_optional(message, "temperature"),
            top_p=_optional(message, "top_p"),
            top_k=_optional(message, "top_k"),
            stop_sequences=tuple(message.stop_sequences),
            seed=_optional(message, "seed"),
        ),
        provider_options=struct_to_dict(message.provider_options),
    )


def served_by(value: common.ServedBy) -> common_pb2.ServedBy:
    return common_pb2.ServedBy(
        model=value.model,
        provider=value.provider,
        runtime=RUNTIME_TO_PROTO[value.runtime],
        device=value.device,
    )


def usage(value: common.Usage) -> common_pb2.Usage:
    return common_pb2.Usage(
        input_tokens=value.input_tokens,
        output_tokens=value.output_tokens,
        total_tokens=value.total_tokens,
        images=value.images,
        meshes=value.meshes,
    )


def text_response(result: text.TextResult) -> text_service_pb2.GenerateTextResponse:
    return text_service_pb2.GenerateTextResponse(
        text=result.text,
        finish_reason=FINISH_TO_PROTO[result.finish_reason],
        usage=usage(result.usage),
        served_by=served_by(result.served_by),
    )


def model_source(source: domain.ModelSource | None) -> model_service_pb2.ModelSource:
    match source:
        case None:
            return model_service_pb2.ModelSource()
        case domain.ModelSource(kind=domain.SourceKind.HUGGING_FACE):
            return model_service_pb2.ModelSource(
                hugging_face=model_service_pb2.HuggingFaceSource(
                    repo_id=source.location, revision=source.revision, allow_patterns=source.allow_patterns
                )
            )
        case domain.ModelSource(kind=domain.SourceKind.URL):
            return model_service_pb2.ModelSource(url=source.location)
        case _:
            return model_service_pb2.ModelSource(local_path=source.location)


def model(info: domain.ModelInfo) -> model_service_pb2.Model:
    return model_service_pb2.Model(
        name=info.name,
        display_name=info.display_name,
        aliases=list(info.aliases),
        modality=MODALITY_TO_PROTO[info.modality] if info.modality else common_pb2.MODALITY_UNSPECIFIED,
        source=model_source(info.source),
        revision=info.revision,
        formats=[FORMAT_TO_PROTO[f] for f in info.formats],
        runtimes=[RUNTIME_TO_PROTO[r] for r in info.runtimes],
        size_bytes=info.size_bytes,
        hardware=model_service_pb2.HardwareRequirements(
            memory_bytes=info.hardware.memory_bytes,
            gpu=GPU_TO_PROTO[info.hardware.gpu],
            gpu_memory_bytes=info.hardware.gpu_memory_bytes,
        ),
        capabilities=model_service_pb2.ModelCapabilities(
            context_length=info.capabilities.context_length,
            chat=info.capabilities.chat,
            output_formats=list(info.capabilities.output_formats),
            image_sizes=list(info.capabilities.image_sizes),
        ),
        state=STATE_TO_PROTO[info.state],
        state_reason=info.state_reason,
        pinned=info.pinned,
        last_use_time=timestamp(info.last_use_time),
        create_time=timestamp(info.create_time),
        update_time=timestamp(info.update_time),
        labels=info.labels,
        provider=info.provider,
    )


def model_source_from_proto(source: model_service_pb2.ModelSource) -> domain.ModelSource:
    match source.WhichOneof("source"):
        case "hugging_face":
            hub = source.hugging_face
            return domain.ModelSource(
                domain.SourceKind.HUGGING_FACE, hub.repo_id, hub.revision, tuple(hub.allow_patterns)
            )
        case "url":
            return domain.ModelSource(domain.SourceKind.URL, source.url)
        case "local_path":
            return domain.ModelSource(domain.SourceKind.LOCAL, source.local_path)
    raise ValidationError.single("source", "required: one of hugging_face, url or local_path")


STAGE_TO_PROTO = {
    downloads.Stage.QUEUED: model_service_pb2.DownloadModelMetadata.QUEUED,
    downloads.Stage.RESOLVING: model_service_pb2.DownloadModelMetadata.RESOLVING,
    downloads.Stage.DOWNLOADING: model_service_pb2.DownloadModelMetadata.DOWNLOADING,
    downloads.Stage.VERIFYING: model_service_pb2.DownloadModelMetadata.VERIFYING,
    downloads.Stage.REGISTERING: model_service_pb2.DownloadModelMetadata.REGISTERING,
    downloads.Stage.DONE: model_service_pb2.DownloadModelMetadata.DONE,
}


def download_metadata(value: dict[str, Any], op: operations.Operation) -> model_service_pb2.DownloadModelMetadata:
    metadata = model_service_pb2.DownloadModelMetadata(
        model=value["model"],
        stage=STAGE_TO_PROTO[downloads.Stage(value["stage"])],
        bytes_done=value["bytes_done"],
        bytes_total=value["bytes_total"],
        files_done=value["files_done"],
        files_total=value["files_total"],
        bytes_per_second=value["bytes_per_second"],
        create_time=timestamp(op.create_time),
        update_time=timestamp(op.update_time),
    )
    if value.get("eta_s") is not None:
        metadata.eta.FromMilliseconds(int(value["eta_s"] * 1000))
    return metadata


STAGE_OF_GENERATION = {
    common.Stage.QUEUED: common_pb2.GENERATION_STAGE_QUEUED,
    common.Stage.DENOISING: common_pb2.GENERATION_STAGE_DENOISING,
    common.Stage.DECODING: common_pb2.GENERATION_STAGE_DECODING,
    common.Stage.STORING: common_pb2.GENERATION_STAGE_STORING,
    common.Stage.DONE: common_pb2.GENERATION_STAGE_DONE,
}
IMAGE_FORMAT_FROM_PROTO = {
    image_service_pb2.IMAGE_FORMAT_PNG: images.ImageFormat.PNG,
    image_service_pb2.IMAGE_FORMAT_JPEG: images.ImageFormat.JPEG,
    image_service_pb2.IMAGE_FORMAT_WEBP: images.ImageFormat.WEBP,
}
MESH_FORMAT_FROM_PROTO = {
    mesh_service_pb2.MESH_FORMAT_GLB: meshes.MeshFormat.GLB,
    mesh_service_pb2.MESH_FORMAT_OBJ: meshes.MeshFormat.OBJ,
    mesh_service_pb2.MESH_FORMAT_PLY: meshes.MeshFormat.PLY,
}

# Finds a stored artifact by id, freshly signed; None once it is gone (expired or deleted).
ArtifactLookup = Callable[[str], SignedArtifact | None]


def _enum(value: int, known: Mapping[int, Any], field: str) -> Any:
    """A request enum; UNSPECIFIED (0) is None, an unknown number a VALIDATION_ERROR."""
    if value and value not in known:
        raise ValidationError.single(field, f"unknown value {value}")
    return known.get(value)


def image_request(message: image_service_pb2.GenerateImagesRequest) -> images.ImageRequest:
    return images.ImageRequest(
        selection=model_selection(message.model),
        prompt=message.prompt,
        negative_prompt=message.negative_prompt,
        width=message.width or None,
        height=message.height or None,
        image_count=message.image_count or None,
        steps=message.steps or None,
        guidance_scale=_optional(message, "guidance_scale"),
        seed=_optional(message, "seed"),
        format=_enum(message.format, IMAGE_FORMAT_FROM_PROTO, "format"),
        provider_options=struct_to_dict(message.provider_options),
    )


def input_image(message: mesh_service_pb2.InputImage, field: str) -> meshes.InputImage:
    artifact = resource_name(message.artifact, "artifacts", "artifact", f"{field}.artifact") if message.artifact else ""
    return meshes.InputImage(data=message.data, artifact=artifact)


def mesh_request(message: mesh_service_pb2.GenerateMeshRequest) -> meshes.MeshRequest:
    return meshes.MeshRequest(
        selection=model_selection(message.model),
        prompt=message.prompt,
        image=input_image(message.image, "image") if message.HasField("image") else None,
        steps=message.steps or None,
        guidance_scale=_optional(message, "guidance_scale"),
        seed=_optional(message, "seed"),
        format=_enum(message.format, MESH_FORMAT_FROM_PROTO, "format"),
        provider_options=struct_to_dict(message.provider_options),
    )


def artifact(value: SignedArtifact) -> artifact_service_pb2.Artifact:
    stored = value.artifact
    return artifact_service_pb2.Artifact(
        name=stored.name,
        mime_type=stored.mime_type,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        create_time=timestamp(stored.create_time),
        expire_time=timestamp(stored.expire_time),
        download_uri=value.download_uri,
        download_expire_time=timestamp(value.download_expire_time),
        model=stored.model,
    )


def images_response(result: images.ImageResult) -> image_service_pb2.GenerateImagesResponse:
    return image_service_pb2.GenerateImagesResponse(
        images=[artifact(a) for a in result.images], usage=usage(result.usage), served_by=served_by(result.served_by)
    )


def _generation_metadata(message_type: Any, value: dict[str, Any], op: operations.Operation) -> Any:
    metadata = message_type(
        stage=STAGE_OF_GENERATION[common.Stage(value["stage"])],
        steps_done=value["steps_done"],
        steps_total=value["steps_total"],
        create_time=timestamp(op.create_time),
        update_time=timestamp(op.update_time),
    )
    if value.get("served_by"):
        metadata.served_by.CopyFrom(served_by(common.ServedBy.from_json(value["served_by"])))
    return metadata


def _generation_response(
    kind: str, value: dict[str, Any], artifact_of: ArtifactLookup
) -> image_service_pb2.GenerateImagesResponse | mesh_service_pb2.GenerateMeshResponse:
    who = served_by(common.ServedBy.from_json(value["served_by"]))
    if kind == IMAGES_KIND:
        stored = [a for a in map(artifact_of, value["artifacts"]) if a is not None]
        return image_service_pb2.GenerateImagesResponse(
            images=[artifact(a) for a in stored],
            usage=usage(common.Usage(images=len(value["artifacts"]))),
            served_by=who,
        )
    response = mesh_service_pb2.GenerateMeshResponse(
        vertex_count=value["vertex_count"],
        face_count=value["face_count"],
        usage=usage(common.Usage(meshes=1)),
        served_by=who,
    )
    if (mesh := artifact_of(value["artifact"])) is not None:
        response.mesh.CopyFrom(artifact(mesh))
    return response


_GENERATION_METADATA = {
    IMAGES_KIND: image_service_pb2.GenerateImagesMetadata,
    MESH_KIND: mesh_service_pb2.GenerateMeshMetadata,
}


def operation(value: operations.Operation, artifact_of: ArtifactLookup | None = None) -> operations_pb2.Operation:
    """A domain operation as `google.longrunning.Operation`, with typed metadata and result.

    A generation's result names its artifacts; `artifact_of` finds them, signed afresh (an expired one is
    left out of the response, as it is gone from the store).
    """
    result = operations_pb2.Operation(name=value.name, done=value.done)
    if value.kind == downloads.DOWNLOAD_KIND:
        result.metadata.Pack(download_metadata(value.metadata, value))
        if value.result is not None:
            result.response.Pack(model(model_from_json(value.result)))
    elif value.kind in _GENERATION_METADATA:
        result.metadata.Pack(_generation_metadata(_GENERATION_METADATA[value.kind], value.metadata, value))
        if value.result is not None:
            result.response.Pack(_generation_response(value.kind, value.result, artifact_of or (lambda _: None)))
    if value.error is not None:
        result.error.CopyFrom(to_status(value.error))
    return result


def storage(usage: domain_storage.StorageUsage) -> model_service_pb2.Storage:
    return model_service_pb2.Storage(
        name="storage",
        models_bytes=usage.models_bytes,
        staging_bytes=usage.staging_bytes,
        budget_bytes=usage.budget_bytes,
        free_disk_bytes=usage.free_disk_bytes,
        min_free_disk_bytes=usage.min_free_disk_bytes,
        models=[
            model_service_pb2.ModelStorage(
                model=m.model.name,
                size_bytes=m.size_bytes,
                pinned=m.model.pinned,
                last_use_time=timestamp(m.model.last_use_time),
            )
            for m in usage.models
        ],
        artifacts_bytes=usage.artifacts_bytes,
        artifacts_budget_bytes=usage.artifacts_budget_bytes,
    )


def cleanup(report: domain_storage.CleanupReport) -> model_service_pb2.CleanupStorageResponse:
    return model_service_pb2.CleanupStorageResponse(
        items=[
            model_service_pb2.CleanupItem(
                model=i.model, path=i.path, size_bytes=i.size_bytes, reason=i.reason, artifact=i.artifact
            )
            for i in report.items
        ],
        freed_bytes=report.freed_bytes,
        dry_run=report.dry_run,
    )
