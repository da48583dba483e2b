"""The `pluggably` client commands, run as real processes against a real gateway.

SYS-REQ-010 (list, inspect, pin and remove models), SYS-REQ-012 (storage and cleanup), SYS-REQ-013 (downloads
with live progress; Ctrl-C cancels or leaves them running), SYS-NFR-002 (clear errors, documented exit codes).
The gateway runs in the test's event loop, so the CLI runs through asyncio subprocesses; every process started
here is killed if a test fails before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import struct
import termios
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.rpc import code_pb2

from pluggably.app import Gateway
from pluggably.v1 import model_service_pb2, model_service_pb2_grpc
from tests.support.fake_hf_hub import FakeHub
from tests.support.file_server import FileServer
from tests.support.loopback import free_port
from tests.support.processes import PLUGGABLY, cli, cli_env, stopped
from tests.support.tiny_models import CHAT_MODEL_ID, PLAIN_MODEL_ID, write_tiny_gguf

NO_PRELOAD = {"preload": ()}
GGUF_ELEMENTS = 400_000  # a ~1.6 MB file
PROMPT = "Cancel the download or leave it running in the background? [c/l]"
OPERATION = re.compile(r"operations/[0-9a-f]+")


class Terminal:
    """The CLI on a pseudo-terminal (stdin, stdout and stderr), as a person runs it: it collects what the CLI
    writes, sends it signals and types answers."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        fcntl.ioctl(self._slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.output = bytearray()
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, *args: str) -> None:
        self.process = await asyncio.create_subprocess_exec(
            str(PLUGGABLY),
            *args,
            stdin=self._slave,
            stdout=self._slave,
            stderr=self._slave,
            env=cli_env(),
            start_new_session=True,
        )
        os.close(self._slave)
        self._slave = -1
        asyncio.get_running_loop().add_reader(self.master, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the CLI exited and the terminal is gone
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(self.master)
        self.output += chunk

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    async def wait_for(self, pattern: str, timeout_s: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while not (found := re.search(pattern, self.text)):
            assert time.monotonic() < deadline, f"no {pattern!r} within {timeout_s} s in:\n{self.text}"
            await asyncio.sleep(0.05)
        return found

    def interrupt(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    async def exit_code(self, timeout_s: float = 30) -> int:
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), timeout_s)
        await asyncio.sleep(0.1)  # the last output
        self._read_rest()
        return code

    def _read_rest(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self.master, 65536):
                self.output += chunk

    async def close(self) -> None:
        if self.process is not None:
            await stopped(self.process)
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.master)
        for fd in (self.master, self._slave):
            if fd >= 0:
                os.close(fd)


@pytest_asyncio.fixture
async def terminal() -> AsyncIterator[Terminal]:
    term = Terminal()
    try:
        yield term
    finally:
        await term.close()


# -- gateways -----------------------------------------------------------------------------------------------------


def copy_models(tiny_models_dir: Path, target: Path) -> Path:
    shutil.copytree(tiny_models_dir, target)
    (target / ".staging" / "0123abcd").mkdir(parents=True)  # leftovers of an interrupted download
    (target / ".staging" / "0123abcd" / "model.safetensors.part").write_bytes(b"x" * 5000)
    return target


