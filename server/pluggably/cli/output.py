"""How the client commands print: aligned tables, sizes in KB/MB/GB (powers of 1000), or JSON."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence

from google.longrunning import operations_pb2
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2

from pluggably.cli.status import code_name
from pluggably.core.units import decimal_bytes
from pluggably.v1 import common_pb2, model_service_pb2

Model = model_service_pb2.Model
Metadata = model_service_pb2.DownloadModelMetadata

size = decimal_bytes


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def when(value: timestamp_pb2.Timestamp) -> str:
    if not value.seconds and not value.nanos:
        return "-"
    local = value.ToDatetime(tzinfo=datetime.UTC).astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S")


def enum_name(descriptor_enum: object, value: int, prefix: str = "") -> str:
    name = descriptor_enum.Name(value) if value in descriptor_enum.values() else str(value)  # type: ignore[attr-defined]
    return name.removeprefix(prefix)


def model_id(name: str) -> str:
    return name.removeprefix("models/")


def runtimes(model: Model) -> str:
    return ", ".join(enum_name(common_pb2.Runtime, r, "RUNTIME_") for r in model.runtimes) or "-"


def formats(model: Model) -> str:
    return ", ".join(enum_name(model_service_pb2.ModelFormat, f, "MODEL_FORMAT_") for f in model.formats) or "-"


def modality(model: Model) -> str:
    return enum_name(common_pb2.Modality, model.modality, "MODALITY_").lower()


def state(model: Model) -> str:
    return enum_name(Model.State, model.state)


def source(value: model_service_pb2.ModelSource) -> str:
    match value.WhichOneof("source"):
        case "hugging_face":
            hub = value.hugging_face
            text = f"hf:{hub.repo_id}" + (f"@{hub.revision}" if hub.revision else "")
            return text + (f" (only {', '.join(hub.allow_patterns)})" if hub.allow_patterns else "")
        case "url":
            return value.url
        case "local_path":
            return value.local_path
    return "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[str] = ()) -> str:
    """Columns aligned with two spaces between them; the columns named in `right` are right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if header in right else cell.ljust(width)
            for header, cell, width in zip(headers, cells, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in pairs)


def as_json(message: Message | Sequence[Message], key: str | None = None) -> str:
    """JSON as the REST API gives it (lowerCamelCase, enums by name, 64-bit integers as strings)."""
    if isinstance(message, Message):
        return json.dumps(json_format.MessageToDict(message), indent=2)
    values = [json_format.MessageToDict(m) for m in message]
    return json.dumps({key: values} if key else values, indent=2)


# -- models -------------------------------------------------------------------------------------------------------


def model_table(models: Sequence[Model]) -> str:
    if not models:
        return "No models."
    rows = [
        [
            model_id(m.name),
            state(m),
            modality(m),
            runtimes(m),
            formats(m),
            size(m.size_bytes),
            "yes" if m.pinned else "",
            ", ".join(m.aliases),
        ]
        for m in models
    ]
    headers = ["ID", "STATE", "MODALITY", "RUNTIMES", "FORMATS", "SIZE", "PINNED", "ALIASES"]
    return table(headers, rows, right=("SIZE",))


def model_details(model: Model) -> str:
    pairs = [
        ("name", model.name),
        ("display name", model.display_name or "-"),
        ("aliases", ", ".join(model.aliases) or "-"),
        ("state", state(model) + (f" ({model.state_reason})" if model.state_reason else "")),
        ("modality", modality(model)),
        ("provider", model.provider or "-"),
        ("runtimes", runtimes(model)),
        ("formats", formats(model)),
        ("size", size(model.size_bytes)),
        ("source", source(model.source)),
        ("revision", model.revision or "-"),
    ]
    hardware = model.hardware
    if hardware.memory_bytes:
        pairs.append(("memory", size(hardware.memory_bytes)))
    if hardware.gpu:
        pairs.append(("gpu", enum_name(model_service_pb2.GpuRequirement, hardware.gpu, "GPU_REQUIREMENT_").lower()))
    caps = model.capabilities
    if caps.context_length:
        pairs.append(("context length", f"{caps.context_length} tokens"))
    pairs.append(("chat", "yes" if caps.chat else "no"))
    if caps.output_formats:
        pairs.append(("outputs", ", ".join(caps.output_formats)))
    pairs += [
        ("pinned", "yes" if model.pinned else "no"),
        ("labels", ", ".join(f"{k}={v}" for k, v in sorted(model.labels.items())) or "-"),
        ("created", when(model.create_time)),
        ("last used", when(model.last_use_time)),
    ]
    return fields(pairs)


