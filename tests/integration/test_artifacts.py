"""The artifact store over SQLite and a folder, and ArtifactService over gRPC (SYS-REQ-016).

Most tests build the store from its real parts (the migrated database, a folder of blobs) with a clock the test
moves; one group goes through a real gateway. What is checked is what a user sees: files on disk, bytes served,
records gone, status codes and reasons.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2

from pluggably.api.artifacts import ArtifactServicer
from pluggably.core.artifacts import Artifact
from pluggably.core.artifacts.signing import UrlSigner
from pluggably.core.artifacts.store import ArtifactLimits, ArtifactStore
from pluggably.core.errors import (
    NotFoundError,
    QuotaExceededError,
    QuotaViolation,
    SignatureInvalidError,
    UrlExpiredError,
)
from pluggably.core.generation.common import GeneratedFile
from pluggably.core.generation.pool import ModelPool
from pluggably.core.models.discovery import describe_model
from pluggably.core.models.management import ModelManager
from pluggably.core.models.registry import ModelRegistry
from pluggably.core.models.scanning import ModelScanner
from pluggably.core.models.storage import StorageManager
from pluggably.db.database import open_database
from pluggably.db.stores import SqliteArtifactIndex, SqliteModelStore
from pluggably.files.blobs import STAGING, FilesystemBlobStore
from pluggably.rpc.status import to_status
from pluggably.v1 import artifact_service_pb2, artifact_service_pb2_grpc
from tests.support.status import from_rpc_error, from_status
from tests.support.waiting import wait_until

KEY = b"test-signing-key-0123456789abcdefghijklmnop"
BASE_URL = "https://gateway.example:8443"
TTL = datetime.timedelta(hours=24)
URL_TTL = datetime.timedelta(hours=1)
START = datetime.datetime(2030, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
PNG = "image/png"


class Clock:
    """The store's and the signer's `now`, moved by the test."""

    def __init__(self, now: datetime.datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "pluggably.db")
    yield connection
    connection.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def blobs_dir(tmp_path: Path) -> Path:
    return tmp_path / "artifacts" / "blobs"


def no_disk_limit(size: int) -> list[QuotaViolation]:
    return []


def make_store(
    database: sqlite3.Connection,
    blobs_dir: Path,
    clock: Clock,
    *,
    ttl: datetime.timedelta = TTL,
    url_ttl: datetime.timedelta = URL_TTL,
    budget_bytes: int = 0,
    disk_room: Callable[[int], list[QuotaViolation]] = no_disk_limit,
) -> ArtifactStore:
    return ArtifactStore(
        SqliteArtifactIndex(database),
        FilesystemBlobStore(blobs_dir),
        UrlSigner([KEY], now=clock),
        ArtifactLimits(ttl=ttl, url_ttl=url_ttl, budget_bytes=budget_bytes),
        BASE_URL,
        disk_room,
        now=clock,
    )


@pytest.fixture
def store(database: sqlite3.Connection, blobs_dir: Path, clock: Clock) -> ArtifactStore:
    return make_store(database, blobs_dir, clock)


def blob_files(blobs_dir: Path) -> dict[str, bytes]:
    """Every file under the blobs folder outside staging, by name."""
    if not blobs_dir.exists():
        return {}
    return {p.name: p.read_bytes() for p in blobs_dir.rglob("*") if p.is_file() and STAGING not in p.parts}


def staged_files(blobs_dir: Path) -> list[Path]:
    staging = blobs_dir / STAGING
    return [p for p in staging.rglob("*")] if staging.exists() else []


def url_parts(download_uri: str) -> tuple[str, datetime.datetime, str]:
    """The artifact id, expiry and signature a download URL carries."""
    url = urlsplit(download_uri)
    match = re.fullmatch(r"/v1/artifacts/([0-9a-f]+):download", url.path)
    assert match, download_uri
    query = parse_qs(url.query, strict_parsing=True)
    expires = datetime.datetime.strptime(query["expireTime"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    return match[1], expires, query["signature"][0]


def downloaded(store: ArtifactStore, download_uri: str, byte_range: tuple[int, int] | None = None) -> bytes:
    artifact_id, expires, signature = url_parts(download_uri)
    _, span, chunks = store.open_download(artifact_id, expires, signature, lambda size: byte_range)
    assert span == byte_range
    return b"".join(chunks)


# --- content addressing -------------------------------------------------------------------------------------


async def test_sys_req_016_the_same_bytes_stored_twice_are_one_blob_named_by_two_artifacts(
    store: ArtifactStore, database: sqlite3.Connection, blobs_dir: Path, clock: Clock
) -> None:
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
    sha256 = hashlib.sha256(data).hexdigest()
    first = await store.store(GeneratedFile(data, PNG), "models/x")
    second = await store.store(GeneratedFile(data, PNG), "models/y")

    assert first.artifact.id != second.artifact.id
    assert first.artifact.sha256 == second.artifact.sha256 == sha256
    assert blob_files(blobs_dir) == {sha256: data}
    assert (blobs_dir / sha256[:2] / sha256).read_bytes() == data
    assert store.stored_bytes() == len(data)  # counted once
    assert SqliteArtifactIndex(database).stored_bytes() == len(data)  # and so after a restart

    other = os.urandom(1000)
    await store.store(GeneratedFile(other, PNG), "models/x")
    assert len(blob_files(blobs_dir)) == 2
    assert store.stored_bytes() == len(data) + len(other)

    # Deleting one artifact keeps the bytes the other still names...
    await store.delete(first.artifact.id)
    assert store.find(first.artifact.id) is None
    assert sha256 in blob_files(blobs_dir)
    assert store.stored_bytes() == len(data) + len(other)
    assert downloaded(store, store.get(second.artifact.id).download_uri) == data
    # ...until that one goes too.
    await store.delete(second.artifact.id)
    assert sha256 not in blob_files(blobs_dir)
    assert store.stored_bytes() == len(other)
    assert SqliteArtifactIndex(database).stored_bytes() == len(other)


async def test_sys_req_016_a_deleted_artifact_is_not_found_and_cannot_be_deleted_again(store: ArtifactStore) -> None:
    stored = await store.store(GeneratedFile(b"bytes", PNG), "models/x")
    await store.delete(stored.artifact.id)
    for attempt in (lambda: store.get(stored.artifact.id), lambda: downloaded(store, stored.download_uri)):
        with pytest.raises(NotFoundError) as caught:
            attempt()
        assert caught.value.reason == "NOT_FOUND"
        assert caught.value.metadata == {"resource": stored.artifact.name}
    with pytest.raises(NotFoundError):
        await store.delete(stored.artifact.id)


# --- no partial files ---------------------------------------------------------------------------------------


def fail_fsync(fd: int) -> None:
    raise OSError(5, "Input/output error")


def fail_rename(self: Path, target: Path) -> Path:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    ("target", "replacement"),
    [("os.fsync", fail_fsync), ("pathlib.Path.rename", fail_rename)],
    ids=["fsync-fails", "rename-fails"],
)
async def test_sys_req_016_an_interrupted_write_leaves_no_blob_under_its_hash_and_no_record(
    store: ArtifactStore, database: sqlite3.Connection, blobs_dir: Path, monkeypatch, target, replacement
) -> None:
    data = os.urandom(5000)
    with monkeypatch.context() as patch:
        patch.setattr(target, replacement)
        with pytest.raises(OSError):
            await store.store(GeneratedFile(data, PNG), "models/x")

    assert blob_files(blobs_dir) == {}
    assert staged_files(blobs_dir) == []  # the partial file is removed as the write fails
    assert database.execute("SELECT COUNT(*) FROM artifacts").fetchone()[0] == 0
    assert store.stored_bytes() == 0 and store.page("", 10) == []
    # Once the disk behaves again, the same bytes store whole.
    stored = await store.store(GeneratedFile(data, PNG), "models/x")
    assert blob_files(blobs_dir) == {stored.artifact.sha256: data}
    assert store.stored_bytes() == len(data)


async def test_sys_req_016_discard_partial_writes_clears_what_a_crash_left_in_staging(
    store: ArtifactStore, blobs_dir: Path
) -> None:
    kept = await store.store(GeneratedFile(b"a whole blob", PNG), "models/x")
    # What a process killed mid-write leaves: staged bytes, never renamed into place.
    (blobs_dir / STAGING).mkdir(exist_ok=True)
    (blobs_dir / STAGING / "0f1e2d3c4b5a69788796a5b4c3d2e1f0").write_bytes(b"half a bl")
    blobs = FilesystemBlobStore(blobs_dir)
    assert blobs.stored() == [kept.artifact.sha256]  # staging is never taken for a blob

    blobs.discard_partial_writes()
    assert staged_files(blobs_dir) == []
    assert blob_files(blobs_dir) == {kept.artifact.sha256: b"a whole blob"}
    FilesystemBlobStore(blobs_dir / "never-written").discard_partial_writes()  # nothing there: no error


# --- signed URLs and downloads --------------------------------------------------------------------------------


async def test_sys_req_016_signed_urls_expire_after_url_ttl_but_never_after_the_artifact(
    database: sqlite3.Connection, blobs_dir: Path, clock: Clock
) -> None:
    store = make_store(database, blobs_dir, clock, ttl=datetime.timedelta(hours=2), url_ttl=URL_TTL)
    clock.now = START + datetime.timedelta(microseconds=250_000)  # whole seconds in records and URLs
    data = os.urandom(2000)
    stored = await store.store(GeneratedFile(data, PNG), "models/x")
    assert stored.artifact.create_time == START
    assert stored.artifact.expire_time == START + datetime.timedelta(hours=2)
    assert stored.download_expire_time == START + URL_TTL
    assert stored.download_uri.startswith(f"{BASE_URL}/v1/artifacts/{stored.artifact.id}:download?")
    artifact_id, expires, _ = url_parts(stored.download_uri)
    assert artifact_id == stored.artifact.id and expires == stored.download_expire_time
    assert downloaded(store, stored.download_uri) == data

    # 90 minutes on, a fresh URL is cut short by the artifact's own expiry.
    clock.advance(minutes=90)
    late = store.get(stored.artifact.id)
    assert late.download_expire_time == stored.artifact.expire_time == START + datetime.timedelta(hours=2)
    assert downloaded(store, late.download_uri) == data
    # The first URL has run out: exactly at its expiry it says so (its signature is genuine).
    clock.now = stored.download_expire_time
    with pytest.raises(UrlExpiredError):
        downloaded(store, stored.download_uri)
    clock.now = stored.download_expire_time - datetime.timedelta(seconds=1)
    assert downloaded(store, stored.download_uri) == data


async def test_sys_req_016_a_tampered_url_is_refused_before_the_artifact_is_looked_up(store: ArtifactStore) -> None:
    stored = await store.store(GeneratedFile(b"private bytes", PNG), "models/x")
    artifact_id, expires, signature = url_parts(stored.download_uri)
    forged = ("B" if signature[0] == "A" else "A") + signature[1:]
    with pytest.raises(SignatureInvalidError):
        store.open_download(artifact_id, expires, forged)
    with pytest.raises(SignatureInvalidError):
        store.open_download(artifact_id, expires + datetime.timedelta(days=1), signature)
    # An id that does not exist, with a made-up signature, says the same: nothing about existence.
    with pytest.raises(SignatureInvalidError):
        store.open_download("0" * 28, expires, signature)
    # A genuine URL for an artifact deleted since is not found.
    await store.delete(artifact_id)
    with pytest.raises(NotFoundError):
        store.open_download(artifact_id, expires, signature)


@pytest.mark.parametrize(
    "span", [(0, 0), (0, 99), (1, 1), (100, 4999), (4096, 4096 + 600_000), (999_999, 999_999), (0, 999_999)]
)
async def test_sys_req_016_open_download_serves_exactly_the_range_asked_for(store: ArtifactStore, span) -> None:
    data = os.urandom(1_000_000)  # larger than one download chunk
    stored = await store.store(GeneratedFile(data, PNG), "models/x")
    assert downloaded(store, stored.download_uri, span) == data[span[0] : span[1] + 1]
    assert downloaded(store, stored.download_uri) == data


# --- retention ----------------------------------------------------------------------------------------------


async def test_sys_req_016_an_expired_artifact_is_gone_for_callers_then_removed_with_its_bytes(
    store: ArtifactStore, database: sqlite3.Connection, blobs_dir: Path, clock: Clock
) -> None:
    old = await store.store(GeneratedFile(b"old bytes", PNG), "models/x")
    clock.advance(hours=1)
    young = await store.store(GeneratedFile(b"young bytes", PNG), "models/x")

    clock.now = old.artifact.expire_time - datetime.timedelta(seconds=1)
    assert store.get(old.artifact.id).artifact == old.artifact
    assert [s.artifact.id for s in store.page("", 10)] == [young.artifact.id, old.artifact.id]

    clock.now = old.artifact.expire_time  # exactly at expiry: gone
    with pytest.raises(NotFoundError) as caught:
        store.get(old.artifact.id)
    assert caught.value.reason == "NOT_FOUND"
    assert store.find(old.artifact.id) is None
    assert [s.artifact.id for s in store.page("", 10)] == [young.artifact.id]
    with pytest.raises(NotFoundError):
        await store.delete(old.artifact.id)

    # A dry run says what would go and removes nothing.
    planned = await store.remove_expired(dry_run=True)
    assert [(e.artifact.id, e.freed_bytes) for e in planned] == [(old.artifact.id, len(b"old bytes"))]
    assert SqliteArtifactIndex(database).get(old.artifact.id) is not None
    assert old.artifact.sha256 in blob_files(blobs_dir)
    assert store.stored_bytes() == len(b"old bytes") + len(b"young bytes")

    removed = await store.remove_expired()
    assert [(e.artifact.id, e.freed_bytes) for e in removed] == [(old.artifact.id, len(b"old bytes"))]
    assert SqliteArtifactIndex(database).get(old.artifact.id) is None
    assert blob_files(blobs_dir) == {young.artifact.sha256: b"young bytes"}
    assert store.stored_bytes() == len(b"young bytes")
    assert await store.remove_expired() == []  # nothing left to remove
    assert store.get(young.artifact.id).artifact == young.artifact


async def test_sys_req_016_an_expired_artifact_sharing_bytes_with_a_live_one_frees_nothing(
    store: ArtifactStore, blobs_dir: Path, clock: Clock
) -> None:
    data = os.urandom(4000)
    old = await store.store(GeneratedFile(data, PNG), "models/x")
    clock.advance(hours=1)
    young = await store.store(GeneratedFile(data, PNG), "models/x")
    clock.now = old.artifact.expire_time

    planned = await store.remove_expired(dry_run=True)
    removed = await store.remove_expired()
    assert [(e.artifact.id, e.freed_bytes) for e in removed] == [(old.artifact.id, 0)]
    assert [(e.artifact.id, e.freed_bytes) for e in planned] == [(old.artifact.id, 0)]  # the dry run agrees
    assert blob_files(blobs_dir) == {young.artifact.sha256: data}
    assert downloaded(store, store.get(young.artifact.id).download_uri) == data


async def test_sys_req_016_expired_artifacts_sharing_bytes_free_them_once_in_a_dry_run_as_in_a_real_one(
    store: ArtifactStore, blobs_dir: Path, clock: Clock
) -> None:
    data = os.urandom(4000)
    first = await store.store(GeneratedFile(data, PNG), "models/x")
    second = await store.store(GeneratedFile(data, PNG), "models/y")
    clock.now = first.artifact.expire_time

    planned = await store.remove_expired(dry_run=True)
    assert sum(e.freed_bytes for e in planned) == 4000
    assert blob_files(blobs_dir) == {first.artifact.sha256: data}
    removed = await store.remove_expired()
    assert {e.artifact.id for e in removed} == {first.artifact.id, second.artifact.id}
    assert [e.freed_bytes for e in removed] == [e.freed_bytes for e in planned]
    assert blob_files(blobs_dir) == {} and store.stored_bytes() == 0


class FailsOnce(SqliteArtifactIndex):
    """The index, whose first look for expired artifacts fails (a locked database, say)."""

    calls = 0

    def expired(self, now: datetime.datetime) -> list[Artifact]:
        self.calls += 1
        if self.calls == 1:
            raise sqlite3.OperationalError("database is locked")
        return super().expired(now)


async def test_sys_req_016_the_background_loop_removes_expired_artifacts_and_survives_a_failure(
    database: sqlite3.Connection, blobs_dir: Path, clock: Clock, caplog
) -> None:
    index = FailsOnce(database)
    store = ArtifactStore(
        index,
        FilesystemBlobStore(blobs_dir),
        UrlSigner([KEY], now=clock),
        ArtifactLimits(ttl=TTL, url_ttl=URL_TTL, budget_bytes=0),
        BASE_URL,
        no_disk_limit,
        now=clock,
    )
    stored = await store.store(GeneratedFile(b"short-lived", PNG), "models/x")
    loop = asyncio.create_task(store.remove_expired_every(0.01))
    try:
        await wait_until(lambda: index.calls >= 3, what="the loop to run a few times")
        assert SqliteArtifactIndex(database).get(stored.artifact.id) is not None  # not expired yet: kept
        clock.now = stored.artifact.expire_time + datetime.timedelta(seconds=1)
        await wait_until(
            lambda: SqliteArtifactIndex(database).get(stored.artifact.id) is None, what="the expired artifact to go"
        )
        await wait_until(lambda: blob_files(blobs_dir) == {}, what="its bytes to go")
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert store.stored_bytes() == 0
    assert any(r.message == "removing expired artifacts failed" for r in caplog.records)


# --- budgets ------------------------------------------------------------------------------------------------

SIZE = re.compile(r"(\d[\d.,]*) (?:B|KB|MB|GB|TB|PB|bytes)\b")


async def test_sys_req_016_a_file_over_the_artifact_budget_is_refused_before_it_is_written(
    database: sqlite3.Connection, blobs_dir: Path, clock: Clock
) -> None:
    store = make_store(database, blobs_dir, clock, budget_bytes=1_000_000)
    await store.store(GeneratedFile(os.urandom(999_999), PNG), "models/x")
    store.check_room()  # one byte still fits: a generation may start

    with pytest.raises(QuotaExceededError) as caught:
        await store.store(GeneratedFile(b"xy", PNG), "models/x")
    error = caught.value
    assert error.reason == "QUOTA_EXCEEDED"
    assert [v.subject for v in error.violations] == ["artifacts.budget_bytes"]
    # used, needed, total and budget: 1,000,001 against 1,000,000 must not both read "1.0 MB".
    numbers = SIZE.findall(error.violations[0].description)
    assert len(numbers) == 4 and len(set(numbers)) == 4, error.violations[0].description
    assert len(blob_files(blobs_dir)) == 1 and staged_files(blobs_dir) == []
    assert database.execute("SELECT COUNT(*) FROM artifacts").fetchone()[0] == 1
    assert store.stored_bytes() == 999_999

    # Callers get it as RESOURCE_EXHAUSTED with a QuotaFailure naming the same subject.
    status = to_status(error)
    assert from_status(status).reason == "QUOTA_EXCEEDED" and status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    failures = [d for d in status.details if d.Is(error_details_pb2.QuotaFailure.DESCRIPTOR)]
    quota = error_details_pb2.QuotaFailure()
    failures[0].Unpack(quota)
    assert [(v.subject, v.description) for v in quota.violations] == [
        ("artifacts.budget_bytes", error.violations[0].description)
    ]

    # Full to the byte: not even a small output fits, so a generation is refused before it starts.
    await store.store(GeneratedFile(b"z", PNG), "models/x")
    with pytest.raises(QuotaExceededError) as full:
        store.check_room()
    assert [v.subject for v in full.value.violations] == ["artifacts.budget_bytes"]


async def test_sys_req_016_the_shared_disk_budget_is_asked_too_and_its_violations_included(
    database: sqlite3.Connection, blobs_dir: Path, clock: Clock
) -> None:
    asked: list[int] = []
    disk_full = QuotaViolation("storage.min_free_bytes", "5.0 KB are needed and the disk has 1.0 KB free")

    def disk_room(size: int) -> list[QuotaViolation]:
        asked.append(size)
        return [disk_full] if size > 100 else []

    store = make_store(database, blobs_dir, clock, budget_bytes=1000, disk_room=disk_room)
    await store.store(GeneratedFile(b"small", PNG), "models/x")
    store.check_room()
    assert asked == [5, 1]

    with pytest.raises(QuotaExceededError) as caught:
        await store.store(GeneratedFile(os.urandom(5000), PNG), "models/x")
    assert [v.subject for v in caught.value.violations] == ["artifacts.budget_bytes", "storage.min_free_bytes"]
    assert disk_full.description in caught.value.message
    assert asked[-1] == 5000
    assert len(blob_files(blobs_dir)) == 1

    # Only the disk: the artifacts' own budget is not reached, the disk's refusal still stops the write.
    with pytest.raises(QuotaExceededError) as caught:
        await store.store(GeneratedFile(os.urandom(500), PNG), "models/x")
    assert caught.value.violations == (disk_full,)
    assert len(blob_files(blobs_dir)) == 1


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    return folder


@pytest.fixture
def model_manager(database: sqlite3.Connection, models_dir: Path) -> Iterator[ModelManager]:
    registry = ModelRegistry(SqliteModelStore(database))
    pool = ModelPool()
    yield ModelManager(registry, ModelScanner(registry, models_dir), pool, models_dir, describe_model)
    pool.close()


def storage_around(
    model_manager: ModelManager,
    models_dir: Path,
    database: sqlite3.Connection,
    blobs_dir: Path,
    clock: Clock,
    storage_budget: int,
    artifacts_budget: int,
) -> tuple[ArtifactStore, StorageManager]:
    """As the gateway wires them: storage counts the artifacts, and the artifacts ask storage for disk room."""
    storage: StorageManager | None = None
    artifacts = make_store(
        database,
        blobs_dir,
        clock,
        budget_bytes=artifacts_budget,
        disk_room=lambda size: storage.violations(size) if storage else [],
    )
    storage = StorageManager(
        model_manager,
        models_dir,
        budget_bytes=storage_budget,
        min_free_bytes=0,
        evict_unused_after_days=0,
        active_staging=list,
        artifacts=artifacts,
    )
    return artifacts, storage


async def test_sys_req_016_storage_counts_artifacts_and_its_budget_refuses_them(
    model_manager: ModelManager, models_dir: Path, database: sqlite3.Connection, blobs_dir: Path, clock: Clock
) -> None:
    artifacts, storage = storage_around(
        model_manager, models_dir, database, blobs_dir, clock, storage_budget=15_000, artifacts_budget=50_000
    )
    data = os.urandom(6000)
    await artifacts.store(GeneratedFile(data, PNG), "models/x")
    await artifacts.store(GeneratedFile(data, PNG), "models/y")  # the same bytes: counted once
    usage = storage.usage()
    assert usage.artifacts_bytes == 6000
    assert usage.artifacts_budget_bytes == 50_000
    assert usage.models_bytes == 0

    # Under the artifacts' own budget, over the storage budget that models and artifacts share.
    with pytest.raises(QuotaExceededError) as caught:
        await artifacts.store(GeneratedFile(os.urandom(10_000), PNG), "models/x")
    assert [v.subject for v in caught.value.violations] == ["storage.budget_bytes"]
    assert storage.usage().artifacts_bytes == 6000
    assert len(blob_files(blobs_dir)) == 1


async def test_sys_req_016_storage_cleanup_removes_expired_artifacts_first_and_lists_them(
    model_manager: ModelManager, models_dir: Path, database: sqlite3.Connection, blobs_dir: Path, clock: Clock
) -> None:
    artifacts, storage = storage_around(
        model_manager, models_dir, database, blobs_dir, clock, storage_budget=0, artifacts_budget=0
    )
    old = await artifacts.store(GeneratedFile(os.urandom(3000), PNG), "models/x")
    clock.advance(hours=2)
    young = await artifacts.store(GeneratedFile(os.urandom(1000), PNG), "models/x")
    clock.now = old.artifact.expire_time + datetime.timedelta(seconds=1)
    assert storage.usage().artifacts_bytes == 4000  # expired, not yet removed: still on disk

    planned = await storage.cleanup(dry_run=True)
    assert planned.dry_run
    assert [(i.artifact, i.reason, i.size_bytes) for i in planned.items] == [(old.artifact.name, "expired", 3000)]
    assert planned.freed_bytes == 3000
    assert old.artifact.sha256 in blob_files(blobs_dir)
    assert SqliteArtifactIndex(database).get(old.artifact.id) is not None

    done = await storage.cleanup(dry_run=False)
    assert not done.dry_run
    assert [(i.artifact, i.path, i.reason, i.size_bytes, i.model) for i in done.items] == [
        (old.artifact.name, old.artifact.name, "expired", 3000, "")
    ]
    assert done.freed_bytes == 3000
    assert set(blob_files(blobs_dir)) == {young.artifact.sha256}
    assert SqliteArtifactIndex(database).get(old.artifact.id) is None
    assert storage.usage().artifacts_bytes == 1000
    assert (await storage.cleanup(dry_run=False)).items == ()


# --- paging -------------------------------------------------------------------------------------------------


async def test_sys_req_016_a_list_skips_expired_artifacts_without_ending_early(
    database: sqlite3.Connection, blobs_dir: Path, clock: Clock
) -> None:
    """After ttl is lowered (a restart with a shorter artifacts.ttl_s), newer artifacts can expire before older
    ones; until they are removed, a page must still be full when more live artifacts follow."""
    long_lived = make_store(database, blobs_dir, clock, ttl=datetime.timedelta(days=7))
    older = []
    for n in range(3):
        older.append((await long_lived.store(GeneratedFile(b"old %d" % n, PNG), "models/x")).artifact.id)
        await asyncio.sleep(0.002)  # ids sort by the millisecond they were made in
    short_lived = make_store(database, blobs_dir, clock, ttl=datetime.timedelta(hours=1))
    for n in range(3):
        await short_lived.store(GeneratedFile(b"new %d" % n, PNG), "models/x")
        await asyncio.sleep(0.002)
    clock.advance(hours=2)

    assert [s.artifact.id for s in short_lived.page("", 2)] == older[::-1][:2]
    servicer = ArtifactServicer(short_lived)
    names: list[str] = []
    token = ""
    while True:
        request = artifact_service_pb2.ListArtifactsRequest(page_size=2, page_token=token)
        response = await servicer.ListArtifacts(request, None)
        names += [a.name for a in response.artifacts]
        if not (token := response.next_page_token):
            break
    assert names == [f"artifacts/{i}" for i in reversed(older)]


# --- through a real gateway ---------------------------------------------------------------------------------


def rpc_error_details(caught: pytest.ExceptionInfo) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    details = from_rpc_error(caught.value)
    return caught.value.code(), details.reason, details.field_violations


async def test_sys_req_016_artifact_service_gets_lists_pages_filters_and_deletes(
    gateway_factory, tmp_path_factory
) -> None:
    data_dir = tmp_path_factory.mktemp("data")
    # What a crashed write left behind is cleared when the gateway starts.
    staging = data_dir / "artifacts" / "blobs" / STAGING
    staging.mkdir(parents=True)
    (staging / "leftover").write_bytes(b"partial")
    async with (
        gateway_factory(data_dir=data_dir, models={"preload": ()}) as gw,
        grpc.aio.insecure_channel(f"127.0.0.1:{gw.port}") as channel,
    ):
        assert not (staging / "leftover").exists()
        stub = artifact_service_pb2_grpc.ArtifactServiceStub(channel)
        stored = []
        for n in range(7):
            model = "models/x" if n % 3 else "models/y"
            stored.append(await gw.artifacts.store(GeneratedFile(b"artifact %d" % n, PNG), model))
            await asyncio.sleep(0.002)  # ids sort by the millisecond they were made in
        newest_first = [s.artifact.name for s in reversed(stored)]
        of_x = [s.artifact.name for s in reversed(stored) if s.artifact.model == "models/x"]

        # Get: the record, and a URL that works for url_ttl (the gateway's defaults: an hour, a day to live).
        got = await stub.GetArtifact(artifact_service_pb2.GetArtifactRequest(name=stored[2].artifact.name))
        assert (got.name, got.mime_type, got.size_bytes, got.model) == (stored[2].artifact.name, PNG, 10, "models/x")
        assert got.sha256 == hashlib.sha256(b"artifact 2").hexdigest()
        assert got.expire_time.ToDatetime() - got.create_time.ToDatetime() == datetime.timedelta(hours=24)
        url_lifetime = got.download_expire_time.ToDatetime(tzinfo=datetime.UTC) - datetime.datetime.now(datetime.UTC)
        assert datetime.timedelta(minutes=59) < url_lifetime <= datetime.timedelta(hours=1)
        assert got.download_uri.startswith(f"{gw.settings.public_base_url}/v1/{got.name}:download?")
        artifact_id, expires, signature = url_parts(got.download_uri)
        assert f"artifacts/{artifact_id}" == got.name
        assert expires == got.download_expire_time.ToDatetime(tzinfo=datetime.UTC)

        # The URL's parts download over gRPC; a byte range gives exactly those bytes.
        timestamp = timestamp_pb2.Timestamp()
        timestamp.FromDatetime(expires)
        download = artifact_service_pb2.DownloadArtifactRequest(
            name=got.name, expire_time=timestamp, signature=signature
        )
        assert b"".join([m.data async for m in stub.DownloadArtifact(download)]) == b"artifact 2"
        ranged = stub.DownloadArtifact(download, metadata=(("range", "bytes=2-5"),))
        assert b"".join([m.data async for m in ranged]) == b"tifa"
        assert dict(await ranged.initial_metadata())["content-range"] == "bytes 2-5/10"
        forged = artifact_service_pb2.DownloadArtifactRequest(
            name=stored[3].artifact.name, expire_time=timestamp, signature=signature
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            [m async for m in stub.DownloadArtifact(forged)]
        assert rpc_error_details(caught)[:2] == (grpc.StatusCode.PERMISSION_DENIED, "SIGNATURE_INVALID")

        # List: newest first, page by page.
        async def listed(page_size: int, filter_text: str = "") -> list[str]:
            names: list[str] = []
            token = ""
            while True:
                request = artifact_service_pb2.ListArtifactsRequest(
                    page_size=page_size, page_token=token, filter=filter_text
                )
                response = await stub.ListArtifacts(request)
                assert len(response.artifacts) <= page_size
                names += [a.name for a in response.artifacts]
                if not (token := response.next_page_token):
                    return names

        assert await listed(3) == newest_first
        assert await listed(7) == newest_first
        assert await listed(1000) == newest_first
        assert await listed(2, 'model = "models/x"') == of_x
        assert await listed(2, '  model="models/x"  ') == of_x
        assert await listed(10, 'model = "models/nothing-here"') == []
        first = await stub.ListArtifacts(artifact_service_pb2.ListArtifactsRequest(page_size=2))
        assert [a.name for a in first.artifacts] == newest_first[:2] and first.next_page_token
        assert all(a.download_uri and a.sha256 for a in first.artifacts)

        for bad in ('model = models/x"', 'mime_type = "image/png"', 'model = "x"', "model:models/x"):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.ListArtifacts(artifact_service_pb2.ListArtifactsRequest(filter=bad))
            code, reason, violations = rpc_error_details(caught)
            assert (code, reason, list(violations)) == (
                grpc.StatusCode.INVALID_ARGUMENT,
                "VALIDATION_ERROR",
                ["filter"],
            )
        # A token belongs to its filter.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListArtifacts(
                artifact_service_pb2.ListArtifactsRequest(page_token=first.next_page_token, filter='model = "models/x"')
            )
        assert rpc_error_details(caught) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "VALIDATION_ERROR",
            {"page_token": "was issued for a different filter"},
        )

        # Delete: gone from Get, List and disk; a second delete is NOT_FOUND.
        doomed = stored[2].artifact
        await stub.DeleteArtifact(artifact_service_pb2.DeleteArtifactRequest(name=doomed.name))
        for call in (
            stub.GetArtifact(artifact_service_pb2.GetArtifactRequest(name=doomed.name)),
            stub.DeleteArtifact(artifact_service_pb2.DeleteArtifactRequest(name=doomed.name)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert rpc_error_details(caught)[:2] == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
        assert await listed(4) == [name for name in newest_first if name != doomed.name]
        blobs = blob_files(gw.settings.artifacts_dir / "blobs")
        assert doomed.sha256 not in blobs and len(blobs) == 6
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            [m async for m in stub.DownloadArtifact(download)]
        assert rpc_error_details(caught)[:2] == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetArtifact(artifact_service_pb2.GetArtifactRequest(name="models/x"))
        assert rpc_error_details(caught)[:2] == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_ERROR")