@pytest.fixture(scope="module")
def shared_models_dir(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_models(tiny_models_dir, tmp_path_factory.mktemp("cli") / "models")


@pytest_asyncio.fixture(scope="module")
async def registry(gateway_factory, shared_models_dir: Path) -> AsyncIterator[Gateway]:
    """A gateway over a private copy of the tiny models, for the tests that only read."""
    async with gateway_factory(models_dir=shared_models_dir, models=NO_PRELOAD) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def hub(tiny_models_dir: Path) -> Iterator[FakeHub]:
    folder = tiny_models_dir / CHAT_MODEL_ID
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with FakeHub() as fake:
        fake.add_repo("org/tiny-chat", {k: v for k, v in files.items() if k != "pluggably.json"})
        yield fake


@pytest_asyncio.fixture(scope="module")
async def pulls(gateway_factory, hub: FakeHub, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    """A gateway with an empty models directory for downloads; each test pulls under its own model id."""
    models_dir = tmp_path_factory.mktemp("cli-pulls") / "models"
    async with gateway_factory(
        models_dir=models_dir, models=NO_PRELOAD, downloads={"hf_endpoint": hub.endpoint}
    ) as gateway:
        yield gateway


@pytest_asyncio.fixture(scope="module")
async def pulls_channel(pulls: Gateway) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{pulls.port}") as channel:
        yield channel


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", tensor_elements=GGUF_ELEMENTS).read_bytes()


def at(gateway: Gateway) -> list[str]:
    return ["--server", f"127.0.0.1:{gateway.port}"]


# -- reading the registry -----------------------------------------------------------------------------------------


async def test_sys_req_010_models_list_prints_a_table_or_json(registry: Gateway) -> None:
    table = await cli("models", "list", *at(registry))
    assert table.code == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "STATE", "MODALITY", "RUNTIMES", "FORMATS", "SIZE", "PINNED", "ALIASES"]
    assert [r.split()[0] for r in rows] == [PLAIN_MODEL_ID, CHAT_MODEL_ID]
    assert all("READY" in r and "text" in r and "ONNX, TORCH" in r and re.search(r"\d KB|\d MB", r) for r in rows)
    assert len({r.index("READY") for r in rows} | {header.index("STATE")}) == 1  # aligned columns

    listed = await cli("models", "list", "--json", *at(registry))
    assert listed.code == 0, listed.stderr
    models = json.loads(listed.stdout)["models"]
    assert [m["name"] for m in models] == [f"models/{PLAIN_MODEL_ID}", f"models/{CHAT_MODEL_ID}"]
    assert models[1]["state"] == "READY" and models[1]["runtimes"] == ["RUNTIME_ONNX", "RUNTIME_TORCH"]

    filtered = await cli("models", "list", "--filter", "pinned = true", *at(registry))
    assert filtered.code == 0 and filtered.stdout.strip() == "No models."


async def test_sys_req_010_models_get_by_id_or_alias(registry: Gateway) -> None:
    shown = await cli("models", "get", "tiny-chat", *at(registry))  # an alias of the chat model
    assert shown.code == 0, shown.stderr
    assert re.search(rf"^name\s+models/{CHAT_MODEL_ID}$", shown.stdout, re.MULTILINE)
    assert re.search(r"^runtimes\s+ONNX, TORCH$", shown.stdout, re.MULTILINE)
    assert re.search(r"^context length\s+4096 tokens$", shown.stdout, re.MULTILINE)

    as_json = await cli("models", "get", f"models/{CHAT_MODEL_ID}", "--json", *at(registry))
    assert json.loads(as_json.stdout)["aliases"] == ["tiny-chat"]


async def test_sys_req_010_the_default_address_comes_from_the_settings(registry: Gateway, tmp_path: Path) -> None:
    config = tmp_path / "pluggably.yaml"
    config.write_text(f"server:\n  port: {registry.port}\n")
    listed = await cli("--config", str(config), "models", "list")
    assert listed.code == 0, listed.stderr
    assert CHAT_MODEL_ID in listed.stdout


async def test_sys_req_012_storage_and_prune_dry_run(registry: Gateway, shared_models_dir: Path) -> None:
    storage = await cli("storage", *at(registry))
    assert storage.code == 0, storage.stderr
    assert re.search(r"^staging\s+5\.0 KB$", storage.stdout, re.MULTILINE)
    assert re.search(r"^budget\s+none$", storage.stdout, re.MULTILINE)
    assert re.search(rf"^{CHAT_MODEL_ID}\s+\d+\.\d MB", storage.stdout, re.MULTILINE)
    usage = json.loads((await cli("storage", "--json", *at(registry))).stdout)
    assert usage["stagingBytes"] == "5000" and len(usage["models"]) == 2

    planned = await cli("models", "prune", "--dry-run", *at(registry))
    assert planned.code == 0, planned.stderr
    assert re.search(r"^\.staging/0123abcd\s+-\s+5\.0 KB\s+\S", planned.stdout, re.MULTILINE)
    assert "Would free 5.0 KB (dry run: nothing was removed)." in planned.stdout
    assert (shared_models_dir / ".staging" / "0123abcd" / "model.safetensors.part").exists()
    as_json = json.loads((await cli("models", "prune", "--dry-run", "--json", *at(registry))).stdout)
    assert as_json["dryRun"] is True and as_json["freedBytes"] == "5000"


# -- changing the registry ----------------------------------------------------------------------------------------


async def test_sys_req_010_pin_refuses_rm_then_unpin_rm_and_discover(
    gateway_factory, tiny_models_dir: Path, tmp_path: Path
) -> None:
    models_dir = copy_models(tiny_models_dir, tmp_path / "models")
    async with gateway_factory(models_dir=models_dir, models=NO_PRELOAD) as gateway:
        pinned = await cli("models", "pin", PLAIN_MODEL_ID, *at(gateway))
        assert pinned.code == 0 and f"Pinned models/{PLAIN_MODEL_ID}" in pinned.stdout
        assert re.search(rf"^{PLAIN_MODEL_ID}\s.*\syes\s*$", (await cli("models", "list", *at(gateway))).stdout, re.M)

        refused = await cli("models", "rm", PLAIN_MODEL_ID, "--yes", *at(gateway))
        assert refused.code == 1
        assert f"models/{PLAIN_MODEL_ID} is pinned" in refused.stderr and "[FAILED_PRECONDITION]" in refused.stderr
        assert f"models unpin {PLAIN_MODEL_ID}" in refused.stderr
        assert (models_dir / PLAIN_MODEL_ID).is_dir()

        unpinned = await cli("models", "unpin", PLAIN_MODEL_ID, *at(gateway))
        assert unpinned.code == 0 and f"Unpinned models/{PLAIN_MODEL_ID}" in unpinned.stdout
        unasked = await cli("models", "rm", PLAIN_MODEL_ID, *at(gateway))  # no terminal to confirm on
        assert unasked.code == 2 and "--yes" in unasked.stderr
        assert (models_dir / PLAIN_MODEL_ID).is_dir()

        removed = await cli("models", "rm", PLAIN_MODEL_ID, "--yes", *at(gateway))
        assert removed.code == 0, removed.stderr
        assert f"Removed models/{PLAIN_MODEL_ID}" in removed.stdout
        assert not (models_dir / PLAIN_MODEL_ID).exists()
        gone = await cli("models", "get", PLAIN_MODEL_ID, *at(gateway))
        assert gone.code == 1 and f"models/{PLAIN_MODEL_ID} was not found [NOT_FOUND]" in gone.stderr

        shutil.copytree(tiny_models_dir / PLAIN_MODEL_ID, models_dir / PLAIN_MODEL_ID)
        found = await cli("models", "discover", *at(gateway))
        assert found.code == 0, found.stderr
        assert re.search(rf"^added\s+{PLAIN_MODEL_ID}$", found.stdout, re.MULTILINE)
        again = await cli("models", "discover", "--json", *at(gateway))
        assert json.loads(again.stdout) == {}


# -- downloads ----------------------------------------------------------------------------------------------------


async def test_sys_req_013_pull_shows_progress_then_the_registered_model(pulls: Gateway, gguf_file: bytes) -> None:
    with FileServer({"files/tiny-llama.Q8_0.gguf": gguf_file}, bytes_per_second=1_000_000) as server:
        pulled = await cli("models", "pull", server.url_for("files/tiny-llama.Q8_0.gguf"), *at(pulls))
    assert pulled.code == 0, pulled.stderr
    # Not a terminal: a progress line per stage (and every few seconds), not a bar.
    assert re.search(r"^Pulling http://\S+ into models/tiny-llama \(operations/[0-9a-f]+\)$", pulled.stderr, re.M)
    assert re.search(r"^downloading: [\d.]+ [KM]?B / 1\.6 MB \(\d+%\)", pulled.stderr, re.MULTILINE)
    assert re.search(r"^done: 1\.6 MB / 1\.6 MB \(100%\), files 1/1$", pulled.stderr, re.MULTILINE)
    assert "\r" not in pulled.stderr
    assert pulled.stdout.startswith("Pulled models/tiny-llama.\n")
    assert re.search(r"^formats\s+GGUF$", pulled.stdout, re.MULTILINE)
    assert re.search(r"^size\s+1\.6 MB$", pulled.stdout, re.MULTILINE)
    assert re.search(r"^state\s+READY$", pulled.stdout, re.MULTILINE)

    name = OPERATION.search(pulled.stderr)
    assert name is not None
    listed = await cli("operations", "list", *at(pulls))
    assert re.search(rf"^{name[0]}\s+done\s+tiny-llama\s+done: 1\.6 MB / 1\.6 MB", listed.stdout, re.MULTILINE)
    shown = json.loads((await cli("operations", "get", name[0], "--json", *at(pulls))).stdout)
    assert shown["done"] is True and shown["response"]["name"] == "models/tiny-llama"


async def test_sys_req_013_pull_takes_a_hub_repo_or_a_relative_path_and_is_idempotent(
    pulls: Gateway, gguf_file: bytes, tmp_path: Path
) -> None:
    from_hub = await cli("models", "pull", "hf:org/tiny-chat@main", *at(pulls))
    assert from_hub.code == 0, from_hub.stderr
    assert "Pulling hf:org/tiny-chat@main into models/tiny-chat" in from_hub.stderr
    assert re.search(r"^done: .*, files (\d+)/\1$", from_hub.stderr, re.MULTILINE)
    assert re.search(r"^runtimes\s+ONNX, TORCH$", from_hub.stdout, re.MULTILINE)
    assert re.search(r"^source\s+hf:org/tiny-chat@main$", from_hub.stdout, re.MULTILINE)

    again = await cli("models", "pull", "org/tiny-chat", *at(pulls))  # the same revision: nothing to do
    assert again.code == 0, again.stderr
    assert "models/tiny-chat is already present at revision" in again.stderr

    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "local.gguf").write_bytes(gguf_file)
    local = await cli("models", "pull", "./weights/local.gguf", *at(pulls), cwd=tmp_path)  # made absolute here
    assert local.code == 0, local.stderr
    assert re.search(rf"^Pulling {re.escape(str(tmp_path))}/weights/local\.gguf into models/local", local.stderr, re.M)
    assert re.search(r"^formats\s+GGUF$", local.stdout, re.MULTILINE)


