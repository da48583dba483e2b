"""SQLite implementations of the core's stores (`pluggably.core.ports`)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

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
