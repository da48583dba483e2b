"""SQLite implementations of the core's stores (the ports of core.models, core.operations and core.artifacts)."""

from __future__ import annotations

import datetime
import json
import sqlite3
from typing import Any

from pluggably.core.artifacts import Artifact
from pluggably.core.models import ModelInfo
from pluggably.core.models.serialization import model_from_json, model_to_json


class SqliteModelStore:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def load_all(self) -> list[ModelInfo]:
        rows = self._db.execute("SELECT entry FROM models ORDER BY id").fetchall()
        return [model_from_json(json.loads(entry)) for (entry,) in rows]

    def save(self, model: ModelInfo) -> None:
        self._db.execute(
            "INSERT INTO models (id, entry) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET entry = excluded.entry",
            (model.id, json.dumps(model_to_json(model))),
        )

    def delete(self, model_id: str) -> None:
        self._db.execute("DELETE FROM models WHERE id = ?", (model_id,))


class SqliteOperationStore:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def load_all(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT record FROM operations ORDER BY create_time, name").fetchall()
        return [json.loads(record) for (record,) in rows]

    def save(self, record: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO operations (name, kind, done, record, create_time) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET done = excluded.done, record = excluded.record",
            (record["name"], record["kind"], int(record["done"]), json.dumps(record), record["create_time"]),
        )

    def delete(self, name: str) -> None:
        self._db.execute("DELETE FROM operations WHERE name = ?", (name,))


class SqliteArtifactIndex:
    """Times are stored as ISO 8601 UTC text, which sorts as time does."""

    _COLUMNS = "id, mime_type, size_bytes, sha256, create_time, expire_time, model"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @staticmethod
    def _artifact(row: tuple[Any, ...]) -> Artifact:
        artifact_id, mime_type, size_bytes, sha256, create_time, expire_time, model = row
        return Artifact(
            id=artifact_id,
            mime_type=mime_type,
            size_bytes=size_bytes,
            sha256=sha256,
            create_time=datetime.datetime.fromisoformat(create_time),
            expire_time=datetime.datetime.fromisoformat(expire_time),
            model=model,
        )

    @staticmethod
    def _time(value: datetime.datetime) -> str:
        return value.astimezone(datetime.UTC).isoformat()

    def add(self, artifact: Artifact) -> None:
        self._db.execute(
            f"INSERT INTO artifacts ({self._COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                artifact.id,
                artifact.mime_type,
                artifact.size_bytes,
                artifact.sha256,
                self._time(artifact.create_time),
                self._time(artifact.expire_time),
                artifact.model,
            ),
        )

    def get(self, artifact_id: str) -> Artifact | None:
        row = self._db.execute(f"SELECT {self._COLUMNS} FROM artifacts WHERE id = ?", (artifact_id,)).fetchone()
        return self._artifact(row) if row else None

    def page(self, before_id: str, limit: int, model: str = "") -> list[Artifact]:
        rows = self._db.execute(
            f"SELECT {self._COLUMNS} FROM artifacts WHERE (? = '' OR id < ?) AND (? = '' OR model = ?) "
            "ORDER BY id DESC LIMIT ?",
            (before_id, before_id, model, model, limit),
        ).fetchall()
        return [self._artifact(row) for row in rows]

    def delete(self, artifact_id: str) -> None:
        self._db.execute("DELETE FROM artifacts WHERE id = ?", (artifact_id,))

    def expired(self, now: datetime.datetime) -> list[Artifact]:
        rows = self._db.execute(
            f"SELECT {self._COLUMNS} FROM artifacts WHERE expire_time <= ? ORDER BY expire_time", (self._time(now),)
        ).fetchall()
        return [self._artifact(row) for row in rows]

    def blob_in_use(self, sha256: str, unexpired_at: datetime.datetime | None = None) -> bool:
        if unexpired_at is None:
            query, parameters = "SELECT 1 FROM artifacts WHERE sha256 = ? LIMIT 1", (sha256,)
        else:
            query = "SELECT 1 FROM artifacts WHERE sha256 = ? AND expire_time > ? LIMIT 1"
            parameters = (sha256, self._time(unexpired_at))
        return self._db.execute(query, parameters).fetchone() is not None

    def stored_bytes(self) -> int:
        row = self._db.execute(
            "SELECT COALESCE(SUM(size_bytes), 0) FROM (SELECT DISTINCT sha256, size_bytes FROM artifacts)"
        ).fetchone()
        return int(row[0])