async def test_sys_req_013_detached_pull_is_followed_by_operations_wait(pulls: Gateway, gguf_file: bytes) -> None:
    with FileServer({"detached.gguf": gguf_file}, bytes_per_second=2_000_000) as server:
        started = await cli(
            "models", "pull", server.url_for("detached.gguf"), "--id", "detached", "--detach", *at(pulls)
        )
        assert started.code == 0, started.stderr
        name = started.stdout.strip()
        assert OPERATION.fullmatch(name)
        assert f"operations wait {name}" in started.stderr and f"operations cancel {name}" in started.stderr
        followed = await cli("operations", "wait", name, *at(pulls))
    assert followed.code == 0, followed.stderr
    assert followed.stdout.startswith("Pulled models/detached.\n")


async def test_sys_nfr_002_pull_errors_are_clear_with_exit_codes(
    pulls: Gateway, gguf_file: bytes, tmp_path: Path
) -> None:
    unknown = await cli("models", "pull", "ftp://example.com/model.gguf", *at(pulls))
    assert unknown.code == 2 and "cannot tell what kind of source 'ftp://example.com/model.gguf' is" in unknown.stderr

    invalid = await cli("models", "pull", "http://127.0.0.1:9/m.gguf", "--id", "Bad Id", *at(pulls))
    assert invalid.code == 2
    assert "pluggably: invalid request [INVALID_ARGUMENT]" in invalid.stderr
    assert "model_id (--id): 'Bad Id' is not a valid model id" in invalid.stderr

    bad_repo = await cli("models", "pull", "hf:not/a/repo", *at(pulls))
    assert bad_repo.code == 2 and "source.hugging_face.repo_id (SOURCE): 'not/a/repo'" in bad_repo.stderr

    missing = await cli("models", "pull", "./no-such-folder", *at(pulls))
    assert missing.code == 2 and "no such file or folder: ./no-such-folder" in missing.stderr

    with FileServer({"present.gguf": gguf_file}) as server:
        failed = await cli("models", "pull", server.url_for("absent.gguf"), "--id", "absent", *at(pulls))
    assert failed.code == 1
    assert re.search(r"^pluggably: operations/[0-9a-f]+ failed: .*404.* \[NOT_FOUND\]$", failed.stderr, re.MULTILINE)


