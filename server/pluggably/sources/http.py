"""Downloads over HTTP(S): a URL source, and the byte transfer hub files use too.

Transfers ask for `Accept-Encoding: identity` (sizes and hashes are of the
bytes on disk) and resume with `Range: bytes=N-`. Bytes are written in
blocks off the event loop and counted only once written, so a transfer that
breaks can go on from the partial file's size.
"""

from __future__ import annotations

import asyncio
import email.message
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import httpx

from pluggably.core.downloads import RemoteFile, ResolvedSource, RestartFromZero
from pluggably.core.errors import BackendUnavailableError, NotFoundError, ValidationError
from pluggably.core.models import ModelSource

WRITE_BLOCK_BYTES = 1 << 20
RETRY_AFTER_S = 10.0


def unavailable(what: str, detail: str) -> BackendUnavailableError:
    return BackendUnavailableError(f"{what}: {detail}", retry_after_s=RETRY_AFTER_S)


def _file_name(response: httpx.Response) -> str:
    disposition = response.headers.get("content-disposition")
    if disposition:
        message = email.message.Message()
        message["content-disposition"] = disposition
        if name := message.get_filename():
            return PurePosixPath(name).name
    return unquote(PurePosixPath(urlsplit(str(response.url)).path).name)


class HttpFetcher:
    def __init__(self, client: httpx.AsyncClient, headers: Mapping[str, str] | None = None) -> None:
        self._client = client
        self._headers = {"accept-encoding": "identity", **(headers or {})}

    async def fetch(self, file: RemoteFile, partial: Path, offset: int, received: Callable[[bytes], None]) -> None:
        headers = dict(self._headers)
        if offset:
            headers["range"] = f"bytes={offset}-"
        try:
            async with self._client.stream("GET", file.url, headers=headers) as response:
                if offset and response.status_code == 416 and file.size == offset:
                    return  # the partial file is the whole file
                if offset and response.status_code == 200:
                    raise RestartFromZero
                if response.status_code not in (200, 206):
                    raise unavailable(f"downloading {file.path}", f"the server answered HTTP {response.status_code}")
                await self._write(response, partial, received)
        except httpx.HTTPError as error:
            raise unavailable(f"downloading {file.path}", str(error) or type(error).__name__) from error

    @staticmethod
    async def _write(response: httpx.Response, partial: Path, received: Callable[[bytes], None]) -> None:
        with partial.open("ab") as out:
            block = bytearray()
            async for chunk in response.aiter_raw():
                block += chunk
                if len(block) >= WRITE_BLOCK_BYTES:
                    await asyncio.to_thread(out.write, block)
                    received(bytes(block))
                    block = bytearray()
            if block:
                await asyncio.to_thread(out.write, block)
                received(bytes(block))


class UrlResolver:
    """One file at an http(s) URL: its name, and its size when the server says it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def resolve(self, source: ModelSource) -> ResolvedSource:
        headers = {"accept-encoding": "identity"}
        try:
            response = await self._client.head(source.location, headers=headers)
            if response.status_code in (405, 501):  # no HEAD: ask for the headers of a GET
                async with self._client.stream("GET", source.location, headers=headers) as response:
                    pass
        except httpx.HTTPError as error:
            raise unavailable(f"reaching {source.location}", str(error) or type(error).__name__) from error
        if response.status_code == 404:
            raise NotFoundError(source.location, f"{source.location} was not found (HTTP 404)")
        if response.status_code >= 400:
            raise unavailable(f"reaching {source.location}", f"the server answered HTTP {response.status_code}")
        name = _file_name(response)
        if not name or name in (".", ".."):
            raise ValidationError.single("source.url", "the URL names no file")
        length = response.headers.get("content-length")
        size = int(length) if length and length.isdigit() else None
        revision = response.headers.get("etag", "").strip('"') or response.headers.get("last-modified", "")
        return ResolvedSource(revision, (RemoteFile(path=name, size=size, url=str(response.url)),))
