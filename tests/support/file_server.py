"""A loopback HTTP/1.1 file server for download tests, and the HTTP machinery it shares with the fake Hugging Face Hub.

`FileServer` models a plain origin that a downloader fetches by URL (an nginx, an S3 bucket, a CDN): files from an
in-memory dict and/or a directory, served with the headers a resumable downloader relies on:

* GET and HEAD (HEAD sends GET's headers, no body); other methods get 405.
* `Accept-Ranges: bytes`; `Range: bytes=N-`, `bytes=N-M` and `bytes=-N` answer 206 with `Content-Range`; a range
  that starts past the end (e.g. `bytes=<size>-`) or ends before it starts answers 416 with
  `Content-Range: bytes */<size>`.
  As RFC 9110 allows, a malformed or multi-range header is ignored (200 with the whole file).
* `If-Range` (an ETag or a Last-Modified date): when it does not match, the Range is ignored (200, whole file);
  `If-None-Match` matching the ETag answers 304.
* `ETag`: the quoted sha256 hex of the content (or the file's own `etag`); `Last-Modified` when the file has one.
* `Content-Length`, or per file (`ServedFile(content_length=False)`) no length at all: the body is sent with
  `Transfer-Encoding: chunked`, the size is unknown, and Range is not supported for it (no `Accept-Ranges`).
* Keep-alive (HTTP/1.1): one client connection serves many requests.
* Optionally a bearer token: a request without `Authorization: Bearer <token>` gets 401.

Test controls, shared with `tests.support.fake_hf_hub.FakeHub` (both derive from `LoopbackHTTPService`):

* Throttling: `service.bytes_per_second` caps every response body; `set_throttle(key, bps)` caps one file's bodies.
  The cap is per response, so a test can start a download and cancel it midway.
* Faults: `set_fault(key, Fault(...))` for one file: drop the connection after N body bytes, stall after N bytes,
  serve corrupted bytes (same length, same headers), or answer an error status; optionally only the first `times`
  times, so a retry or a resume then succeeds.
* `open_client_connections()`: how many connections the clients have not closed yet (a client that leaves an
  aborted response unread keeps its connection open).
* A thread-safe request log: `service.requests` lists a `RequestRecord` per request (listener, method, path, query,
  Range and Authorization headers, status, body bytes sent, how the response ended).

Keys name a file: for `FileServer` its URL path without the leading slash (`"models/a.bin"`).

Servers bind 127.0.0.1 on a port the OS picks; use them as context managers (`with FileServer({...}) as server:`).
Stopping shuts every open connection (keep-alive or mid-body) so that it never hangs, then joins all threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import hashlib
import json
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Literal, Self
from urllib.parse import parse_qs, quote, unquote, urlsplit

_STOP_TIMEOUT_S = 5.0
_DEFAULT_CHUNK = 64 * 1024
_INVERTED = bytes(255 - i for i in range(256))  # a translate() table: each byte inverted


@dataclasses.dataclass(frozen=True)
class Fault:
    """Something that goes wrong while a file is served (`service.set_fault(key, Fault(...))`).

    Body faults (GET with a 200/206 body only):
        drop_after: close the connection after this many body bytes (the client sees a short body).
        stall_after: stop sending after this many body bytes and hold the connection for `stall_s` (or until the
            server stops), then close it: a client read timeout fires.
        corrupt: serve wrong bytes (each byte inverted); length and headers (ETag, Content-Length) stay correct.
    Status fault (any method in `methods`):
        status: answer this status with a short text body instead of the file (e.g. 500, 503, 403).
        echo: also send the request's `Authorization` header back, as careless proxies and mirrors do:
            "header" in `X-Error-Message` (which huggingface_hub copies into its exceptions), "body" in a JSON
            `{"error": ...}` body, "fragment" a 16-character piece of the token in `X-Error-Message`, "redirect" in
            the query of a `Location` that refuses connections (send it with a 3xx `status`).
    times: the fault hits the first `times` responses it applies to, then the file is served normally;
        None: every response.
    methods: the request methods the fault applies to.
    """

    drop_after: int | None = None
    stall_after: int | None = None
    stall_s: float = 30.0
    corrupt: bool = False
    status: int | None = None
    echo: Literal["header", "body", "fragment", "redirect"] | None = None
    times: int | None = None
    methods: frozenset[str] = frozenset({"GET"})


@dataclasses.dataclass
class RequestRecord:
    """One request as the server saw it; `status`, `body_bytes_sent` and `outcome` are filled in as it is answered.

    outcome: "pending" (still being answered), "complete", "dropped" (a drop fault), "stalled" (a stall fault),
    "client_gone" (the client closed the connection midway), "stopped" (the server stopped midway), "error".
    """

    listener: str
    method: str
    path: str
    query: str
    range: str | None
    authorization: str | None
    headers: dict[str, str]
    client_port: int
    status: int | None = None
    body_bytes_sent: int = 0
    outcome: str = "pending"

    @property
    def query_params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)


@dataclasses.dataclass(frozen=True)
class ServedFile:
    """A file body and how it is served.

    etag: the ETag value without quotes; default the sha256 hex of `data`.
    last_modified: sent as `Last-Modified` (and accepted by `If-Range`) when set.
    content_length: False: no `Content-Length`, chunked transfer encoding, no ranges (size unknown to the client).
    accept_ranges: False: no `Accept-Ranges`, Range headers are ignored (a server without range support).
    headers: extra response headers.
    """

    data: bytes
    etag: str = ""
    last_modified: datetime | None = None
    content_type: str = "application/octet-stream"
    content_length: bool = True
    accept_ranges: bool = True
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.etag:
            object.__setattr__(self, "etag", hashlib.sha256(self.data).hexdigest())

    @property
    def ranges_supported(self) -> bool:
        return self.content_length and self.accept_ranges


class _ClientGone(Exception):
    pass


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the OS picks it); nothing listens on it, so a connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_date(when: datetime) -> str:
    return email.utils.format_datetime(when.astimezone(UTC), usegmt=True)


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(start, end inclusive) for a single `bytes=` range; "unsatisfiable"; or None to ignore the header."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:  # suffix: the last N bytes
            suffix = int(last)
            if suffix < 0:
                return None
            return (max(0, size - suffix), size - 1) if suffix > 0 and size > 0 else "unsatisfiable"
        start = int(first)
        end = int(last) if last else None
    except ValueError:
        return None
    if start < 0 or (end is not None and end < 0):
        return None
    if start >= size or (end is not None and end < start):
        return "unsatisfiable"
    return start, size - 1 if end is None else min(end, size - 1)


class LoopbackHandler(BaseHTTPRequestHandler):
    """One HTTP/1.1 connection; each request is handed to the service's `handle(self)`.

    Attributes for the service: `method`, `url_path` (raw, still percent-encoded), `query`, `headers`, `body`
    (request body bytes), `listener` (name), `record` (its RequestRecord). Responses: `send_simple`, `send_json`,
    `send_file`.
    """

    protocol_version = "HTTP/1.1"
    server: _Listener

    # -- connection lifecycle -------------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes: without this, Nagle + delayed ACK add ~40 ms to small responses.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    @property
    def service(self) -> LoopbackHTTPService:
        return self.server.service

    @property
    def listener(self) -> str:
        return self.server.name

    def _dispatch(self) -> None:
        self.method = self.command
        split = urlsplit(self.path)
        self.url_path = split.path
        self.query = split.query
        self._responded = False
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length > 0 else b""
        self.record = RequestRecord(
            listener=self.listener,
            method=self.method,
            path=self.url_path,
            query=self.query,
            range=self.headers.get("Range"),
            authorization=self.headers.get("Authorization"),
            headers=dict(self.headers.items()),
            client_port=int(self.client_address[1]),
        )
        self.service._record(self.record)
        try:
            self.service.handle(self)
            if self.record.outcome == "pending":
                self.record.outcome = "complete"
        except (_ClientGone, ConnectionError):
            self.record.outcome = "client_gone"
            self.close_connection = True
        except Exception:
            self.record.outcome = "error"
            self.close_connection = True
            error = traceback.format_exc()
            self.service.errors.append(error)
            if not self._responded:
                with contextlib.suppress(OSError):
                    self.send_simple(500, error)

    # -- responses ------------------------------------------------------------------------------------------------
    def _start(self, status: int, headers: Mapping[str, str]) -> None:
        self._responded = True
        self.record.status = status
        self.send_response(status)
        for name, value in {**self.service.default_headers(self), **headers}.items():
            self.send_header(name, value)
        self.end_headers()

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError as error:
            raise _ClientGone from error

    def send_simple(
        self,
        status: int,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> None:
        """A small complete response (HEAD: the same headers, no body)."""
        payload = body.encode() if isinstance(body, str) else body
        self._start(status, {"Content-Type": content_type, "Content-Length": str(len(payload)), **(headers or {})})
        if self.method != "HEAD" and payload:
            self._write(payload)
            self.record.body_bytes_sent = len(payload)

    def send_json(self, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.send_simple(status, json.dumps(obj), headers, content_type="application/json; charset=utf-8")

    def apply_status_fault(self, key: str | None) -> bool:
        """Answers the key's status fault if one applies to this request (and returns True)."""
        if key is None:
            return False
        fault = self.service._take_fault(key, self.method, status=True)
        if fault is None:
            return False
        assert fault.status is not None
        if fault.echo is None:
            self.send_simple(fault.status, f"fault injected: {fault.status}\n", {"Retry-After": "0"})
            return True
        authorization = self.headers.get("Authorization", "")
        token = authorization.partition(" ")[2]
        match fault.echo:
            case "header":
                self.send_simple(fault.status, "denied\n", {"X-Error-Message": f"denied for {authorization}"})
            case "fragment":
                self.send_simple(fault.status, "denied\n", {"X-Error-Message": f"token ...{token[4:20]}... refused"})
            case "body":
                self.send_json({"error": f"denied for {authorization}"}, fault.status)
            case "redirect":
                location = f"http://127.0.0.1:{free_port()}/login?auth={quote(authorization)}"
                self.send_simple(fault.status, f"Found. Redirecting to {location}", {"Location": location})
        return True

    def send_file(self, file: ServedFile, key: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        """Serves a file: conditional requests, ranges, chunking, throttling and the key's faults."""
        if self.apply_status_fault(key):
            return
        quoted_etag = f'"{file.etag}"'
        base_headers: dict[str, str] = {"Content-Type": file.content_type, "ETag": quoted_etag}
        if file.ranges_supported:
            base_headers["Accept-Ranges"] = "bytes"
        if file.last_modified is not None:
            base_headers["Last-Modified"] = http_date(file.last_modified)
        base_headers.update(file.headers)
        base_headers.update(headers or {})

        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None and (
            if_none_match.strip() == "*" or quoted_etag in [tag.strip() for tag in if_none_match.split(",")]
        ):
            self._start(304, {k: v for k, v in base_headers.items() if k != "Content-Type"})
            return

        size = len(file.data)
        start, end, status = 0, size - 1, 200
        range_header = self.headers.get("Range")
        if range_header and file.ranges_supported and self._if_range_matches(file, quoted_etag):
            parsed = parse_range(range_header, size)
            if parsed == "unsatisfiable":
                self.send_simple(416, b"", {**base_headers, "Content-Range": f"bytes */{size}"})
                return
            if isinstance(parsed, tuple):
                start, end = parsed
                status = 206
                base_headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        body = file.data[start : end + 1]
        if file.content_length:
            base_headers["Content-Length"] = str(len(body))
        else:
            base_headers["Transfer-Encoding"] = "chunked"
        self._start(status, base_headers)
        if self.method == "HEAD":
            return
        fault = self.service._take_fault(key, self.method, status=False) if key is not None else None
        self._send_body(body, chunked=not file.content_length, key=key, fault=fault)

    def _if_range_matches(self, file: ServedFile, quoted_etag: str) -> bool:
        if_range = self.headers.get("If-Range")
        if if_range is None:
            return True
        if_range = if_range.strip()
        if if_range.startswith(('"', "W/")):
            return if_range == quoted_etag
        if file.last_modified is None:
            return False
        return if_range == http_date(file.last_modified)

    def _send_body(self, body: bytes, *, chunked: bool, key: str | None, fault: Fault | None) -> None:
        if fault is not None and fault.corrupt:
            body = body.translate(_INVERTED)
        limit = len(body)
        ending = "complete"
        if fault is not None and fault.drop_after is not None and fault.drop_after < limit:
            limit, ending = fault.drop_after, "dropped"
        elif fault is not None and fault.stall_after is not None and fault.stall_after < limit:
            limit, ending = fault.stall_after, "stalled"
        rate = self.service._rate_for(key)
        chunk_size = max(1, min(_DEFAULT_CHUNK, int(rate / 20))) if rate else _DEFAULT_CHUNK
        stopping = self.service._stopping
        started = time.monotonic()
        sent = 0
        while sent < limit:
            piece = body[sent : min(limit, sent + chunk_size)]
            if rate:  # by time t, at most rate * t bytes have left: the whole body takes at least size / rate
                delay = started + (sent + len(piece)) / rate - time.monotonic()
                if delay > 0 and stopping.wait(delay):
                    self.record.outcome = "stopped"
                    self.close_connection = True
                    return
            self._write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
            self.record.body_bytes_sent = sent
        if ending == "stalled":
            assert fault is not None
            stopping.wait(fault.stall_s)
        if ending != "complete":
            self.record.outcome = ending
            self.close_connection = True
            return
        if chunked:
            self._write(b"0\r\n\r\n")


class _Listener(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its open connections and handler threads, so that stop never hangs."""

    daemon_threads = True
    block_on_close = False  # the service joins handler threads itself, after shutting their connections

    def __init__(self, service: LoopbackHTTPService, name: str) -> None:
        self.service = service
        self.name = name
        self._lock = threading.Lock()
        self._open: dict[socket.socket, threading.Thread] = {}
        super().__init__(("127.0.0.1", 0), LoopbackHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would also look the host name up (socket.getfqdn): slow, and not needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def track(self, connection: socket.socket) -> None:
        with self._lock:
            self._open[connection] = threading.current_thread()
            stopping = self.service._stopping.is_set()
        if stopping:
            _shut(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.pop(connection, None)

    def client_still_connected(self) -> int:
        """Accepted connections whose client has not closed its end yet (no FIN has arrived)."""
        with self._lock:
            open_now = list(self._open)
        count = 0
        for connection in open_now:
            try:
                # Peeking leaves any pipelined request to the handler thread.
                closed = connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                closed = False  # open, nothing sent
            except OSError:
                closed = True
            count += not closed
        return count

    def close_connections(self) -> list[threading.Thread]:
        with self._lock:
            open_now = list(self._open.items())
        for connection, _ in open_now:
            _shut(connection)
        return [thread for _, thread in open_now]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanishes while its request is read is not an error of the server.
        if not isinstance(sys.exc_info()[1], OSError):
            self.service.errors.append(traceback.format_exc())


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class LoopbackHTTPService:
    """Base of the test servers: HTTP/1.1 listeners on 127.0.0.1 (one per name in `listener_names`), started and
    stopped together, with a shared request log, throttles and faults. Subclasses implement `handle(request)`."""

    listener_names: ClassVar[tuple[str, ...]] = ("main",)

    def __init__(self, *, bytes_per_second: float | None = None) -> None:
        self.bytes_per_second = bytes_per_second
        self.errors: list[str] = []  # tracebacks of handler exceptions (a test can assert there are none)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._faults: dict[str, Fault] = {}
        self._fault_hits: dict[str, int] = {}
        self._throttles: dict[str, float] = {}
        self._listeners: dict[str, _Listener] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._listeners:
            raise RuntimeError("already started")
        for name in self.listener_names:
            listener = _Listener(self, name)
            self._listeners[name] = listener
            thread = threading.Thread(
                target=listener.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{type(self).__name__}-{name}"
            )
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stops accepting, shuts every open connection (idle keep-alive or mid-body), joins all threads."""
        if not self._listeners:
            return
        self._stopping.set()
        for listener in self._listeners.values():
            listener.shutdown()
        handler_threads: list[threading.Thread] = []
        for listener in self._listeners.values():
            listener.server_close()
            handler_threads += listener.close_connections()
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        stuck = []
        for thread in [*handler_threads, *self._threads]:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                stuck.append(thread.name)
        self._listeners.clear()
        self._threads.clear()
        if stuck:
            raise RuntimeError(f"threads still running after stop: {stuck}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def open_client_connections(self) -> int:
        """Connections the clients still hold open, seen from the server's side (all listeners)."""
        return sum(listener.client_still_connected() for listener in self._listeners.values())

    def url(self, listener: str | None = None) -> str:
        """http://127.0.0.1:<port> of a listener (default: the first)."""
        name = listener or self.listener_names[0]
        if name not in self._listeners:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return f"http://127.0.0.1:{self._listeners[name].server_port}"

    @property
    def base_url(self) -> str:
        return self.url()

    # -- request log ----------------------------------------------------------------------------------------------
    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._records)

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    def requests_to(self, path: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    # -- throttles and faults -------------------------------------------------------------------------------------
    def set_throttle(self, key: str, bytes_per_second: float | None) -> None:
        """Caps the bodies of one file (per response); None removes the cap (the server-wide one still applies)."""
        with self._lock:
            if bytes_per_second is None:
                self._throttles.pop(key, None)
            else:
                self._throttles[key] = bytes_per_second

    def set_fault(self, key: str, fault: Fault | None) -> None:
        """Injects a fault for one file (None removes it); `times` counts from now."""
        with self._lock:
            self._fault_hits.pop(key, None)
            if fault is None:
                self._faults.pop(key, None)
            else:
                self._faults[key] = fault

    def fault_hits(self, key: str) -> int:
        """How many responses the key's fault has hit so far."""
        with self._lock:
            return self._fault_hits.get(key, 0)

    def _rate_for(self, key: str | None) -> float | None:
        with self._lock:
            return self._throttles.get(key, self.bytes_per_second) if key is not None else self.bytes_per_second

    def _take_fault(self, key: str, method: str, *, status: bool) -> Fault | None:
        with self._lock:
            fault = self._faults.get(key)
            if fault is None or method not in fault.methods or (fault.status is not None) != status:
                return None
            hits = self._fault_hits.get(key, 0)
            if fault.times is not None and hits >= fault.times:
                return None
            self._fault_hits[key] = hits + 1
            return fault

    # -- for subclasses -------------------------------------------------------------------------------------------
    def default_headers(self, request: LoopbackHandler) -> dict[str, str]:
        """Headers sent on every response (before the response's own)."""
        return {}

    def handle(self, request: LoopbackHandler) -> None:
        raise NotImplementedError


class FileServer(LoopbackHTTPService):
    """A plain HTTP/1.1 file server (see the module docstring for what it models).

    files: {url path: bytes or ServedFile}; the path may start with "/" or not ("a/b.bin" is served at /a/b.bin).
    directory: files under it are also served (read on each request; Last-Modified from their mtime); the dict wins.
    token: when set, requests need `Authorization: Bearer <token>` (else 401 with `WWW-Authenticate: Bearer`).
    bytes_per_second: a cap on every response body (per response).
    """

    listener_names = ("files",)

    def __init__(
        self,
        files: Mapping[str, bytes | ServedFile] | None = None,
        *,
        directory: Path | None = None,
        token: str | None = None,
        bytes_per_second: float | None = None,
    ) -> None:
        super().__init__(bytes_per_second=bytes_per_second)
        self.directory = directory.resolve() if directory is not None else None
        self.token = token
        self._files: dict[str, ServedFile] = {}
        for path, data in (files or {}).items():
            self.add(path, data)

    @staticmethod
    def key(path: str) -> str:
        """The throttle/fault key of a URL path: the path without its leading slash."""
        return path.lstrip("/")

    def add(self, path: str, data: bytes | ServedFile) -> None:
        with self._lock:
            self._files[self.key(path)] = data if isinstance(data, ServedFile) else ServedFile(data)

    def remove(self, path: str) -> None:
        with self._lock:
            self._files.pop(self.key(path), None)

    def url_for(self, path: str) -> str:
        return f"{self.base_url}/{quote(self.key(path))}"

    def _lookup(self, key: str) -> ServedFile | None:
        with self._lock:
            served = self._files.get(key)
        if served is not None or self.directory is None or not key:
            return served
        candidate = (self.directory / key).resolve()
        if not candidate.is_relative_to(self.directory) or not candidate.is_file():
            return None
        stat = candidate.stat()
        return ServedFile(candidate.read_bytes(), last_modified=datetime.fromtimestamp(int(stat.st_mtime), UTC))

    def handle(self, request: LoopbackHandler) -> None:
        if request.method not in ("GET", "HEAD"):
            request.send_simple(405, "method not allowed\n", {"Allow": "GET, HEAD"})
            return
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            request.send_simple(401, "unauthorized\n", {"WWW-Authenticate": 'Bearer realm="files"'})
            return
        key = self.key(unquote(request.url_path))
        served = self._lookup(key)
        if served is None:
            request.send_simple(404, "not found\n")
            return
        request.send_file(served, key=key)


__all__ = [
    "Fault",
    "FileServer",
    "LoopbackHTTPService",
    "LoopbackHandler",
    "RequestRecord",
    "ServedFile",
    "http_date",
    "parse_range",
]
