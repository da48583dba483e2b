"""Downloading an artifact the way its signed URL says, over gRPC (the REST path is Envoy's, in system tests)."""

from __future__ import annotations

import datetime
from urllib.parse import parse_qs, urlsplit

import grpc
from google.protobuf import timestamp_pb2

from pluggably.v1 import artifact_service_pb2, artifact_service_pb2_grpc


def signed_request(artifact: artifact_service_pb2.Artifact) -> artifact_service_pb2.DownloadArtifactRequest:
    """The DownloadArtifact request that `artifact.download_uri` stands for."""
    url = urlsplit(artifact.download_uri)
    query = parse_qs(url.query)
    expires = timestamp_pb2.Timestamp()
    expires.FromDatetime(datetime.datetime.fromisoformat(query["expireTime"][0].replace("Z", "+00:00")))
    name = url.path.removeprefix("/v1/").removesuffix(":download")
    return artifact_service_pb2.DownloadArtifactRequest(name=name, expire_time=expires, signature=query["signature"][0])


async def download(channel: grpc.aio.Channel, artifact: artifact_service_pb2.Artifact) -> bytes:
    stub = artifact_service_pb2_grpc.ArtifactServiceStub(channel)
    return b"".join([message.data async for message in stub.DownloadArtifact(signed_request(artifact))])
