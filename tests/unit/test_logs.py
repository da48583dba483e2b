"""Structured JSON logs (SYS-NFR-005, SYS-REQ-008): one object per line, with the request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from pluggably.logs import JsonFormatter, request_id_var


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pluggably.test-logs")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.handlers.clear()


def lines(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_each_record_is_one_json_object_per_line_SYS_NFR_005(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("first line\nwith a newline and ünïcode 日本")
    logger.warning("second %s", "formatted")
    first, second = lines(stream)
    assert first["message"] == "first line\nwith a newline and ünïcode 日本"
    assert first["level"] == "INFO"
    assert first["logger"] == "pluggably.test-logs"
    assert first["time"].endswith("+00:00")
    assert second["message"] == "second formatted"
    assert second["level"] == "WARNING"


def test_request_id_of_the_current_call_is_included_SYS_NFR_005(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("outside a call")
    token = request_id_var.set("req-123")
    try:
        logger.info("inside a call")
    finally:
        request_id_var.reset(token)
    outside, inside = lines(stream)
    assert "request_id" not in outside
    assert inside["request_id"] == "req-123"


def test_extra_fields_are_included_SYS_REQ_008(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info(
        "generation finished",
        extra={"output_tokens": 12, "finish_reason": "stop", "generation_s": 0.25, "model": object()},
    )
    (entry,) = lines(stream)
    assert entry["output_tokens"] == 12
    assert entry["finish_reason"] == "stop"
    assert entry["generation_s"] == 0.25
    assert isinstance(entry["model"], str)  # not JSON-serializable: written as its str()
    # Only the fields given: none of LogRecord's own attributes.
    assert not {"args", "msg", "levelno", "pathname", "lineno", "thread", "process"} & set(entry)


def test_exceptions_are_logged_within_the_single_line_SYS_NFR_005(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    (entry,) = lines(stream)
    assert entry["message"] == "failed"
    assert entry["level"] == "ERROR"
    assert "ValueError: boom" in entry["exception"]


def test_request_id_is_the_one_current_when_the_record_was_made_SYS_NFR_005() -> None:
    """Handlers may format later, elsewhere (a queue, another task): the id must not change."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("pluggably.test-logs-deferred")
    logger.handlers[:] = [Collect()]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        token = request_id_var.set("req-early")
        try:
            logger.info("made during the call")
        finally:
            request_id_var.reset(token)
        token = request_id_var.set("req-other")
        try:
            (record,) = records
            entry = json.loads(JsonFormatter().format(record))
        finally:
            request_id_var.reset(token)
    finally:
        logger.handlers.clear()
    assert entry["request_id"] == "req-early"
