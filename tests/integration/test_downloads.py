"""Model downloads as long-running operations, against real file and hub servers on loopback.

SYS-REQ-013 (downloads with progress and cancel), SYS-REQ-010 (registered
when done), SYS-REQ-012 / SYS-NFR-007 (disk budget), SYS-NFR-002 (errors).
The Hugging Face source goes through the real `huggingface_hub` client,
pointed at the fake hub (tests/support/fake_hf_hub.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import duration_pb2, field_mask_pb2
from google.rpc import code_pb2, error_details_pb2

from pluggably.app import Gateway
from pluggably.v1 import (
    model_service_pb2,
    model_service_pb2_grpc,
    operation_watch_service_pb2,
    operation_watch_service_pb2_grpc,
    text_service_pb2,
    text_service_pb2_grpc,
)
from tests.support.fake_hf_hub import FakeHub
from tests.support.file_server import Fault, FileServer, ServedFile
from tests.support.status import from_rpc_error, from_status
from tests.support.tiny_models import CHAT_MODEL_ID, write_tiny_gguf
from tests.support.waiting import wait_until

Source = model_service_pb2.ModelSource
Metadata = model_service_pb2.DownloadModelMetadata
Hub = model_service_pb2.HuggingFaceSource
NO_PRELOAD = {"preload": ()}
GGUF_BYTES = 400_000  # tensor elements: a ~1.6 MB file


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", tensor_elements=GGUF_BYTES).read_bytes()


@pytest.fixture(scope="module")
def chat_model_files(tiny_models_dir: Path) -> dict[str, bytes]:
    folder = tiny_models_dir / CHAT_MODEL_ID
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "pluggably.json"
    }


class Client:
    """The gRPC stubs a test needs, on one channel to one gateway."""

    def __init__(self, gateway: Gateway, channel: grpc.aio.Channel) -> None:
        self.gateway = gateway
        self.models = model_service_pb2_grpc.ModelServiceStub(channel)
        self.operations = operations_pb2_grpc.OperationsStub(channel)
        self.watch = operation_watch_service_pb2_grpc.OperationWatchServiceStub(channel)
        self.text = text_service_pb2_grpc.TextServiceStub(channel)

    async def download(self, source: Source, model_id: str = "", **kwargs: object) -> operations_pb2.Operation:
        request = model_service_pb2.DownloadModelRequest(source=source, model_id=model_id, **kwargs)
        return await self.models.DownloadModel(request)

    async def wait(self, name: str, timeout_s: float = 30) -> operations_pb2.Operation:
        request = operations_pb2.WaitOperationRequest(name=name, timeout=duration_pb2.Duration(seconds=int(timeout_s)))
        operation = await self.operations.WaitOperation(request)
        assert operation.done, f"{name} did not finish within {timeout_s} s"
        return operation

    async def bytes_done(self, name: str) -> int:
        metadata = Metadata()
        (await self.operations.GetOperation(operations_pb2.GetOperationRequest(name=name))).metadata.Unpack(metadata)
        return metadata.bytes_done

    async def until_transferred(self, name: str, at_least: int, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while (done := await self.bytes_done(name)) < at_least:
            assert time.monotonic() < deadline, f"only {done} bytes transferred in {timeout_s} s"
            await asyncio.sleep(0.05)

    async def download_and_wait(self, source: Source, model_id: str = "", **kwargs: object) -> operations_pb2.Operation:
        return await self.wait((await self.download(source, model_id, **kwargs)).name)


@pytest_asyncio.fixture
async def hub(chat_model_files: dict[str, bytes]) -> AsyncIterator[FakeHub]:
    with FakeHub() as fake:
        fake.add_repo("org/tiny-chat", chat_model_files)
        fake.add_repo("org/private-chat", chat_model_files, private=True)
        yield fake


@pytest_asyncio.fixture
async def client(gateway_factory, hub: FakeHub, tmp_path: Path) -> AsyncIterator[Client]:
    async with (
        gateway_factory(
            models_dir=tmp_path / "models",
            models=NO_PRELOAD,
            downloads={"hf_endpoint": hub.endpoint},
        ) as gateway,
        grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel,
    ):
        yield Client(gateway, channel)


def model_of(operation: operations_pb2.Operation) -> model_service_pb2.Model:
    model = model_service_pb2.Model()
    assert operation.response.Unpack(model), operation
    return model


def staging(client: Client) -> list[Path]:
    root = client.gateway.downloads.staging_root
    return list(root.iterdir()) if root.exists() else []


async def test_sys_req_013_hub_download_reports_progress_then_serves_text(client: Client, hub: FakeHub) -> None:
    started = await client.download(Source(hugging_face=Hub(repo_id="org/tiny-chat")))
    assert started.name.startswith("operations/") and not started.done
    entry = await client.models.GetModel(model_service_pb2.GetModelRequest(name="models/tiny-chat"))
    assert entry.state == model_service_pb2.Model.DOWNLOADING  # reserved at once, never READY early

    stages, last = [], None
    watch = client.watch.WatchOperation(operation_watch_service_pb2.WatchOperationRequest(name=started.name))
    async for snapshot in watch:
        metadata = Metadata()
        snapshot.metadata.Unpack(metadata)
        stages.append(metadata.stage)
        assert metadata.model == "models/tiny-chat"
        assert metadata.bytes_done <= metadata.bytes_total or not metadata.bytes_total
        last = snapshot
    assert last is not None and last.done and not last.HasField("error")
    assert stages[-1] == Metadata.DONE and stages == sorted(stages)
    metadata = Metadata()
    last.metadata.Unpack(metadata)
    assert metadata.files_done == metadata.files_total > 5
    assert metadata.bytes_done == metadata.bytes_total > 0

    model = model_of(last)
    assert model.state == model_service_pb2.Model.READY
    assert model.source.hugging_face.repo_id == "org/tiny-chat"
    assert model.revision == hub.repos["org/tiny-chat"].resolve("main")
    assert list(model.runtimes) == [1, 2]
    response = await client.text.GenerateText(
        text_service_pb2.GenerateTextRequest(model={"id": "tiny-chat"}, prompt="hello", max_output_tokens=4)
    )
    assert response.usage.output_tokens == 4
    assert not staging(client)


async def test_private_repo_needs_the_configured_token(gateway_factory, hub: FakeHub, tmp_path: Path) -> None:
    token = "hf_test_token_123"
    hub.tokens = frozenset({token})
    source = Source(hugging_face=Hub(repo_id="org/private-chat"))
    async with (
        gateway_factory(models_dir=tmp_path / "a", models=NO_PRELOAD, downloads={"hf_endpoint": hub.endpoint}) as a,
        grpc.aio.insecure_channel(f"127.0.0.1:{a.port}") as channel,
    ):
        failed = await Client(a, channel).wait((await Client(a, channel).download(source)).name)
        assert failed.error.code == code_pb2.NOT_FOUND
        assert "private" in failed.error.message
    settings = {"hf_endpoint": hub.endpoint, "hf_token": token}
    async with (
        gateway_factory(models_dir=tmp_path / "b", models=NO_PRELOAD, downloads=settings) as b,
        grpc.aio.insecure_channel(f"127.0.0.1:{b.port}") as channel,
    ):
        client = Client(b, channel)
        done = await client.wait((await client.download(source)).name)
        assert model_of(done).state == model_service_pb2.Model.READY
    assert all(r.authorization in (None, f"Bearer {token}") for r in hub.requests)
    assert not any(r.authorization for r in hub.requests if r.listener == "cdn")


async def test_url_download_of_a_gguf_registers_it(client: Client, gguf_file: bytes) -> None:
    with FileServer({"files/tiny-llama.Q8_0.gguf": gguf_file}) as server:
        done = await client.wait((await client.download(Source(url=server.url_for("files/tiny-llama.Q8_0.gguf")))).name)
    model = model_of(done)
    assert model.name == "models/tiny-llama" and model.modality == 1  # MODALITY_TEXT
    assert list(model.formats) == [model_service_pb2.MODEL_FORMAT_GGUF]
    assert model.source.url.endswith("tiny-llama.Q8_0.gguf")
    assert model.size_bytes >= len(gguf_file)


async def test_sys_req_013_cancel_stops_the_transfer_and_removes_partial_data(client: Client, gguf_file: bytes) -> None:
    with FileServer({"slow.gguf": gguf_file}, bytes_per_second=200_000) as server:
        started = await client.download(Source(url=server.url_for("slow.gguf")))
        await client.until_transferred(started.name, 100_000)
        assert staging(client)
        began = time.monotonic()
        await client.operations.CancelOperation(operations_pb2.CancelOperationRequest(name=started.name))
        cancelled = await client.wait(started.name)
        assert time.monotonic() - began < 2
    assert cancelled.error.code == code_pb2.CANCELLED
    assert not staging(client)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.models.GetModel(model_service_pb2.GetModelRequest(name="models/slow"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert [r.outcome for r in server.requests if r.method == "GET"][-1] in ("client_gone", "stopped")


async def test_sys_req_012_download_over_the_budget_is_refused_before_it_starts(
    gateway_factory, gguf_file: bytes, tmp_path: Path
) -> None:
    async with (
        gateway_factory(models_dir=tmp_path / "models", models=NO_PRELOAD, storage={"budget_bytes": 1_000_000}) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
    ):
        client = Client(gw, channel)
        with FileServer({"big.gguf": gguf_file}) as server:
            done = await client.wait((await client.download(Source(url=server.url_for("big.gguf")))).name)
            assert not [r for r in server.requests if r.method == "GET"], "nothing may be transferred"
        assert done.error.code == code_pb2.RESOURCE_EXHAUSTED
        status = from_status(done.error)
        assert status.reason == "QUOTA_EXCEEDED"
        quota = error_details_pb2.QuotaFailure()
        assert any(d.Unpack(quota) for d in done.error.details)
        assert quota.violations[0].subject == "storage.budget_bytes"
        assert "1.6 MB" in quota.violations[0].description and "1.0 MB" in quota.violations[0].description
        assert not staging(client)


async def test_sys_req_012_a_refusal_by_one_byte_shows_the_overrun(
    gateway_factory, gguf_file: bytes, tmp_path: Path
) -> None:
    budget = len(gguf_file) - 1
    async with (
        gateway_factory(models_dir=tmp_path / "models", models=NO_PRELOAD, storage={"budget_bytes": budget}) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
    ):
        client = Client(gw, channel)
        with FileServer({"big.gguf": gguf_file}) as server:
            done = await client.wait((await client.download(Source(url=server.url_for("big.gguf")))).name)
    assert done.error.code == code_pb2.RESOURCE_EXHAUSTED
    over = re.search(r"(\S+ \S+) is over the budget of (\S+ \S+)", done.error.message)
    assert over is not None, done.error.message
    assert over[1] != over[2]  # "1.605728 MB is over the budget of 1.605727 MB", not "1.6 MB ... 1.6 MB"


async def test_sys_nfr_007_download_of_unknown_size_stops_at_the_budget(
    gateway_factory, gguf_file: bytes, tmp_path: Path
) -> None:
    async with (
        gateway_factory(models_dir=tmp_path / "models", models=NO_PRELOAD, storage={"budget_bytes": 1_000_000}) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
    ):
        client = Client(gw, channel)
        with FileServer({"chunked.gguf": ServedFile(gguf_file, content_length=False)}) as server:
            done = await client.wait((await client.download(Source(url=server.url_for("chunked.gguf")))).name)
        assert done.error.code == code_pb2.RESOURCE_EXHAUSTED
        assert from_status(done.error).reason == "QUOTA_EXCEEDED"
        assert not staging(client)
        usage = await client.models.GetStorage(model_service_pb2.GetStorageRequest(name="storage"))
        assert usage.staging_bytes == 0 and usage.models_bytes == 0


async def test_corrupted_file_is_rejected_and_nothing_is_registered(client: Client, hub: FakeHub) -> None:
    hub.set_fault("org/tiny-chat/model.safetensors", Fault(corrupt=True))
    source = Source(hugging_face=Hub(repo_id="org/tiny-chat"))
    done = await client.wait((await client.download(source)).name)
    assert done.error.code == code_pb2.DATA_LOSS
    status = from_status(done.error)
    assert status.reason == "INTEGRITY_CHECK_FAILED" and status.metadata["file"] == "model.safetensors"
    assert "sha256" in done.error.message
    listed = await client.models.ListModels(model_service_pb2.ListModelsRequest())
    assert not listed.models and not staging(client)


async def test_url_sha256_is_checked(client: Client, gguf_file: bytes) -> None:
    with FileServer({"m.gguf": gguf_file}) as server:
        done = await client.wait((await client.download(Source(url=server.url_for("m.gguf")), sha256="0" * 64)).name)
    assert done.error.code == code_pb2.DATA_LOSS


async def test_present_or_downloading_models_are_not_fetched_twice(client: Client, gguf_file: bytes) -> None:
    with FileServer({"twice.gguf": gguf_file}, bytes_per_second=400_000) as server:
        source = Source(url=server.url_for("twice.gguf"))
        first = await client.download(source)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.download(source)
        assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert from_rpc_error(raised.value).metadata["operation"] == first.name
        await client.wait(first.name)
        # Present: the source is asked whether it moved on, and nothing is fetched again.
        again = await client.download_and_wait(source)
        assert again.error.code == code_pb2.ALREADY_EXISTS
        assert "already present" in again.error.message
        assert len([r for r in server.requests if r.method == "GET"]) == 1


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"source": Source(url="http://x/m.gguf"), "model_id": "../escape"}, "model_id"),
        ({"source": Source(url="file:///etc/passwd")}, "source.url"),
        ({"source": Source(local_path="relative/path")}, "source.local_path"),
        (
            {"source": Source(hugging_face=Hub(repo_id="../../x"))},
            "source.hugging_face.repo_id",
        ),
        (
            {"source": Source(hugging_face=Hub(repo_id="org/m", allow_patterns=["../*"]))},
            "source.hugging_face.allow_patterns[0]",
        ),
        ({"source": Source()}, "source"),
    ],
)
async def test_names_and_sources_that_could_escape_are_validation_errors(client: Client, request_fields, field) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.models.DownloadModel(model_service_pb2.DownloadModelRequest(**request_fields))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in from_rpc_error(raised.value).field_violations


async def test_local_source_with_a_link_outside_is_refused(
    client: Client, tiny_models_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "local-model"
    folder.mkdir()
    (folder / "config.json").symlink_to("/etc/hostname")
    done = await client.wait((await client.download(Source(local_path=str(folder)))).name)
    assert done.error.code == code_pb2.INVALID_ARGUMENT
    assert "links outside" in done.error.message


async def test_local_folder_is_copied_and_registered(client: Client, tiny_models_dir: Path) -> None:
    done = await client.wait(
        (await client.download(Source(local_path=str(tiny_models_dir / CHAT_MODEL_ID)), model_id="copied")).name
    )
    model = model_of(done)
    assert model.name == "models/copied" and model.state == model_service_pb2.Model.READY
    assert Path(model.source.local_path) == tiny_models_dir / CHAT_MODEL_ID
    assert (tiny_models_dir / CHAT_MODEL_ID).is_dir()  # the original stays


async def test_operations_are_listed_waited_for_and_deleted_when_done(client: Client, gguf_file: bytes) -> None:
    with FileServer({"op.gguf": gguf_file}, bytes_per_second=800_000) as server:
        started = await client.download(Source(url=server.url_for("op.gguf")))
        listed = await client.operations.ListOperations(operations_pb2.ListOperationsRequest(name="operations"))
        assert [o.name for o in listed.operations] == [started.name]
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.operations.DeleteOperation(operations_pb2.DeleteOperationRequest(name=started.name))
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        early = await client.operations.WaitOperation(
            operations_pb2.WaitOperationRequest(name=started.name, timeout=duration_pb2.Duration(nanos=100_000_000))
        )
        assert not early.done
        await client.wait(started.name)
    await client.operations.DeleteOperation(operations_pb2.DeleteOperationRequest(name=started.name))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.operations.GetOperation(operations_pb2.GetOperationRequest(name=started.name))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def stopped_mid_download(gateway_factory, tmp_path: Path, url: str, at_least: int) -> operations_pb2.Operation:
    """Starts a URL download on a gateway over `tmp_path`'s data and models folders, and stops that gateway once
    `at_least` bytes have arrived: the operation and its partial file stay for the next gateway to resume."""
    async with (
        gateway_factory(models_dir=tmp_path / "models", data_dir=tmp_path / "data", models=NO_PRELOAD) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
    ):
        client = Client(gw, channel)
        started = await client.download(Source(url=url))
        await client.until_transferred(started.name, at_least)
    return started


async def test_restart_mid_download_resumes_with_a_range_request(
    gateway_factory, gguf_file: bytes, tmp_path: Path
) -> None:
    data_dir, models_dir = tmp_path / "data", tmp_path / "models"
    with FileServer({"resume.gguf": gguf_file}, bytes_per_second=300_000) as server:
        started = await stopped_mid_download(gateway_factory, tmp_path, server.url_for("resume.gguf"), 300_000)
        # The gateway stopped mid-transfer: partial data and the operation remain.
        partial = list((models_dir / ".staging").rglob("*.part"))
        assert len(partial) == 1 and 0 < partial[0].stat().st_size < len(gguf_file)
        server.bytes_per_second = None
        async with (
            gateway_factory(models_dir=models_dir, data_dir=data_dir, models=NO_PRELOAD) as gw,
            grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
        ):
            done = await Client(gw, channel).wait(started.name)
            assert model_of(done).state == model_service_pb2.Model.READY
        ranges = [r.range for r in server.requests if r.method == "GET"]
        assert ranges[0] is None and ranges[-1] is not None and ranges[-1].startswith("bytes=")
        assert (models_dir / "resume" / "resume.gguf").read_bytes() == gguf_file


async def test_restart_with_the_source_gone_fails_cleanly(gateway_factory, gguf_file: bytes, tmp_path: Path) -> None:
    data_dir, models_dir = tmp_path / "data", tmp_path / "models"
    with FileServer({"gone.gguf": gguf_file}, bytes_per_second=300_000) as server:
        started = await stopped_mid_download(gateway_factory, tmp_path, server.url_for("gone.gguf"), 100_000)
        server.remove("gone.gguf")
        async with (
            gateway_factory(models_dir=models_dir, data_dir=data_dir, models=NO_PRELOAD) as gw,
            grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
        ):
            client = Client(gw, channel)
            done = await client.wait(started.name)
            assert done.error.code == code_pb2.NOT_FOUND and "gone.gguf" in done.error.message
            assert not staging(client)
            assert not (await client.models.ListModels(model_service_pb2.ListModelsRequest())).models
            usage = await client.models.GetStorage(model_service_pb2.GetStorageRequest(name="storage"))
            assert usage.staging_bytes == 0


async def test_sys_req_010_pulling_again_updates_and_keeps_the_previous_version(client: Client, hub: FakeHub) -> None:
    source = Source(hugging_face=Hub(repo_id="org/tiny-chat"))
    first = model_of(await client.download_and_wait(source))
    await client.models.UpdateModel(
        model_service_pb2.UpdateModelRequest(
            model=model_service_pb2.Model(name=first.name, aliases=["chat"]),
            update_mask=field_mask_pb2.FieldMask(paths=["aliases"]),
        )
    )
    # Nothing new upstream: nothing is transferred, and the operation says so.
    hub.clear_requests()
    same = await client.download_and_wait(source)
    assert same.error.code == code_pb2.ALREADY_EXISTS and first.revision in same.error.message
    assert not [r for r in hub.requests if "/resolve/" in r.path or r.listener == "cdn"]

    new_sha = hub.repos["org/tiny-chat"].commit({"generation_config.json": b'{"max_length": 99}'})
    updated = model_of(await client.download_and_wait(source))
    assert updated.name == "models/tiny-chat" and updated.revision == new_sha
    assert list(updated.aliases) == ["chat"]
    kept = await client.models.GetModel(
        model_service_pb2.GetModelRequest(name=f"models/tiny-chat-{first.revision[:8]}")
    )
    assert kept.revision == first.revision and kept.state == model_service_pb2.Model.READY
    assert not kept.aliases and Path(kept.source.hugging_face.repo_id) == Path("org/tiny-chat")
    # The new version serves; the old one can be deleted.
    response = await client.text.GenerateText(
        text_service_pb2.GenerateTextRequest(model={"id": "chat"}, prompt="hi", max_output_tokens=2)
    )
    assert response.served_by.model == "models/tiny-chat"
    await client.models.DeleteModel(model_service_pb2.DeleteModelRequest(name=kept.name))


async def test_another_source_under_a_taken_id_is_refused(client: Client, gguf_file: bytes) -> None:
    await client.download_and_wait(Source(hugging_face=Hub(repo_id="org/tiny-chat")))
    with FileServer({"x.gguf": gguf_file}) as server, pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.download(Source(url=server.url_for("x.gguf")), "tiny-chat")
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "another source" in raised.value.details()


BIG = 8 << 20  # bytes; at the throttle below, a transfer that would take 8 s


@pytest.mark.parametrize("abort", ["budget", "cancel", "read timeout", "server error", "integrity"])
async def test_aborted_downloads_close_their_connections(
    gateway_factory, tmp_path: Path, abort: str, big_file: bytes
) -> None:
    """Whatever stops a transfer, the source sees its connections closed at once, not when Python collects them."""
    served = ServedFile(big_file, content_length=abort != "budget")  # budget: a size learnt only on the way
    sections = {"storage": {"budget_bytes": 2_000_000}} if abort == "budget" else {}
    with FileServer({"big.bin": served}, bytes_per_second=1_000_000) as server:
        faults = {
            "read timeout": Fault(stall_after=0),
            "server error": Fault(status=500),
            "integrity": Fault(corrupt=True),
        }
        if abort in faults:
            server.set_fault("big.bin", faults[abort])
            server.bytes_per_second = None if abort == "integrity" else server.bytes_per_second
        async with (
            gateway_factory(
                models_dir=tmp_path / "models",
                models=NO_PRELOAD,
                downloads={"read_timeout_s": 1.5},
                **sections,
            ) as gw,
            grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
        ):
            client = Client(gw, channel)
            sha256 = hashlib.sha256(big_file).hexdigest() if abort == "integrity" else ""
            started = await client.download(Source(url=server.url_for("big.bin")), sha256=sha256)
            if abort == "cancel":
                await client.until_transferred(started.name, 200_000)
                await client.operations.CancelOperation(operations_pb2.CancelOperationRequest(name=started.name))
            done = await client.wait(started.name)
            assert done.HasField("error"), done
            await wait_until(
                lambda: server.open_client_connections() == 0, 3, f"connections closed after {done.error.message!r}"
            )
        assert server.requests and not server.errors


async def test_progress_after_a_resume_counts_only_the_new_bytes(
    gateway_factory, tmp_path: Path, big_file: bytes
) -> None:
    """Bytes already on disk are progress, not speed: a resumed download's rate and ETA are this run's."""
    data_dir, models_dir = tmp_path / "data", tmp_path / "models"
    throttle = 1_000_000
    with FileServer({"resume.bin": big_file}, bytes_per_second=throttle) as server:
        started = await stopped_mid_download(gateway_factory, tmp_path, server.url_for("resume.bin"), 3_000_000)
        async with (
            gateway_factory(models_dir=models_dir, data_dir=data_dir, models=NO_PRELOAD) as gw,
            grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
        ):
            client = Client(gw, channel)
            readings = []
            watch = client.watch.WatchOperation(operation_watch_service_pb2.WatchOperationRequest(name=started.name))
            async for snapshot in watch:
                metadata = Metadata()
                snapshot.metadata.Unpack(metadata)
                if metadata.bytes_per_second:
                    readings.append(metadata)
                if len(readings) == 3:
                    break
            watch.cancel()
            await client.operations.CancelOperation(operations_pb2.CancelOperationRequest(name=started.name))
    first = readings[0]
    assert first.bytes_done >= 3_000_000
    for reading in readings:
        assert reading.bytes_per_second < 2 * throttle, readings
        remaining_s = (reading.bytes_total - reading.bytes_done) / throttle
        assert reading.eta.ToTimedelta().total_seconds() > remaining_s / 2, readings


@pytest.fixture(scope="module")
def big_file() -> bytes:
    return os.urandom(BIG)
