from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Runtime(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUNTIME_UNSPECIFIED: _ClassVar[Runtime]
    RUNTIME_ONNX: _ClassVar[Runtime]
    RUNTIME_TORCH: _ClassVar[Runtime]
    RUNTIME_REMOTE: _ClassVar[Runtime]

class Modality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_UNSPECIFIED: _ClassVar[Modality]
    MODALITY_TEXT: _ClassVar[Modality]
    MODALITY_IMAGE: _ClassVar[Modality]
    MODALITY_MESH: _ClassVar[Modality]

class FinishReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINISH_REASON_UNSPECIFIED: _ClassVar[FinishReason]
    FINISH_REASON_STOP: _ClassVar[FinishReason]
    FINISH_REASON_LENGTH: _ClassVar[FinishReason]
    FINISH_REASON_CANCELLED: _ClassVar[FinishReason]
    FINISH_REASON_ERROR: _ClassVar[FinishReason]

class GenerationStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GENERATION_STAGE_UNSPECIFIED: _ClassVar[GenerationStage]
    GENERATION_STAGE_QUEUED: _ClassVar[GenerationStage]
    GENERATION_STAGE_DENOISING: _ClassVar[GenerationStage]
    GENERATION_STAGE_DECODING: _ClassVar[GenerationStage]
    GENERATION_STAGE_STORING: _ClassVar[GenerationStage]
    GENERATION_STAGE_DONE: _ClassVar[GenerationStage]
RUNTIME_UNSPECIFIED: Runtime
RUNTIME_ONNX: Runtime
RUNTIME_TORCH: Runtime
RUNTIME_REMOTE: Runtime
MODALITY_UNSPECIFIED: Modality
MODALITY_TEXT: Modality
MODALITY_IMAGE: Modality
MODALITY_MESH: Modality
FINISH_REASON_UNSPECIFIED: FinishReason
FINISH_REASON_STOP: FinishReason
FINISH_REASON_LENGTH: FinishReason
FINISH_REASON_CANCELLED: FinishReason
FINISH_REASON_ERROR: FinishReason
GENERATION_STAGE_UNSPECIFIED: GenerationStage
GENERATION_STAGE_QUEUED: GenerationStage
GENERATION_STAGE_DENOISING: GenerationStage
GENERATION_STAGE_DECODING: GenerationStage
GENERATION_STAGE_STORING: GenerationStage
GENERATION_STAGE_DONE: GenerationStage

class ModelSelection(_message.Message):
    __slots__ = ("id", "provider", "runtime")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider: str
    runtime: Runtime
    def __init__(self, id: _Optional[str] = ..., provider: _Optional[str] = ..., runtime: _Optional[_Union[Runtime, str]] = ...) -> None: ...

class ServedBy(_message.Message):
    __slots__ = ("model", "provider", "runtime", "device")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    model: str
    provider: str
    runtime: Runtime
    device: str
    def __init__(self, model: _Optional[str] = ..., provider: _Optional[str] = ..., runtime: _Optional[_Union[Runtime, str]] = ..., device: _Optional[str] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "total_tokens", "images", "meshes")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    MESHES_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    total_tokens: int
    images: int
    meshes: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., images: _Optional[int] = ..., meshes: _Optional[int] = ...) -> None: ...
