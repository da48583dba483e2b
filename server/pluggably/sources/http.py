"""Downloads over HTTP(S): a URL source, and the byte transfer hub files use too.

Transfers ask for `Accept-Encoding: identity` (sizes and hashes are of the
bytes on disk) and resume with `Range: bytes=N-`. The bytes move in worker
threads with urllib3 (large reads; httpx's 64 KiB reads cost three times the
CPU), one thread writing while another hashes. Bytes are counted only once
written, so a transfer that breaks goes on from the partial file's size.
The resolver asks with the shared async httpx client.
"""

from __future__ import annotations

import email.message
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import httpx
import urllib3

from pluggably.core.errors import BackendUnavailableError, NotFoundError, ValidationError
from pluggably.core.models import ModelSource
from pluggably.core.models.ports import RemoteFile, ResolvedSource, RestartFromZero
from pluggably.core.redaction import Redactor
from pluggably.sources.threaded import run_stoppable, write_pipelined

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
    """Streams a file over HTTP(S) into a partial file, in worker threads (urllib3).

    Reads return what has arrived (at most `READ_BYTES`) and poll every
    `POLL_S`: a silent connection is re-opened from where the partial file ends
    (a Range request) until it has been silent for `read_timeout_s` in all,
    and a cancel is noticed within one poll. Redirects are followed; the
    `Authorization` header is not sent on to another host (the hub's CDN).

    Each file's transfer has connections of its own, closed when it ends, however
    it ends: a stopped transfer never leaves a connection open and unread, and a
    failed download none idle either.
    """

    POLL_S = 1.0
    READ_BYTES = 1 << 20
    BLOCK_SECONDS = 0.25

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 60.0,
        redact: Redactor | None = None,
    ) -> None:
        # Error text names URLs, which a redirect may have filled with a credential.
        self._redact = redact or Redactor()
        self._headers = {"accept-encoding": "identity", **(headers or {})}
        self._timeout = urllib3.Timeout(connect=connect_timeout_s, read=self.POLL_S)
        self._retries = urllib3.Retry(total=None, connect=0, read=0, status=0, redirect=10, raise_on_redirect=True)
        self._read_timeout_s = read_timeout_s

    async def fetch(self, file: RemoteFile, partial: Path, offset: int, received: Callable[[bytes], None]) -> None:
        await run_stoppable(lambda stop: self._fetch(file, partial, offset, received, stop))

    def _fetch(
        self, file: RemoteFile, partial: Path, offset: int, received: Callable[[bytes], None], stop: threading.Event
    ) -> None:
        with urllib3.PoolManager(timeout=self._timeout, retries=self._retries) as pool:
            self._fetch_with(pool, file, partial, offset, received, stop)

    def _fetch_with(
        self,
        pool: urllib3.PoolManager,
        file: RemoteFile,
        partial: Path,
        offset: int,
        received: Callable[[bytes], None],
        stop: threading.Event,
    ) -> None:
        position, silent_since = offset, None
        while not stop.is_set():
            try:
                if self._stream(pool, file, partial, position, received, stop):
                    return
            except urllib3.exceptions.MaxRetryError as error:
                if not isinstance(error.reason, urllib3.exceptions.ReadTimeoutError):
                    raise unavailable(f"downloading {file.path}", self._redact.text(str(error.reason))) from error
                silent_since = self._still_waiting(file, silent_since, error)  # slow to answer: ask again
            except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError) as error:
                # Silent or cut off: go on from what arrived.
                silent_since = self._still_waiting(file, silent_since, error)
            except urllib3.exceptions.HTTPError as error:
                detail = self._redact.text(str(error)) or type(error).__name__
                raise unavailable(f"downloading {file.path}", detail) from error
            new_position = partial.stat().st_size if partial.exists() else 0
            if new_position > position:
                silent_since = None
            position = new_position

    def _still_waiting(self, file: RemoteFile, silent_since: float | None, error: Exception) -> float:
        """When the source went quiet; raises once it has been quiet for `read_timeout_s`."""
        silent_since = silent_since or time.monotonic()
        if time.monotonic() - silent_since > self._read_timeout_s:
            raise unavailable(f"downloading {file.path}", f"nothing for {self._read_timeout_s:g} s") from error
        return silent_since

    def _stream(
        self,
        pool: urllib3.PoolManager,
        file: RemoteFile,
        partial: Path,
        position: int,
        received: Callable[[bytes], None],
        stop: threading.Event,
    ) -> bool:
        """One request from `position`; True when the file is complete (or the transfer was stopped)."""
        headers = dict(self._headers)
        if position:
            headers["range"] = f"bytes={position}-"
        response = pool.request("GET", file.url, headers=headers, preload_content=False, decode_content=False)
        read_to_the_end = False
        try:
            if position and response.status == 416 and file.size == position:
                return True  # the partial file is the whole file
            if position and response.status == 200:
                raise RestartFromZero
            if response.status not in (200, 206):
                raise unavailable(f"downloading {file.path}", f"the server answered HTTP {response.status}")
            with partial.open("ab") as out:
                write_pipelined(self._blocks(response, stop), out, received, stop)
            read_to_the_end = not stop.is_set()
        finally:
            if not read_to_the_end:
                # Stopped (cancel, budget, timeout, error) with bytes unread: a
                # connection released as it is would stay open and unread in
                # the pool, so it is closed here and now.
                response.close()
            response.release_conn()
        return True

    def _blocks(self, response: urllib3.BaseHTTPResponse, stop: threading.Event) -> Iterator[bytes]:
        """What arrives, in blocks of about `READ_BYTES` (fewer, larger writes and hash updates),
        or less when `BLOCK_SECONDS` pass first: a slow link still shows progress."""
        block, started = bytearray(), time.monotonic()
        while not stop.is_set() and (chunk := response.read1(self.READ_BYTES)):
            block += chunk
            if len(block) >= self.READ_BYTES or time.monotonic() - started >= self.BLOCK_SECONDS:
                yield bytes(block)
                block, started = bytearray(), time.monotonic()
        if block:  # kept even when stopping: what was received stays resumable
            yield bytes(block)


class UrlResolver:
    """One file at an http(s) URL: its name, and its size when the server says it."""

    def __init__(self, client: httpx.AsyncClient, redact: Redactor | None = None) -> None:
        self._client = client
        self._redact = redact or Redactor()

    async def resolve(self, source: ModelSource) -> ResolvedSource:
        # One question per download: no idle connection is left behind for the transfer, which opens its own.
        headers = {"accept-encoding": "identity", "connection": "close"}
        try:
            response = await self._client.head(source.location, headers=headers)
            if response.status_code in (405, 501):  # no HEAD: ask for the headers of a GET
                async with self._client.stream("GET", source.location, headers=headers) as response:
                    pass
        except httpx.HTTPError as error:
            detail = self._redact.text(str(error)) or type(error).__name__
            raise unavailable(f"reaching {source.location}", detail) from error
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
