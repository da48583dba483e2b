"""The gateway's SQLite database: one file in the data directory, migrated when opened.

Migrations are append-only SQL scripts; `PRAGMA user_version` records how many
have run. Each runs in one transaction with its version bump, so a crash
mid-migration leaves the previous schema intact. A database written by a newer
Pluggably (more migrations than this one knows) is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS: tuple[str, ...] = (
    # 1: the model registry and long-running operations. Entries are JSON
    # documents (pluggably.core.models.serialization); columns hold what is queried.
    """
    CREATE TABLE models (
        id TEXT PRIMARY KEY,
        entry TEXT NOT NULL
    );
    CREATE TABLE operations (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        done INTEGER NOT NULL,
        record TEXT NOT NULL,
        create_time TEXT NOT NULL
    );
    CREATE INDEX operations_by_create_time ON operations (create_time);
    """,
    # 2: artifacts (pluggably.core.artifacts). Ids sort by creation time.
    """
    CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        mime_type TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        create_time TEXT NOT NULL,
        expire_time TEXT NOT NULL,
        model TEXT NOT NULL
    );
    CREATE INDEX artifacts_by_sha256 ON artifacts (sha256);
    CREATE INDEX artifacts_by_expire_time ON artifacts (expire_time);
    """,
)


class DatabaseError(Exception):
    pass


def open_database(path: Path) -> sqlite3.Connection:
    """Opens (creating if needed) and migrates the database at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit: every statement commits unless a transaction is opened explicitly.
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA busy_timeout = 5000")
    try:
        migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def migrate(connection: sqlite3.Connection) -> None:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise DatabaseError(
            f"the database has schema version {version}, newer than this Pluggably knows "
            f"({len(MIGRATIONS)}); upgrade Pluggably or point data_dir elsewhere"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        connection.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
