"""Disk usage, cleanup and retention over gRPC (SYS-REQ-012, SYS-NFR-007).

Retention never deletes a pinned model or one serving a request.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc
import pytest
from google.protobuf import field_mask_pb2

from pluggably.v1 import model_service_pb2, model_service_pb2_grpc, text_service_pb2, text_service_pb2_grpc
from tests.support.tiny_models import CHAT_MODEL_ID, PLAIN_MODEL_ID
from tests.support.waiting import wait_until

STORAGE = model_service_pb2.GetStorageRequest(name="storage")


@pytest.fixture
def models_dir(tiny_models_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(tiny_models_dir, copy)
    # Leftovers of an interrupted download and an interrupted delete.
    (copy / ".staging" / "0123abcd").mkdir(parents=True)
    (copy / ".staging" / "0123abcd" / "model.safetensors.part").write_bytes(b"x" * 5000)
    (copy / ".trash-old-1234abcd").mkdir()
    (copy / ".trash-old-1234abcd" / "weights.bin").write_bytes(b"y" * 3000)
    return copy


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def cleanup(dry_run: bool) -> model_service_pb2.CleanupStorageRequest:
    return model_service_pb2.CleanupStorageRequest(name="storage", dry_run=dry_run)


async def test_sys_req_012_storage_reports_models_staging_budget_and_free_disk(gateway_factory, models_dir) -> None:
    async with (
        gateway_factory(models_dir=models_dir, storage={"budget_bytes": 50_000_000, "min_free_bytes": 1000}) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
    ):
        usage = await model_service_pb2_grpc.ModelServiceStub(channel).GetStorage(STORAGE)
    sizes = {m.model: m.size_bytes for m in usage.models}
    assert sizes == {
        f"models/{CHAT_MODEL_ID}": folder_bytes(models_dir / CHAT_MODEL_ID),
        f"models/{PLAIN_MODEL_ID}": folder_bytes(models_dir / PLAIN_MODEL_ID),
    }
    assert [m.size_bytes for m in usage.models] == sorted(sizes.values(), reverse=True)
    assert usage.models_bytes == sum(sizes.values())
    assert usage.staging_bytes == 8000
    assert usage.budget_bytes == 50_000_000 and usage.min_free_disk_bytes == 1000
    assert 0 < usage.free_disk_bytes == shutil.disk_usage(models_dir).free or usage.free_disk_bytes > 0


async def test_cleanup_dry_run_shows_orphans_and_removes_nothing_then_removes_them(gateway_factory, models_dir) -> None:
    async with (
        gateway_factory(models_dir=models_dir) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
    ):
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        planned = await stub.CleanupStorage(cleanup(dry_run=True))
        assert planned.dry_run and planned.freed_bytes == 8000
        assert {(i.path, i.size_bytes) for i in planned.items} == {
            (".staging/0123abcd", 5000),
            (".trash-old-1234abcd", 3000),
        }
        assert all(i.reason and not i.model for i in planned.items)
        assert (models_dir / ".staging" / "0123abcd").exists()

        done = await stub.CleanupStorage(cleanup(dry_run=False))
        assert not done.dry_run and done.freed_bytes == 8000
        assert not (models_dir / ".staging" / "0123abcd").exists()
        assert not (models_dir / ".trash-old-1234abcd").exists()
        assert (await stub.GetStorage(STORAGE)).staging_bytes == 0


async def test_sys_nfr_007_over_budget_evicts_least_recently_used_never_pinned_or_busy(
    gateway_factory, models_dir
) -> None:
    chat_bytes = folder_bytes(models_dir / CHAT_MODEL_ID)
    plain_bytes = folder_bytes(models_dir / PLAIN_MODEL_ID)
    budget = max(chat_bytes, plain_bytes) + 10_000  # room for one of the two
    async with (
        gateway_factory(models_dir=models_dir, storage={"budget_bytes": budget}) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
    ):
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        text = text_service_pb2_grpc.TextServiceStub(channel)
        # The chat model was used just now; the plain one never: it goes first.
        await text.GenerateText(text_service_pb2.GenerateTextRequest(prompt="hi", max_output_tokens=2))
        planned = await models.CleanupStorage(cleanup(dry_run=True))
        assert [i.model for i in planned.items if i.model] == [f"models/{PLAIN_MODEL_ID}"]
        assert "least recently used" in next(i.reason for i in planned.items if i.model)

        # Pinned: never evicted, so the next least recently used goes instead...
        await models.UpdateModel(
            model_service_pb2.UpdateModelRequest(
                model=model_service_pb2.Model(name=f"models/{PLAIN_MODEL_ID}", pinned=True),
                update_mask=field_mask_pb2.FieldMask(paths=["pinned"]),
            )
        )
        planned = await models.CleanupStorage(cleanup(dry_run=True))
        assert [i.model for i in planned.items if i.model] == [f"models/{CHAT_MODEL_ID}"]

        # ...unless it is serving a request.
        stream = text.StreamText(text_service_pb2.GenerateTextRequest(prompt="go", max_output_tokens=3000))
        await stream.read()
        planned = await models.CleanupStorage(cleanup(dry_run=True))
        assert [i.model for i in planned.items if i.model] == []
        stream.cancel()
        await wait_until(lambda: not gw.admission.active, what="the cancelled stream to stop")

        done = await models.CleanupStorage(cleanup(dry_run=False))
        assert [i.model for i in done.items if i.model] == [f"models/{CHAT_MODEL_ID}"]
        assert not (models_dir / CHAT_MODEL_ID).exists() and (models_dir / PLAIN_MODEL_ID).exists()
        usage = await models.GetStorage(STORAGE)
        assert usage.models_bytes == plain_bytes <= budget
