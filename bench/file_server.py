"""A static file server for the download benchmark, in a process of its own, sending bodies with sendfile(2).

    python -m bench.file_server --root DIR [--exit-on-stdin-eof]

Serves the files under DIR on 127.0.0.1 (a port the OS picks) over HTTP/1.1 keep-alive, one thread per
connection (`ThreadingHTTPServer`), then prints one JSON line on stdout: {"port": ..., "pid": ...}. GET and HEAD;
`Content-Length`, `Accept-Ranges: bytes`, `Range: bytes=N-` / `bytes=N-M` (206, or 416 past the end), `ETag`
and `Last-Modified` from the file's size and mtime. Bodies go from the page cache to the socket in the kernel
(`socket.sendfile`), so the Python code costs a few microseconds per response, not per byte: unlike the test
suite's `tests.support.file_server.FileServer` (which reads each file into memory and writes it in 64 KiB
slices, and throttles and injects faults), this one is meant not to be the bottleneck of a transfer.

Serves until SIGTERM or SIGINT (or, with `--exit-on-stdin-eof`, until its stdin ends: the benchmark that
started it is gone).
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import unquote, urlsplit

from bench.common import stop_process_group

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _simple(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        payload = text.encode()
        self.send_response(status)
        all_headers = {"Content-Type": "text/plain", "Content-Length": str(len(payload)), **(headers or {})}
        for name, value in all_headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _serve(self, body: bool) -> None:
        root = self.server.root
        path = (root / unquote(urlsplit(self.path).path).lstrip("/")).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            self._simple(404, "not found\n")
            return
        with path.open("rb") as file:
            info = os.fstat(file.fileno())
            size = info.st_size
            start, end, status = 0, size - 1, 200
            headers = {
                "Content-Type": "application/octet-stream",
                "Accept-Ranges": "bytes",
                "ETag": f'"{info.st_mtime_ns:x}-{size:x}"',
                "Last-Modified": email.utils.formatdate(info.st_mtime, usegmt=True),
            }
            match = _RANGE.match(self.headers.get("Range", "").strip())
            if match:
                start = int(match[1])
                end = min(int(match[2]), size - 1) if match[2] else size - 1
                if start >= size or end < start:
                    self._simple(416, "range not satisfiable\n", {"Content-Range": f"bytes */{size}"})
                    return
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            headers["Content-Length"] = str(end - start + 1)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()  # flushes the headers: wfile is unbuffered, so sendfile follows them
            if body and end >= start:
                self.connection.sendfile(file, start, end - start + 1)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that goes away mid-body (an interrupted benchmark) is not an error of the server.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the host name up (socket.getfqdn): slow, and not needed.
        import socketserver

        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


def _stop_on(server: _Server) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.file_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="the folder whose files are served")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin ends")
    args = parser.parse_args(argv)
    server = _Server(args.root)
    _stop_on(server)
    if args.exit_on_stdin_eof:

        def watch() -> None:
            with contextlib.suppress(OSError, ValueError):
                while os.read(0, 65536):  # not sys.stdin: its lock would stop the interpreter's exit
                    pass
            server.shutdown()

        threading.Thread(target=watch, name="stdin-watch", daemon=True).start()
    print(json.dumps({"port": server.server_port, "pid": os.getpid()}), flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


class FileServerProcess:
    """`python -m bench.file_server` as a child process in a process group of its own; stopped in `__exit__`."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> FileServerProcess:
        repo_root = Path(__file__).resolve().parents[1]
        command: Sequence[str] = [
            sys.executable,
            "-m",
            "bench.file_server",
            "--exit-on-stdin-eof",
            "--root",
            str(self._root),
        ]
        self._process = subprocess.Popen(
            command, cwd=repo_root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )
        try:
            assert self._process.stdout is not None
            line = self._process.stdout.readline()  # the server prints its line at once, or exits
            if not line:
                raise RuntimeError(f"the file server exited with code {self._process.wait()} before it was ready")
            self.port = int(json.loads(line)["port"])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        stop_process_group(process, "file server", timeout_s=10)


if __name__ == "__main__":
    sys.exit(main())
