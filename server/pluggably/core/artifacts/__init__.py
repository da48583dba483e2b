"""Stored outputs of generations (SYS-REQ-016): images and meshes too large to return inline.

An artifact is a record (name, media type, size, SHA-256, model, expiry)
over a blob of bytes. Blobs are content-addressed, so the same bytes are
stored once however many artifacts name them. Each artifact expires; a
signed URL downloads its bytes until the URL's own expiry, with no other
credentials (`signing`). The records live behind `ArtifactIndex` (SQLite by
default) and the bytes behind `BlobStore` (a folder by default), so that
several replicas can later share PostgreSQL and S3-compatible storage.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

COLLECTION = "artifacts"

# File name extensions of the media types artifacts hold.
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "model/gltf-binary": "glb",
    "model/obj": "obj",
    "model/x-ply": "ply",
}


@dataclass(frozen=True)
class Artifact:
    id: str
    mime_type: str
    size_bytes: int
    sha256: str
    create_time: datetime.datetime
    expire_time: datetime.datetime
    model: str = ""  # resource name of the model that made it

    @property
    def name(self) -> str:
        return f"{COLLECTION}/{self.id}"

    @property
    def file_name(self) -> str:
        return f"{self.id}.{EXTENSIONS.get(self.mime_type, 'bin')}"


@dataclass(frozen=True)
class SignedArtifact:
    """An artifact with a download URL signed for it just now."""

    artifact: Artifact
    download_uri: str
    download_expire_time: datetime.datetime
