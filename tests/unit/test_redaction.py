"""Secrets never leave the gateway in what it says (SYS-NFR-001): the redactor and where it is applied."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from urllib.parse import quote

import pytest

from pluggably.core.errors import (
    BackendUnavailableError,
    FieldViolation,
    QuotaExceededError,
    QuotaViolation,
    ValidationError,
)
from pluggably.core.operations import Operations
from pluggably.core.redaction import MIN_FRAGMENT, REDACTED, Redactor
from pluggably.db.database import open_database
from pluggably.db.stores import SqliteOperationStore
from pluggably.logs import JsonFormatter
from pluggably.settings import load_settings

TOKEN = "hf_PlantedTokenQ7xZk2Vw9Rr4Nn8Ls"
KEY = "sk-planted/key+with=odd&chars_0123456789"


def fragments(secret: str, length: int = 12) -> list[str]:
    return [secret[i : i + length] for i in range(len(secret) - length + 1)]


def all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.iterdir())


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        for piece in fragments(secret):
            assert piece not in text, f"{piece!r} of a secret is in {text!r}"


def test_sys_nfr_001_whole_secrets_and_their_fragments_are_removed() -> None:
    redactor = Redactor([TOKEN, KEY])
    text = f"403: denied for Bearer {TOKEN}; retry with ...{TOKEN[4:20]}...; key={quote(KEY, safe='')} tail={KEY[-14:]}"
    redacted = redactor.text(text)
    assert_clean(redacted, TOKEN, KEY, quote(KEY, safe=""))
    assert redacted.startswith("403: denied for Bearer [REDACTED]; retry with ...[REDACTED]...;")
    assert redacted.count(REDACTED) == 4


def test_sys_nfr_001_ordinary_text_is_left_alone() -> None:
    redactor = Redactor([TOKEN])
    text = "downloading model.safetensors: the server answered HTTP 403 (hf_ and Planted are too short to matter)"
    assert redactor.text(text) == text
    # One character short of a fragment stays; one character more goes.
    assert redactor.text(TOKEN[: MIN_FRAGMENT - 1]) == TOKEN[: MIN_FRAGMENT - 1]
    assert redactor.text(TOKEN[:MIN_FRAGMENT]) == REDACTED


def test_sys_nfr_001_short_secrets_are_matched_whole() -> None:
    redactor = Redactor(["abc12"])
    assert redactor.text("x abc12 y abc1") == f"x {REDACTED} y abc1"


def test_sys_nfr_001_without_secrets_nothing_changes() -> None:
    redactor = Redactor(["", ""])
    assert not redactor
    error = BackendUnavailableError("as it was")
    assert redactor.error(error) is error


def test_sys_nfr_001_errors_are_copied_with_every_text_redacted() -> None:
    redactor = Redactor([TOKEN])
    cause = RuntimeError(TOKEN)
    error = ValidationError([FieldViolation("source", f"bad {TOKEN}")], f"invalid: {TOKEN}")
    error.metadata = {"header": TOKEN}
    error.__cause__ = cause
    redacted = redactor.error(error)
    assert isinstance(redacted, ValidationError)
    assert (redacted.message, str(redacted)) == (f"invalid: {REDACTED}", f"invalid: {REDACTED}")
    assert redacted.metadata == {"header": REDACTED}
    assert redacted.violations == (FieldViolation("source", f"bad {REDACTED}"),)
    assert redacted.__cause__ is None
    assert error.message == f"invalid: {TOKEN}"  # the original is untouched

    quota = redactor.error(QuotaExceededError("over", [QuotaViolation("storage", TOKEN)]))
    assert isinstance(quota, QuotaExceededError)
    assert quota.violations == (QuotaViolation("storage", REDACTED),)

    retry = redactor.error(BackendUnavailableError(f"503 {TOKEN}", retry_after_s=7))
    assert isinstance(retry, BackendUnavailableError)
    assert (retry.message, retry.retry_after_s) == (f"503 {REDACTED}", 7)


def test_sys_nfr_001_log_lines_and_tracebacks_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(Redactor([TOKEN])))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"the hub said: {TOKEN}")
        except RuntimeError:
            logger.error("failed for %s", TOKEN[2:18], exc_info=True, extra={"header": f"Bearer {TOKEN}"})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    entry = json.loads(line)
    assert "RuntimeError" in entry["exception"]
    assert entry["header"] == f"Bearer {REDACTED}"
    assert_clean(line, TOKEN)


async def test_sys_nfr_001_an_operation_keeps_its_error_without_secrets(tmp_path: Path) -> None:
    """Work that fails with a secret in its exception: the operation, the API and the database hold none."""
    database_file = tmp_path / "ops.db"
    operations = Operations(SqliteOperationStore(open_database(database_file)), redact=Redactor([TOKEN]))
    for failure in (RuntimeError(f"boom {TOKEN}"), BackendUnavailableError(f"403 from hub: Bearer {TOKEN}")):
        created = operations.create("test", {}, {})

        async def work(handle, failure=failure):  # type: ignore[no-untyped-def]
            raise failure

        operations.run(created.name, work)
        done = await operations.wait(created.name, timeout_s=5)
        assert done.error is not None and REDACTED in done.error.message
        assert_clean(done.error.message, TOKEN)
    stored = await asyncio.to_thread(all_bytes, tmp_path)
    assert_clean(stored.decode(errors="replace"), TOKEN)
    assert REDACTED.encode() in stored


def test_sys_nfr_001_settings_list_every_configured_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().secret_values() == []
    monkeypatch.setenv("PLUGGABLY_DOWNLOADS__HF_TOKEN", TOKEN)
    monkeypatch.setenv("PLUGGABLY_ARTIFACTS__SIGNING_KEYS", json.dumps([KEY * 2, "k" * 40]))
    assert sorted(load_settings().secret_values()) == sorted([TOKEN, KEY * 2, "k" * 40])