def discovery(response: model_service_pb2.DiscoverModelsResponse) -> str:
    lines = []
    for label, names in (("added", response.added), ("updated", response.updated), ("missing", response.missing)):
        lines += [f"{label:8} {model_id(n)}" for n in names]
    lines += [f"problem  {p.path}: {p.reason}" for p in response.problems]
    return "\n".join(lines) if lines else "No changes: the registry matches the models directory."


# -- storage ------------------------------------------------------------------------------------------------------


def storage(value: model_service_pb2.Storage) -> str:
    budget = "none"
    if value.budget_bytes:
        used = (value.models_bytes + value.staging_bytes) / value.budget_bytes
        budget = f"{size(value.budget_bytes)} ({used:.0%} used)"
    summary = fields(
        [
            ("models", size(value.models_bytes)),
            ("staging", size(value.staging_bytes)),
            ("budget", budget),
            ("free disk", f"{size(value.free_disk_bytes)} (downloads leave {size(value.min_free_disk_bytes)})"),
        ]
    )
    if not value.models:
        return summary
    rows = [
        [model_id(m.model), size(m.size_bytes), "yes" if m.pinned else "", when(m.last_use_time)] for m in value.models
    ]
    return summary + "\n\n" + table(["MODEL", "SIZE", "PINNED", "LAST USED"], rows, right=("SIZE",))


def cleanup(response: model_service_pb2.CleanupStorageResponse) -> str:
    if not response.items:
        return "Nothing to clean up."
    rows = [[i.path, model_id(i.model) or "-", size(i.size_bytes), i.reason] for i in response.items]
    listing = table(["PATH", "MODEL", "SIZE", "REASON"], rows, right=("SIZE",))
    if response.dry_run:
        return f"{listing}\n\nWould free {size(response.freed_bytes)} (dry run: nothing was removed)."
    return f"{listing}\n\nFreed {size(response.freed_bytes)}."


# -- operations ---------------------------------------------------------------------------------------------------


def download_metadata(operation: operations_pb2.Operation) -> Metadata | None:
    metadata = Metadata()
    return metadata if operation.metadata.Unpack(metadata) else None


def stage(metadata: Metadata) -> str:
    return enum_name(Metadata.Stage, metadata.stage).lower()


def progress(metadata: Metadata, percent: bool = True) -> str:
    """`800.0 KB / 1.6 MB (50%), 200.0 KB/s, ETA 4s, files 0/1`; the parts not known yet are left out."""
    done = size(metadata.bytes_done)
    parts = [f"{done} / {size(metadata.bytes_total)}" if metadata.bytes_total else done]
    if metadata.bytes_total and percent:
        parts[0] += f" ({metadata.bytes_done / metadata.bytes_total:.0%})"
    if metadata.bytes_per_second and metadata.stage == Metadata.DOWNLOADING:
        parts.append(f"{size(metadata.bytes_per_second)}/s")
    if metadata.HasField("eta") and metadata.stage == Metadata.DOWNLOADING:
        parts.append(f"ETA {duration(metadata.eta.ToTimedelta().total_seconds())}")
    if metadata.files_total:
        parts.append(f"files {metadata.files_done}/{metadata.files_total}")
    return ", ".join(parts)


def operation_state(operation: operations_pb2.Operation) -> str:
    if not operation.done:
        return "running"
    if operation.HasField("error"):
        return (
            "cancelled" if operation.error.code == code_pb2.CANCELLED else f"failed ({code_name(operation.error.code)})"
        )
    return "done"


def operation_table(operations: Sequence[operations_pb2.Operation]) -> str:
    if not operations:
        return "No operations."
    rows = []
    for op in operations:
        metadata = download_metadata(op)
        model = model_id(metadata.model) if metadata else "-"
        detail = f"{stage(metadata)}: {progress(metadata)}" if metadata else "-"
        rows.append([op.name, operation_state(op), model, detail])
    return table(["NAME", "STATE", "MODEL", "PROGRESS"], rows)


def operation_details(operation: operations_pb2.Operation) -> str:
    pairs = [("name", operation.name), ("state", operation_state(operation))]
    metadata = download_metadata(operation)
    if metadata is not None:
        pairs += [
            ("model", metadata.model),
            ("stage", stage(metadata)),
            ("progress", progress(metadata)),
            ("started", when(metadata.create_time)),
            ("updated", when(metadata.update_time)),
        ]
    if operation.HasField("error"):
        pairs.append(("error", operation.error.message))
    return fields(pairs)


def pulled(model: Model) -> str:
    return f"Pulled {model.name}.\n{model_details(model)}"
