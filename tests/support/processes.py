"""The gateway and its command line as separate processes, as an operator runs them.

`pluggably_run` starts `pluggably run` (server + Envoy) from a config file written here; `cli` runs one client
command. Both run without the caller's PLUGGABLY_* environment, so only the command line and the config count.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import yaml

from tests.support.file_server import free_port
from tests.support.tiny_models import CHAT_MODEL_ID

PLUGGABLY = Path(sys.executable).parent / "pluggably"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment without PLUGGABLY_* settings, plus `extra`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PLUGGABLY_")}, **extra}


def write_config(tmp_path: Path, models_dir: Path, grpc_port: int, grace_s: float, **sections: Any) -> Path:
    """A YAML config on loopback ports with the tiny chat model as default; `sections` replace whole sections."""
    config = {
        "data_dir": str(tmp_path / "data"),
        "server": {"port": grpc_port, "grace_period_s": grace_s},
        "envoy": {
            "http_port": free_port(),
            "https_port": free_port(),
            "admin_port": free_port(),
            "health_check_interval_s": 0.2,
        },
        "models": {"dir": str(models_dir), "default_text_model": CHAT_MODEL_ID, "preload": [CHAT_MODEL_ID]},
        **sections,
    }
    path = tmp_path / "pluggably.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def pluggably_run(
    tmp_path: Path,
    models_dir: Path,
    env: Mapping[str, str],
    stderr: BinaryIO | None = None,
    **sections: Any,
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """`pluggably run` with its settings; killed at the end if it still runs."""
    config = write_config(tmp_path, models_dir, free_port(), grace_s=2, **sections)
    process = subprocess.Popen([str(PLUGGABLY), "--config", str(config), "run"], env=dict(env), stderr=stderr)
    try:
        yield process, yaml.safe_load(config.read_text()) | {"config_file": str(config)}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


async def cli(*args: str, cwd: Path | None = None, timeout_s: float = 60) -> Result:
    """Runs `pluggably ARGS` with stdin, stdout and stderr not terminals."""
    process = await asyncio.create_subprocess_exec(
        str(PLUGGABLY),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    finally:
        await stopped(process)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def stopped(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def child_pids(pid: int) -> list[int]:
    """Children of every thread of `pid` (Envoy is started from a worker thread)."""
    return [
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]


def exited(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" in status.read_text()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def serving(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
