"""The gateway as an operator runs it: real processes, real signals.

SYS-REQ-007 (graceful shutdown: in-flight streams finish, health drains),
SYS-REQ-013 (a download survives the server being killed), and the
`make run` promise that Ctrl-C leaves no process behind.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc

from pluggably.v1 import common_pb2, model_service_pb2, model_service_pb2_grpc, text_service_pb2, text_service_pb2_grpc
from tests.support.file_server import FileServer
from tests.support.loopback import free_port
from tests.support.processes import (
    PLUGGABLY,
    child_pids,
    cli_env,
    exited,
    pluggably_run,
    serving,
    wait_for,
    write_config,
)
from tests.support.tiny_models import CHAT_MODEL_ID, write_tiny_gguf


@pytest.fixture
def process_env() -> dict[str, str]:
    return cli_env()


async def test_sys_req_007_sigterm_lets_in_flight_streams_finish(tiny_models_dir, tmp_path, process_env) -> None:
    port = free_port()
    config = write_config(tmp_path, tiny_models_dir, port, grace_s=60)
    log_file = tmp_path / "server.log"
    with log_file.open("wb") as log:
        server = await asyncio.create_subprocess_exec(
            PLUGGABLY, "--config", str(config), "serve", env=process_env, stderr=log
        )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await channel.channel_ready()
            stub = text_service_pb2_grpc.TextServiceStub(channel)
            request = text_service_pb2.GenerateTextRequest(prompt="Keep going", max_output_tokens=600)
            call = stub.StreamText(request, wait_for_ready=True)
            assert (await call.read()).served_by.model == f"models/{CHAT_MODEL_ID}"
            server.send_signal(signal.SIGTERM)
            messages = []
            while (message := await call.read()) is not grpc.aio.EOF:
                messages.append(message)
            assert messages[-1].finish_reason == common_pb2.FINISH_REASON_LENGTH
            assert messages[-1].usage.output_tokens == 600
        assert await asyncio.wait_for(server.wait(), timeout=90) == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    log_lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    messages = [line["message"] for line in log_lines]
    assert "draining" in messages and messages[-1] == "stopped"


def test_run_starts_envoy_and_ctrl_c_stops_everything(tiny_models_dir, tmp_path, process_env) -> None:
    with pluggably_run(tmp_path, tiny_models_dir, process_env) as (gateway, settings):
        healthz = f"http://127.0.0.1:{settings['envoy']['http_port']}/healthz"
        wait_for(lambda: serving(healthz), 60, "/healthz to turn 200")
        (envoy,) = child_pids(gateway.pid)
        assert "envoy" in Path(f"/proc/{envoy}/cmdline").read_text()
        # The dev certificate was made where the settings say.
        assert (tmp_path / "data" / "certs" / "dev-cert.pem").exists()
        gateway.send_signal(signal.SIGINT)
        assert gateway.wait(timeout=30) == 0
        assert exited(envoy)


def test_envoy_does_not_outlive_a_killed_gateway(tiny_models_dir, tmp_path, process_env) -> None:
    with pluggably_run(tmp_path, tiny_models_dir, process_env) as (gateway, settings):
        admin = f"http://127.0.0.1:{settings['envoy']['admin_port']}/ready"
        wait_for(lambda: serving(admin), 60, "Envoy to be ready")
        (envoy,) = child_pids(gateway.pid)
        gateway.kill()
        gateway.wait()
    # Envoy was re-parented when its parent died, so nobody reaps it: it must exit by itself.
    wait_for(lambda: not serving(admin), 10, "Envoy to exit after the gateway was killed")
    assert exited(envoy)


async def test_sys_req_013_download_survives_sigkill_and_resumes(tmp_path, process_env) -> None:
    gguf = write_tiny_gguf(tmp_path / "src" / "big.gguf", tensor_elements=400_000).read_bytes()
    models_dir, port = tmp_path / "models", free_port()
    config = write_config(
        tmp_path,
        models_dir,
        port,
        grace_s=1,
        models={"dir": str(models_dir), "preload": [], "discovery_interval_s": 0},
        downloads={"progress_interval_s": 0.1},
    )

    async def start_server() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(PLUGGABLY, "--config", str(config), "serve", env=process_env)

    with FileServer({"big.gguf": gguf}, bytes_per_second=150_000) as files:
        server = await start_server()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                await channel.channel_ready()
                models = model_service_pb2_grpc.ModelServiceStub(channel)
                operations = operations_pb2_grpc.OperationsStub(channel)
                started = await models.DownloadModel(
                    model_service_pb2.DownloadModelRequest(source={"url": files.url_for("big.gguf")})
                )
                metadata = model_service_pb2.DownloadModelMetadata()
                while metadata.bytes_done < 300_000:
                    await asyncio.sleep(0.05)
                    operation = await operations.GetOperation(operations_pb2.GetOperationRequest(name=started.name))
                    operation.metadata.Unpack(metadata)
            server.kill()  # SIGKILL: no drain, no cleanup
            await server.wait()
        finally:
            if server.returncode is None:
                server.kill()
                await server.wait()
        partial = list((models_dir / ".staging").rglob("*.part"))
        assert len(partial) == 1 and 0 < partial[0].stat().st_size < len(gguf)
        resumed_from = partial[0].stat().st_size
        assert not (models_dir / "big").exists(), "nothing partial may look like a model"

        files.bytes_per_second = None
        server = await start_server()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                await channel.channel_ready()
                done = await operations_pb2_grpc.OperationsStub(channel).WaitOperation(
                    operations_pb2.WaitOperationRequest(name=started.name, timeout={"seconds": 30})
                )
                assert done.done and not done.HasField("error"), done.error
                storage = await model_service_pb2_grpc.ModelServiceStub(channel).GetStorage(
                    model_service_pb2.GetStorageRequest(name="storage")
                )
        finally:
            server.terminate()
            await server.wait()
    assert (models_dir / "big" / "big.gguf").read_bytes() == gguf
    assert storage.staging_bytes == 0 and storage.models_bytes >= len(gguf)
    ranges = [r.range for r in files.requests if r.method == "GET"]
    assert ranges[0] is None and ranges[-1] == f"bytes={resumed_from}-"
