from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from pluggably.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ParameterSchema(_message.Message):
    __slots__ = ("name", "grpc_method", "http_route", "request_schema", "examples", "models")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GRPC_METHOD_FIELD_NUMBER: _ClassVar[int]
    HTTP_ROUTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    grpc_method: str
    http_route: str
    request_schema: _struct_pb2.Struct
    examples: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    models: _containers.RepeatedCompositeFieldContainer[ModelOption]
    def __init__(self, name: _Optional[str] = ..., grpc_method: _Optional[str] = ..., http_route: _Optional[str] = ..., request_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., examples: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., models: _Optional[_Iterable[_Union[ModelOption, _Mapping]]] = ...) -> None: ...

class ModelOption(_message.Message):
    __slots__ = ("model", "aliases", "runtimes", "context_length", "default")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    model: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    runtimes: _containers.RepeatedScalarFieldContainer[_common_pb2.Runtime]
    context_length: int
    default: bool
    def __init__(self, model: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., runtimes: _Optional[_Iterable[_Union[_common_pb2.Runtime, str]]] = ..., context_length: _Optional[int] = ..., default: _Optional[bool] = ...) -> None: ...

class ListParameterSchemasRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListParameterSchemasResponse(_message.Message):
    __slots__ = ("parameter_schemas", "next_page_token")
    PARAMETER_SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parameter_schemas: _containers.RepeatedCompositeFieldContainer[ParameterSchema]
    next_page_token: str
    def __init__(self, parameter_schemas: _Optional[_Iterable[_Union[ParameterSchema, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetParameterSchemaRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...
