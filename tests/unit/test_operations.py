"""The long-running operation manager: run, watch, wait, cancel, persist, resume (SYS-REQ-013)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pluggably.core.errors import FailedPreconditionError, NotFoundError, OperationCancelledError, ValidationError
from pluggably.core.operations import OperationHandle, Operations
from pluggably.db.database import open_database
from pluggably.db.stores import SqliteOperationStore


def operations_at(path: Path) -> Operations:
    return Operations(SqliteOperationStore(open_database(path)), save_interval_s=0.0)


async def test_work_runs_and_its_result_is_kept_SYS_REQ_013(tmp_path: Path) -> None:
    operations = operations_at(tmp_path / "db")
    created = operations.create("job", {"n": 3}, {"step": 0})

    async def work(handle: OperationHandle) -> dict:
        for step in range(1, 4):
            await handle.report({"step": step})
        return {"total": 3}

    operations.run(created.name, work)
    done = await operations.wait(created.name, timeout_s=5)
    assert done.done and done.result == {"total": 3} and done.metadata == {"step": 3} and done.error is None
    again = operations_at(tmp_path / "db").get(created.name)
    assert again.done and again.result == {"total": 3}


async def test_watch_sees_every_change_and_ends_when_done_SYS_REQ_013(tmp_path: Path) -> None:
    operations = operations_at(tmp_path / "db")
    created = operations.create("job", {}, {"step": 0})
    step = asyncio.Event()

    async def work(handle: OperationHandle) -> dict:
        for n in (1, 2):
            await step.wait()
            step.clear()
            await handle.report({"step": n})
        return {}

    operations.run(created.name, work)
    seen = []

    async def watch() -> None:
        async for snapshot in operations.watch(created.name):
            seen.append((snapshot.metadata["step"], snapshot.done))

    watcher = asyncio.create_task(watch())
    for _ in range(2):
        await asyncio.sleep(0.01)
        step.set()
    await asyncio.wait_for(watcher, 5)
    assert seen[0] == (0, False) and seen[-1] == (2, True) and (1, False) in seen


async def test_wait_returns_when_the_timeout_runs_out_SYS_REQ_013(tmp_path: Path) -> None:
    operations = operations_at(tmp_path / "db")
    created = operations.create("job", {}, {})
    operations.run(created.name, lambda handle: asyncio.sleep(10))  # type: ignore[arg-type, return-value]
    assert not (await operations.wait(created.name, timeout_s=0.05)).done
    await operations.cancel(created.name)


async def test_cancel_ends_with_cancelled_and_delete_needs_done_SYS_REQ_013(tmp_path: Path) -> None:
    operations = operations_at(tmp_path / "db")
    created = operations.create("job", {}, {})
    operations.run(created.name, lambda handle: asyncio.sleep(10))  # type: ignore[arg-type, return-value]
    with pytest.raises(FailedPreconditionError):
        operations.delete(created.name)
    cancelled = await operations.cancel(created.name)
    assert cancelled.done and isinstance(cancelled.error, OperationCancelledError)
    assert (await operations.cancel(created.name)).error is cancelled.error  # a finished one stays as it is
    operations.delete(created.name)
    with pytest.raises(NotFoundError):
        operations.get(created.name)


async def test_errors_are_the_operation_outcome_SYS_REQ_013(tmp_path: Path) -> None:
    operations = operations_at(tmp_path / "db")
    created = operations.create("job", {}, {})

    async def work(handle: OperationHandle) -> dict:
        raise ValidationError.single("source", "no such thing")

    operations.run(created.name, work)
    failed = await operations.wait(created.name, timeout_s=5)
    assert isinstance(failed.error, ValidationError) and failed.error.violations[0].field == "source"
    reloaded = operations_at(tmp_path / "db").get(created.name)
    assert isinstance(reloaded.error, ValidationError)


async def test_close_leaves_running_work_to_resume_SYS_REQ_013(tmp_path: Path) -> None:
    operations = operations_at(tmp_path / "db")
    created = operations.create("job", {"resume": "me"}, {"step": 1})
    operations.run(created.name, lambda handle: asyncio.sleep(10))  # type: ignore[arg-type, return-value]
    await operations.close()
    restarted = operations_at(tmp_path / "db")
    (interrupted,) = restarted.interrupted()
    assert interrupted.name == created.name and not interrupted.done and interrupted.request == {"resume": "me"}
    await restarted.fail_interrupted(created.name, FailedPreconditionError("cannot resume"))
    assert restarted.get(created.name).done and restarted.interrupted() == []
