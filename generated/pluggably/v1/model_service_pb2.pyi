import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import client_pb2 as _client_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.longrunning import operations_pb2 as _operations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from pluggably.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_FORMAT_UNSPECIFIED: _ClassVar[ModelFormat]
    MODEL_FORMAT_SAFETENSORS: _ClassVar[ModelFormat]
    MODEL_FORMAT_ONNX: _ClassVar[ModelFormat]
    MODEL_FORMAT_GGUF: _ClassVar[ModelFormat]
    MODEL_FORMAT_DIFFUSERS: _ClassVar[ModelFormat]
    MODEL_FORMAT_PYTORCH: _ClassVar[ModelFormat]

class GpuRequirement(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GPU_REQUIREMENT_UNSPECIFIED: _ClassVar[GpuRequirement]
    GPU_REQUIREMENT_NONE: _ClassVar[GpuRequirement]
    GPU_REQUIREMENT_RECOMMENDED: _ClassVar[GpuRequirement]
    GPU_REQUIREMENT_REQUIRED: _ClassVar[GpuRequirement]
MODEL_FORMAT_UNSPECIFIED: ModelFormat
MODEL_FORMAT_SAFETENSORS: ModelFormat
MODEL_FORMAT_ONNX: ModelFormat
MODEL_FORMAT_GGUF: ModelFormat
MODEL_FORMAT_DIFFUSERS: ModelFormat
MODEL_FORMAT_PYTORCH: ModelFormat
GPU_REQUIREMENT_UNSPECIFIED: GpuRequirement
GPU_REQUIREMENT_NONE: GpuRequirement
GPU_REQUIREMENT_RECOMMENDED: GpuRequirement
GPU_REQUIREMENT_REQUIRED: GpuRequirement

class Model(_message.Message):
    __slots__ = ("name", "display_name", "aliases", "modality", "source", "revision", "formats", "runtimes", "size_bytes", "hardware", "capabilities", "state", "state_reason", "pinned", "last_use_time", "create_time", "update_time", "labels", "provider")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Model.State]
        READY: _ClassVar[Model.State]
        DOWNLOADING: _ClassVar[Model.State]
        FAILED: _ClassVar[Model.State]
        MISSING: _ClassVar[Model.State]
    STATE_UNSPECIFIED: Model.State
    READY: Model.State
    DOWNLOADING: Model.State
    FAILED: Model.State
    MISSING: Model.State
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    FORMATS_FIELD_NUMBER: _ClassVar[int]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    LAST_USE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    modality: _common_pb2.Modality
    source: ModelSource
    revision: str
    formats: _containers.RepeatedScalarFieldContainer[ModelFormat]
    runtimes: _containers.RepeatedScalarFieldContainer[_common_pb2.Runtime]
    size_bytes: int
    hardware: HardwareRequirements
    capabilities: ModelCapabilities
    state: Model.State
    state_reason: str
    pinned: bool
    last_use_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    labels: _containers.ScalarMap[str, str]
    provider: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., modality: _Optional[_Union[_common_pb2.Modality, str]] = ..., source: _Optional[_Union[ModelSource, _Mapping]] = ..., revision: _Optional[str] = ..., formats: _Optional[_Iterable[_Union[ModelFormat, str]]] = ..., runtimes: _Optional[_Iterable[_Union[_common_pb2.Runtime, str]]] = ..., size_bytes: _Optional[int] = ..., hardware: _Optional[_Union[HardwareRequirements, _Mapping]] = ..., capabilities: _Optional[_Union[ModelCapabilities, _Mapping]] = ..., state: _Optional[_Union[Model.State, str]] = ..., state_reason: _Optional[str] = ..., pinned: _Optional[bool] = ..., last_use_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., provider: _Optional[str] = ...) -> None: ...

class ModelSource(_message.Message):
    __slots__ = ("hugging_face", "url", "local_path")
    HUGGING_FACE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    LOCAL_PATH_FIELD_NUMBER: _ClassVar[int]
    hugging_face: HuggingFaceSource
    url: str
    local_path: str
    def __init__(self, hugging_face: _Optional[_Union[HuggingFaceSource, _Mapping]] = ..., url: _Optional[str] = ..., local_path: _Optional[str] = ...) -> None: ...

class HuggingFaceSource(_message.Message):
    __slots__ = ("repo_id", "revision", "allow_patterns")
    REPO_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    repo_id: str
    revision: str
    allow_patterns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, repo_id: _Optional[str] = ..., revision: _Optional[str] = ..., allow_patterns: _Optional[_Iterable[str]] = ...) -> None: ...

class HardwareRequirements(_message.Message):
    __slots__ = ("memory_bytes", "gpu", "gpu_memory_bytes")
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    GPU_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    memory_bytes: int
    gpu: GpuRequirement
    gpu_memory_bytes: int
    def __init__(self, memory_bytes: _Optional[int] = ..., gpu: _Optional[_Union[GpuRequirement, str]] = ..., gpu_memory_bytes: _Optional[int] = ...) -> None: ...

class ModelCapabilities(_message.Message):
    __slots__ = ("context_length", "chat", "output_formats", "image_sizes")
    CONTEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    CHAT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMATS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SIZES_FIELD_NUMBER: _ClassVar[int]
    context_length: int
    chat: bool
    output_formats: _containers.RepeatedScalarFieldContainer[str]
    image_sizes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, context_length: _Optional[int] = ..., chat: _Optional[bool] = ..., output_formats: _Optional[_Iterable[str]] = ..., image_sizes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateModelRequest(_message.Message):
    __slots__ = ("model", "model_id")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model: Model
    model_id: str
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ..., model_id: _Optional[str] = ...) -> None: ...

