"""ArtifactService: artifacts over gRPC and, through Envoy, REST; the downloads' HTTP headers and byte ranges.

A download's HTTP shape is set here, on the first message's metadata:
`Content-Disposition`, `ETag` (the SHA-256), `Cache-Control`,
`Accept-Ranges`, and for REST callers (Envoy marks them with
`x-envoy-original-path`) two keys that Envoy's Lua filter turns into the
response's `Content-Length` and `:status` (206 for a range), which the
transcoder cannot set on its own.
"""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import AsyncIterator

from google.api import httpbody_pb2
from google.protobuf import empty_pb2
from grpc import aio

from pluggably.api import convert
from pluggably.api.names import resource_name
from pluggably.api.paging import decode_page_token, encode_page_token, page_size
from pluggably.core.artifacts import COLLECTION
from pluggably.core.artifacts.store import ArtifactStore
from pluggably.core.errors import RangeNotSatisfiableError, SignatureInvalidError, ValidationError
from pluggably.rpc.interceptors import add_response_metadata
from pluggably.v1 import artifact_service_pb2, artifact_service_pb2_grpc

# Read by the Lua filter in envoy/envoy.yaml.tmpl, which removes them.
HTTP_STATUS_KEY = "x-pluggably-http-status"
CONTENT_LENGTH_KEY = "x-pluggably-content-length"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# `+` counts as a space: Envoy passes a form-encoded query (`filter=model+%3D+...`) on undecoded.
_MODEL_FILTER = re.compile(r'^[\s+]*model[\s+]*=[\s+]*"(models/[a-z0-9][a-z0-9._-]*)"[\s+]*$')


def _id(name: str, field: str = "name") -> str:
    return resource_name(name, COLLECTION, "artifact", field).removeprefix(f"{COLLECTION}/")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a `Range` header asks for (RFC 9110: one range; anything else is ignored and the
    whole file served), or RangeNotSatisfiableError for one that starts past the end."""
    match = _RANGE.match(header.strip()) if header else None
    if match is None or match[1] == match[2] == "":
        return None
    if match[1] == "":  # the last N bytes
        suffix = int(match[2])
        if suffix == 0:
            raise RangeNotSatisfiableError(f"an empty suffix range of a {size}-byte file", metadata={"size": str(size)})
        return max(0, size - suffix), size - 1
    start = int(match[1])
    end = min(int(match[2]), size - 1) if match[2] else size - 1
    if match[2] and int(match[2]) < start:
        return None  # invalid: ignored
    if start >= size:
        raise RangeNotSatisfiableError(
            f"the range starts at byte {start} of a {size}-byte file", metadata={"size": str(size)}
        )
    return start, end


class ArtifactServicer(artifact_service_pb2_grpc.ArtifactServiceServicer):
    def __init__(self, artifacts: ArtifactStore) -> None:
        self._artifacts = artifacts

    async def GetArtifact(
        self, request: artifact_service_pb2.GetArtifactRequest, context: aio.ServicerContext
    ) -> artifact_service_pb2.Artifact:
        return convert.artifact(self._artifacts.get(_id(request.name)))

    async def ListArtifacts(
        self, request: artifact_service_pb2.ListArtifactsRequest, context: aio.ServicerContext
    ) -> artifact_service_pb2.ListArtifactsResponse:
        size = page_size(request.page_size)
        model = ""
        if request.filter:
            match = _MODEL_FILTER.match(request.filter)
            if match is None:
                raise ValidationError.single("filter", 'only model = "models/{model}" is supported')
            model = match[1]
        before = decode_page_token(request.page_token, request.filter) if request.page_token else ""
        page = self._artifacts.page(before, size + 1, model)
        token = encode_page_token(page[size - 1].artifact.id, request.filter) if len(page) > size else ""
        return artifact_service_pb2.ListArtifactsResponse(
            artifacts=[convert.artifact(a) for a in page[:size]], next_page_token=token
        )

    async def DeleteArtifact(
        self, request: artifact_service_pb2.DeleteArtifactRequest, context: aio.ServicerContext
    ) -> empty_pb2.Empty:
        await self._artifacts.delete(_id(request.name))
        return empty_pb2.Empty()

    async def DownloadArtifact(
        self, request: artifact_service_pb2.DownloadArtifactRequest, context: aio.ServicerContext
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        headers = dict(context.invocation_metadata() or ())
        if not request.HasField("expire_time") or not request.signature:
            raise SignatureInvalidError("the download URL is not signed: get one from GetArtifact")
        artifact, span, chunks = self._artifacts.open_download(
            _id(request.name),
            request.expire_time.ToDatetime(tzinfo=datetime.UTC),
            request.signature,
            lambda size: byte_range(headers.get("range"), size),
        )
        length = span[1] - span[0] + 1 if span else artifact.size_bytes
        add_response_metadata(
            ("content-disposition", f'attachment; filename="{artifact.file_name}"'),
            ("etag", f'"{artifact.sha256}"'),
            ("cache-control", "private, no-transform"),
            ("accept-ranges", "bytes"),
        )
        if span:
            add_response_metadata(("content-range", f"bytes {span[0]}-{span[1]}/{artifact.size_bytes}"))
        if "x-envoy-original-path" in headers:
            add_response_metadata((CONTENT_LENGTH_KEY, str(length)))
            if span:
                add_response_metadata((HTTP_STATUS_KEY, "206"))
        # Disk reads in a worker thread: the event loop serves other calls meanwhile.
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield httpbody_pb2.HttpBody(content_type=artifact.mime_type, data=chunk)