async def test_sys_req_012_pull_over_the_disk_budget_shows_the_quota_violation(
    gateway_factory, gguf_file: bytes, tmp_path: Path
) -> None:
    budget = {"budget_bytes": 1_000_000}
    async with gateway_factory(models_dir=tmp_path / "models", models=NO_PRELOAD, storage=budget) as gateway:
        with FileServer({"big.gguf": gguf_file}) as server:
            refused = await cli("models", "pull", server.url_for("big.gguf"), *at(gateway))
    assert refused.code == 1
    assert re.search(r"^pluggably: operations/[0-9a-f]+ failed: .* \[RESOURCE_EXHAUSTED\]$", refused.stderr, re.M)
    assert re.search(r"^  storage\.budget_bytes: .*1\.6 MB.*1\.0 MB", refused.stderr, re.MULTILINE)
    assert refused.stdout == ""


async def test_sys_nfr_002_unreachable_gateway_and_bad_config(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    began = time.monotonic()
    down = await cli("models", "list", "--server", address)
    assert down.code == 3
    assert f"pluggably: cannot reach the gateway at {address}" in down.stderr and "`make run`" in down.stderr
    assert down.stderr.count("\n") == 1 and time.monotonic() - began < 10

    broken = await cli("--config", str(tmp_path / "absent.yaml"), "storage")
    assert broken.code == 2 and "cannot read config file" in broken.stderr

    (tmp_path / "not-a-cert.pem").write_text("hello\n")
    bad_ca = await cli("storage", "--server", address, "--ca", str(tmp_path / "not-a-cert.pem"))
    assert bad_ca.code == 2 and "holds no PEM certificate" in bad_ca.stderr


async def test_sys_nfr_002_tls_to_a_plain_listener_says_so_in_one_line(registry: Gateway) -> None:
    mismatch = await cli("storage", "--tls", *at(registry))
    assert mismatch.code == 3
    assert f"pluggably: cannot reach the gateway at 127.0.0.1:{registry.port} (" in mismatch.stderr
    assert "Check --tls and --ca" in mismatch.stderr
    assert mismatch.stderr.count("\n") == 1  # gRPC's own log lines are kept quiet


# -- Ctrl-C during a pull -----------------------------------------------------------------------------------------


async def _operation(channel: grpc.aio.Channel, name: str) -> operations_pb2.Operation:
    return await operations_pb2_grpc.OperationsStub(channel).GetOperation(operations_pb2.GetOperationRequest(name=name))


async def _pull_until_transferring(terminal: Terminal, pulls: Gateway, url: str, model_id: str) -> str:
    await terminal.start("models", "pull", url, "--id", model_id, *at(pulls))
    name = (await terminal.wait_for(r"operations/[0-9a-f]+"))[0]
    # The live bar, with a known total: the CLI is following the operation.
    await terminal.wait_for(r"\rdownloading\s+\d+%\|.*\| [\d.]+ [KM]?B / 1\.6 MB, files 0/1")
    return name


async def test_sys_req_013_ctrl_c_in_a_terminal_can_cancel_the_download(
    pulls: Gateway, pulls_channel: grpc.aio.Channel, gguf_file: bytes, terminal: Terminal
) -> None:
    with FileServer({"slow.gguf": gguf_file}, bytes_per_second=150_000) as server:
        name = await _pull_until_transferring(terminal, pulls, server.url_for("slow.gguf"), "cancel-me")
        terminal.interrupt()
        await terminal.wait_for(re.escape(PROMPT))
        terminal.type("c\n")
        code = await terminal.exit_code()
    assert code == 130, terminal.text
    assert f"Cancelled {name}: nothing was registered." in terminal.text
    operation = await _operation(pulls_channel, name)
    assert operation.done and operation.error.code == code_pb2.CANCELLED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await model_service_pb2_grpc.ModelServiceStub(pulls_channel).GetModel(
            model_service_pb2.GetModelRequest(name="models/cancel-me")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_sys_req_013_ctrl_c_in_a_terminal_can_leave_the_download_running(
    pulls: Gateway, pulls_channel: grpc.aio.Channel, gguf_file: bytes, terminal: Terminal
) -> None:
    operations = operations_pb2_grpc.OperationsStub(pulls_channel)
    with FileServer({"slow.gguf": gguf_file}, bytes_per_second=150_000) as server:
        name = await _pull_until_transferring(terminal, pulls, server.url_for("slow.gguf"), "leave-me")
        try:
            terminal.interrupt()
            await terminal.wait_for(re.escape(PROMPT))
            terminal.type("l\n")
            code = await terminal.exit_code()
            assert code == 130, terminal.text
            assert f"{name} keeps running on the gateway." in terminal.text
            assert f"operations cancel {name}" in terminal.text
            assert not (await _operation(pulls_channel, name)).done
        finally:
            await operations.CancelOperation(operations_pb2.CancelOperationRequest(name=name))
            await operations.WaitOperation(operations_pb2.WaitOperationRequest(name=name))
    assert (await _operation(pulls_channel, name)).error.code == code_pb2.CANCELLED


async def test_sys_req_013_ctrl_c_without_a_terminal_leaves_the_download_running(
    pulls: Gateway, pulls_channel: grpc.aio.Channel, gguf_file: bytes
) -> None:
    operations = operations_pb2_grpc.OperationsStub(pulls_channel)
    with FileServer({"slow.gguf": gguf_file}, bytes_per_second=150_000) as server:
        process = await asyncio.create_subprocess_exec(
            str(PLUGGABLY),
            *["models", "pull", server.url_for("slow.gguf"), "--id", "piped", *at(pulls)],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=cli_env(),
        )
        name = ""
        try:
            assert process.stderr is not None
            first = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
            name = OPERATION.search(first)[0]  # type: ignore[index]
            await asyncio.wait_for(process.stderr.readline(), 20)  # the first progress line: it is watching
            process.send_signal(signal.SIGINT)
            _out, err = await asyncio.wait_for(process.communicate(), 20)
            assert process.returncode == 130, err
            assert f"Interrupted; {name} keeps running on the gateway." in err.decode()
            assert f"operations cancel {name}" in err.decode()
            assert not (await _operation(pulls_channel, name)).done
        finally:
            await stopped(process)
            if name:
                await operations.CancelOperation(operations_pb2.CancelOperationRequest(name=name))
                await operations.WaitOperation(operations_pb2.WaitOperationRequest(name=name))
