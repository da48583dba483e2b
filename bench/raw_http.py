"""A minimal asyncio HTTP/1.1 keep-alive client, for benchmarks only.

A general HTTP client (httpx) costs a few ms of Python CPU per call, which
would swamp what the benchmark measures: the proxy. This one does the least
an HTTP/1.1 client can: requests are bytes encoded once (`encode_request`),
each caller has a keep-alive connection of its own (`Pool`), and a response
is a status line, headers, and a body framed by Content-Length or by
`Transfer-Encoding: chunked`. No redirects, no compression, no retries, no
pipelining; a connection that fails, or that the server asks to close, is
closed and not reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass


class ProtocolError(Exception):
    pass


def encode_request(method: str, path: str, host: str, body: bytes | None = None) -> bytes:
    """One request as it goes on the wire; with a body, a JSON one."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (body or b"")


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]  # names lower-cased
    body: bytes


class Connection:
    """One keep-alive connection, one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._keep_alive = True
        self.reusable = True

    async def send(self, request: bytes) -> tuple[int, dict[bytes, bytes]]:
        """Writes `request`; returns the response's status and headers. Read its body next."""
        self.reusable = False  # until the body has been read to its end
        self._writer.write(request)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        version, status, _ = (status_line + b" ").split(b" ", 2)
        if not version.startswith(b"HTTP/1.") or not status.isdigit():
            raise ProtocolError(f"bad status line {status_line!r}")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        self._keep_alive = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
        return int(status), headers

    async def body(self, status: int, headers: dict[bytes, bytes]) -> AsyncIterator[bytes]:
        """The body of the response `send` returned, piece by piece as it arrives (chunk by chunk if chunked)."""
        reader = self._reader
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            while size := int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16):
                chunk = await reader.readexactly(size + 2)  # data and its CRLF
                yield chunk[:-2]
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, up to the blank line
                pass
        elif b"content-length" in headers:
            if length := int(headers[b"content-length"]):
                yield await reader.readexactly(length)
        elif status not in (204, 304):
            raise ProtocolError("response has neither Content-Length nor chunked Transfer-Encoding")
        self.reusable = self._keep_alive

    async def request(self, request: bytes) -> Response:
        status, headers = await self.send(request)
        return Response(status, headers, b"".join([piece async for piece in self.body(status, headers)]))

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):  # ssl.SSLError included
            await self._writer.wait_closed()


class Pool:
    """Keep-alive connections to one server: an idle one for each caller, a new one when none is idle.

    With N concurrent callers it holds at most N connections: one per caller.
    """

    def __init__(
        self, host: str, port: int, ssl_context: ssl.SSLContext | None = None, server_hostname: str = ""
    ) -> None:
        """Plain TCP without `ssl_context`; else TLS, the certificate checked against `server_hostname` (or host)."""
        self.host_header = f"{host}:{port}"
        self._address = (host, port)
        self._ssl = ssl_context
        self._server_hostname = (server_hostname or host) if ssl_context is not None else None
        self._idle: list[Connection] = []
        self._all: set[Connection] = set()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """An idle connection, or a new one. Afterwards back to the pool if its last response was read to
        the end and the server keeps it open; else (an error, a cancelled call) closed."""
        if self._idle:
            connection = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(
                *self._address, ssl=self._ssl, server_hostname=self._server_hostname
            )
            connection = Connection(reader, writer)
            self._all.add(connection)
        try:
            yield connection
        finally:
            if connection.reusable:
                self._idle.append(connection)
            else:
                self._all.discard(connection)
                await connection.close()

    async def close(self) -> None:
        connections, self._all, self._idle = self._all, set(), []
        for connection in connections:
            await connection.close()


async def sse_events(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The `data:` of each Server-Sent Event in a body (LF line ends), events split across pieces joined up."""
    buffer = b""
    async for piece in pieces:
        buffer += piece
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            data = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
            if data:
                yield b"\n".join(data)
    if buffer.strip():
        raise ProtocolError(f"stream ended inside an event: {buffer[:200]!r}")
