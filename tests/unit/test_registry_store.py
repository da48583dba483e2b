"""The registry's SQLite store: migrations, round trips, sync rules (SYS-REQ-010, DATA-REQ-005, SYS-REQ-018)."""

from __future__ import annotations

import datetime
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from pluggably.core.errors import AlreadyExistsError, ValidationError
from pluggably.core.models import ModelSource, ModelState, SourceKind
from pluggably.core.models.discovery import DiscoveryResult
from pluggably.core.models.registry import ModelRegistry
from pluggably.core.models.serialization import model_from_json, model_to_json
from pluggably.db.database import MIGRATIONS, DatabaseError, open_database
from pluggably.db.stores import SqliteModelStore, SqliteOperationStore
from tests.unit.models_factory import model_info


def registry_at(path: Path) -> ModelRegistry:
    return ModelRegistry(SqliteModelStore(open_database(path)))


def test_fresh_database_gets_every_migration_DATA_REQ_005(tmp_path: Path) -> None:
    database = open_database(tmp_path / "state" / "pluggably.db")
    assert database.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"models", "operations"} <= tables


def test_reopening_migrates_nothing_twice_DATA_REQ_005(tmp_path: Path) -> None:
    path = tmp_path / "pluggably.db"
    SqliteModelStore(open_database(path)).save(model_info("kept"))
    assert [m.id for m in SqliteModelStore(open_database(path)).load_all()] == ["kept"]


def test_database_from_a_newer_pluggably_is_refused_DATA_REQ_005(tmp_path: Path) -> None:
    path = tmp_path / "pluggably.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(DatabaseError, match="newer"):
        open_database(path)


def test_model_entries_round_trip_through_json_DATA_REQ_005() -> None:
    now = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
    model = model_info(
        "full",
        aliases=("f",),
        pinned=True,
        labels={"a": "b"},
        source=ModelSource(SourceKind.HUGGING_FACE, "org/full", revision="main", allow_patterns=("*.json",)),
        revision="0" * 40,
        create_time=now,
        last_use_time=now,
    )
    assert model_from_json(model_to_json(model)) == model
    failed = replace(model, modality=None, state=ModelState.FAILED, state_reason="broken")
    assert model_from_json(model_to_json(failed)) == failed


def test_operation_records_are_upserted_DATA_REQ_005(tmp_path: Path) -> None:
    store = SqliteOperationStore(open_database(tmp_path / "pluggably.db"))
    record = {"name": "operations/1", "kind": "download", "done": False, "create_time": "2026-11-26T00:00:00"}
    store.save(record)
    store.save({**record, "done": True})
    assert store.load_all() == [{**record, "done": True}]
    store.delete("operations/1")
    assert store.load_all() == []


def test_registry_writes_survive_reopening_SYS_REQ_010(tmp_path: Path) -> None:
    path = tmp_path / "pluggably.db"
    registry = registry_at(path)
    registry.register(model_info("a", aliases=("first",)))
    registry.update("first", pinned=True, labels={"k": "v"})
    registry.register(model_info("b"))
    registry.remove("b")
    again = registry_at(path)
    (model,) = again.catalog.list()
    assert model.id == "a" and model.pinned and model.labels == {"k": "v"} and again.catalog.find("first")
    assert model.create_time is not None and model.update_time >= model.create_time


def test_register_refuses_taken_ids_aliases_and_bad_ids_SYS_REQ_010(tmp_path: Path) -> None:
    registry = registry_at(tmp_path / "pluggably.db")
    registry.register(model_info("a", aliases=("alpha",)))
    for clash in (model_info("a"), model_info("alpha"), model_info("c", aliases=("alpha",))):
        with pytest.raises(AlreadyExistsError):
            registry.register(clash)
    with pytest.raises(ValidationError):
        registry.register(model_info("Bad Id"))
    with pytest.raises(ValidationError):
        registry.update("a", aliases=("../up",))


def test_sync_adds_updates_marks_missing_and_keeps_user_fields_SYS_REQ_018(tmp_path: Path) -> None:
    registry = registry_at(tmp_path / "pluggably.db")
    folder_a, folder_b = tmp_path / "a", tmp_path / "b"
    folder_a.mkdir()
    folder_b.mkdir()
    first = registry.sync_discovered(
        DiscoveryResult((model_info("a", path=str(folder_a)), model_info("b", path=str(folder_b))), ())
    )
    assert first.added == ("models/a", "models/b") and not first.updated
    registry.update("a", pinned=True, aliases=("mine",))

    folder_b.rmdir()
    bigger = model_info("a", path=str(folder_a), size_bytes=999, aliases=("from-manifest",))
    second = registry.sync_discovered(DiscoveryResult((bigger,), ()))
    assert second.updated == ("models/a",) and second.missing == ("models/b",)
    a = registry.catalog.get("a")
    assert a.size_bytes == 999 and a.pinned and a.aliases == ("mine",)  # files' facts, user's choices
    assert registry.catalog.get("b").state is ModelState.MISSING

    # Nothing changed: nothing reported, nothing written.
    assert registry.sync_discovered(DiscoveryResult((bigger,), ())).updated == ()


def test_sync_never_touches_downloading_entries_SYS_REQ_018(tmp_path: Path) -> None:
    registry = registry_at(tmp_path / "pluggably.db")
    registry.register(model_info("incoming", path=str(tmp_path / "staging-only"), state=ModelState.DOWNLOADING))
    summary = registry.sync_discovered(DiscoveryResult((), ()))
    assert summary.missing == () and registry.catalog.get("incoming").state is ModelState.DOWNLOADING


def test_sync_skips_new_models_whose_id_or_aliases_clash_SYS_REQ_018(tmp_path: Path) -> None:
    registry = registry_at(tmp_path / "pluggably.db")
    registry.register(model_info("a", path=str(tmp_path), aliases=("alpha",)))
    summary = registry.sync_discovered(
        DiscoveryResult(
            (
                model_info("a", path=str(tmp_path)),
                model_info("alpha", path=str(tmp_path / "x")),
                model_info("c", path=str(tmp_path / "c"), aliases=("alpha",)),
            ),
            (),
        )
    )
    assert summary.added == ("models/c",)
    assert registry.catalog.get("c").aliases == ()
    assert len(summary.problems) == 2