class UpdateModelRequest(_message.Message):
    __slots__ = ("model", "update_mask")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    model: Model
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DownloadModelRequest(_message.Message):
    __slots__ = ("source", "model_id", "sha256")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    source: ModelSource
    model_id: str
    sha256: str
    def __init__(self, source: _Optional[_Union[ModelSource, _Mapping]] = ..., model_id: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class DownloadModelMetadata(_message.Message):
    __slots__ = ("model", "stage", "bytes_done", "bytes_total", "files_done", "files_total", "bytes_per_second", "eta", "create_time", "update_time")
    class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STAGE_UNSPECIFIED: _ClassVar[DownloadModelMetadata.Stage]
        QUEUED: _ClassVar[DownloadModelMetadata.Stage]
        RESOLVING: _ClassVar[DownloadModelMetadata.Stage]
        DOWNLOADING: _ClassVar[DownloadModelMetadata.Stage]
        VERIFYING: _ClassVar[DownloadModelMetadata.Stage]
        REGISTERING: _ClassVar[DownloadModelMetadata.Stage]
        DONE: _ClassVar[DownloadModelMetadata.Stage]
    STAGE_UNSPECIFIED: DownloadModelMetadata.Stage
    QUEUED: DownloadModelMetadata.Stage
    RESOLVING: DownloadModelMetadata.Stage
    DOWNLOADING: DownloadModelMetadata.Stage
    VERIFYING: DownloadModelMetadata.Stage
    REGISTERING: DownloadModelMetadata.Stage
    DONE: DownloadModelMetadata.Stage
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    BYTES_DONE_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FILES_DONE_FIELD_NUMBER: _ClassVar[int]
    FILES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ETA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    model: str
    stage: DownloadModelMetadata.Stage
    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int
    bytes_per_second: float
    eta: _duration_pb2.Duration
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, model: _Optional[str] = ..., stage: _Optional[_Union[DownloadModelMetadata.Stage, str]] = ..., bytes_done: _Optional[int] = ..., bytes_total: _Optional[int] = ..., files_done: _Optional[int] = ..., files_total: _Optional[int] = ..., bytes_per_second: _Optional[float] = ..., eta: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DiscoverModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DiscoverModelsResponse(_message.Message):
    __slots__ = ("added", "updated", "missing", "problems")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedScalarFieldContainer[str]
    updated: _containers.RepeatedScalarFieldContainer[str]
    missing: _containers.RepeatedScalarFieldContainer[str]
    problems: _containers.RepeatedCompositeFieldContainer[DiscoveryProblem]
    def __init__(self, added: _Optional[_Iterable[str]] = ..., updated: _Optional[_Iterable[str]] = ..., missing: _Optional[_Iterable[str]] = ..., problems: _Optional[_Iterable[_Union[DiscoveryProblem, _Mapping]]] = ...) -> None: ...

class DiscoveryProblem(_message.Message):
    __slots__ = ("path", "reason")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    path: str
    reason: str
    def __init__(self, path: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetStorageRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Storage(_message.Message):
    __slots__ = ("name", "models_bytes", "staging_bytes", "budget_bytes", "free_disk_bytes", "min_free_disk_bytes", "models", "artifacts_bytes", "artifacts_budget_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODELS_BYTES_FIELD_NUMBER: _ClassVar[int]
    STAGING_BYTES_FIELD_NUMBER: _ClassVar[int]
    BUDGET_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    MIN_FREE_DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_BYTES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_BUDGET_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    models_bytes: int
    staging_bytes: int
    budget_bytes: int
    free_disk_bytes: int
    min_free_disk_bytes: int
    models: _containers.RepeatedCompositeFieldContainer[ModelStorage]
    artifacts_bytes: int
    artifacts_budget_bytes: int
    def __init__(self, name: _Optional[str] = ..., models_bytes: _Optional[int] = ..., staging_bytes: _Optional[int] = ..., budget_bytes: _Optional[int] = ..., free_disk_bytes: _Optional[int] = ..., min_free_disk_bytes: _Optional[int] = ..., models: _Optional[_Iterable[_Union[ModelStorage, _Mapping]]] = ..., artifacts_bytes: _Optional[int] = ..., artifacts_budget_bytes: _Optional[int] = ...) -> None: ...

class ModelStorage(_message.Message):
    __slots__ = ("model", "size_bytes", "pinned", "last_use_time")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    LAST_USE_TIME_FIELD_NUMBER: _ClassVar[int]
    model: str
    size_bytes: int
    pinned: bool
    last_use_time: _timestamp_pb2.Timestamp
    def __init__(self, model: _Optional[str] = ..., size_bytes: _Optional[int] = ..., pinned: _Optional[bool] = ..., last_use_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CleanupStorageRequest(_message.Message):
    __slots__ = ("name", "dry_run")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    name: str
    dry_run: bool
    def __init__(self, name: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class CleanupStorageResponse(_message.Message):
    __slots__ = ("items", "freed_bytes", "dry_run")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    FREED_BYTES_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CleanupItem]
    freed_bytes: int
    dry_run: bool
    def __init__(self, items: _Optional[_Iterable[_Union[CleanupItem, _Mapping]]] = ..., freed_bytes: _Optional[int] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class CleanupItem(_message.Message):
    __slots__ = ("model", "path", "size_bytes", "reason", "artifact")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    model: str
    path: str
    size_bytes: int
    reason: str
    artifact: str
    def __init__(self, model: _Optional[str] = ..., path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., reason: _Optional[str] = ..., artifact: _Optional[str] = ...) -> None: ...
