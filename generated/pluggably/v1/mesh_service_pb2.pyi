import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.longrunning import operations_pb2 as _operations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from pluggably.v1 import artifact_service_pb2 as _artifact_service_pb2
from pluggably.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MeshFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESH_FORMAT_UNSPECIFIED: _ClassVar[MeshFormat]
    MESH_FORMAT_GLB: _ClassVar[MeshFormat]
    MESH_FORMAT_OBJ: _ClassVar[MeshFormat]
    MESH_FORMAT_PLY: _ClassVar[MeshFormat]
MESH_FORMAT_UNSPECIFIED: MeshFormat
MESH_FORMAT_GLB: MeshFormat
MESH_FORMAT_OBJ: MeshFormat
MESH_FORMAT_PLY: MeshFormat

class GenerateMeshRequest(_message.Message):
    __slots__ = ("model", "prompt", "format", "steps", "guidance_scale", "seed", "provider_options", "image")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    model: _common_pb2.ModelSelection
    prompt: str
    format: MeshFormat
    steps: int
    guidance_scale: float
    seed: int
    provider_options: _struct_pb2.Struct
    image: InputImage
    def __init__(self, model: _Optional[_Union[_common_pb2.ModelSelection, _Mapping]] = ..., prompt: _Optional[str] = ..., format: _Optional[_Union[MeshFormat, str]] = ..., steps: _Optional[int] = ..., guidance_scale: _Optional[float] = ..., seed: _Optional[int] = ..., provider_options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., image: _Optional[_Union[InputImage, _Mapping]] = ...) -> None: ...

class InputImage(_message.Message):
    __slots__ = ("data", "artifact")
    DATA_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    artifact: str
    def __init__(self, data: _Optional[bytes] = ..., artifact: _Optional[str] = ...) -> None: ...

class GenerateMeshMetadata(_message.Message):
    __slots__ = ("steps_done", "steps_total", "served_by", "stage", "create_time", "update_time")
    STEPS_DONE_FIELD_NUMBER: _ClassVar[int]
    STEPS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    steps_done: int
    steps_total: int
    served_by: _common_pb2.ServedBy
    stage: _common_pb2.GenerationStage
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, steps_done: _Optional[int] = ..., steps_total: _Optional[int] = ..., served_by: _Optional[_Union[_common_pb2.ServedBy, _Mapping]] = ..., stage: _Optional[_Union[_common_pb2.GenerationStage, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GenerateMeshResponse(_message.Message):
    __slots__ = ("mesh", "vertex_count", "face_count", "usage", "served_by", "provider_metadata")
    MESH_FIELD_NUMBER: _ClassVar[int]
    VERTEX_COUNT_FIELD_NUMBER: _ClassVar[int]
    FACE_COUNT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_METADATA_FIELD_NUMBER: _ClassVar[int]
    mesh: _artifact_service_pb2.Artifact
    vertex_count: int
    face_count: int
    usage: _common_pb2.Usage
    served_by: _common_pb2.ServedBy
    provider_metadata: _struct_pb2.Struct
    def __init__(self, mesh: _Optional[_Union[_artifact_service_pb2.Artifact, _Mapping]] = ..., vertex_count: _Optional[int] = ..., face_count: _Optional[int] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., served_by: _Optional[_Union[_common_pb2.ServedBy, _Mapping]] = ..., provider_metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
