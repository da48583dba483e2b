"""Long-running operations (AIP-151): work that outlives a call, with progress, cancel and wait.

Each operation is an asyncio task plus a record (kind, request, metadata,
outcome) kept in the store, so a client can ask about it after the call that
started it, and so work interrupted by a restart can be resumed or failed on
purpose instead of hanging as "running" forever. Metadata and results are
plain JSON here; the API layer turns them into typed protobuf messages.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pluggably.core.errors import (
    FailedPreconditionError,
    InternalError,
    NotFoundError,
    OperationCancelledError,
    PluggablyError,
    error_from_json,
    error_to_json,
)
from pluggably.core.redaction import Redactor

log = logging.getLogger(__name__)

Json = dict[str, Any]


class OperationStore(Protocol):
    """Where long-running operations are kept, as plain JSON records."""

    def load_all(self) -> list[dict[str, Any]]: ...

    def save(self, record: dict[str, Any]) -> None: ...

    def delete(self, name: str) -> None: ...


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Operation:
    name: str
    kind: str
    request: Json
    metadata: Json
    create_time: datetime.datetime
    update_time: datetime.datetime
    done: bool = False
    result: Json | None = None
    error: PluggablyError | None = None

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "kind": self.kind,
            "request": self.request,
            "metadata": self.metadata,
            "create_time": self.create_time.isoformat(),
            "update_time": self.update_time.isoformat(),
            "done": self.done,
            "result": self.result,
            "error": error_to_json(self.error) if self.error else None,
        }

    @classmethod
    def from_json(cls, value: Json) -> Operation:
        return cls(
            name=value["name"],
            kind=value["kind"],
            request=value["request"],
            metadata=value["metadata"],
            create_time=datetime.datetime.fromisoformat(value["create_time"]),
            update_time=datetime.datetime.fromisoformat(value["update_time"]),
            done=value["done"],
            result=value["result"],
            error=error_from_json(value["error"]) if value["error"] else None,
        )


@dataclass
class _Entry:
    operation: Operation
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)  # the task ran its first step
    saved_at: float = 0.0


class OperationHandle:
    """What running work uses to publish its progress."""

    def __init__(self, operations: Operations, name: str) -> None:
        self._operations = operations
        self.name = name

    @property
    def operation(self) -> Operation:
        return self._operations.get(self.name)

    async def report(self, metadata: Json, *, save: bool = False) -> None:
        """New metadata: watchers see it at once; the store at most every interval (or now with `save`)."""
        await self._operations._update(self.name, metadata=metadata, save=save)


# Work gets its handle and returns the result as JSON, or raises.
Work = Callable[[OperationHandle], Awaitable[Json]]


class Operations:
    def __init__(
        self,
        store: OperationStore,
        save_interval_s: float = 0.5,
        now: Callable[[], datetime.datetime] = utc_now,
        redact: Redactor | None = None,
    ) -> None:
        self._store = store
        # An error's text may quote a remote server; it is kept and shown only without secrets.
        self._redact = redact or Redactor()
        self._save_interval_s = save_interval_s
        self._now = now
        self._entries: dict[str, _Entry] = {}
        self._closing = False
        for record in store.load_all():
            operation = Operation.from_json(record)
            self._entries[operation.name] = _Entry(operation)

    @property
    def closing(self) -> bool:
        """True once `close()` began: cancelled work then stays resumable instead of failing."""
        return self._closing

    def interrupted(self) -> list[Operation]:
        """Operations the store says were running when the server last stopped."""
        return [e.operation for e in self._entries.values() if not e.operation.done and e.task is None]

    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            raise NotFoundError(name)
        return entry

    def get(self, name: str) -> Operation:
        return self._entry(name).operation

    def list(self, kind: str | None = None) -> list[Operation]:
        """Newest first."""
        operations = [e.operation for e in self._entries.values() if kind is None or e.operation.kind == kind]
        return sorted(operations, key=lambda o: (o.create_time, o.name), reverse=True)

    def create(self, kind: str, request: Json, metadata: Json) -> Operation:
        now = self._now()
        operation = Operation(f"operations/{uuid.uuid4().hex}", kind, request, metadata, now, now)
        self._store.save(operation.to_json())
        self._entries[operation.name] = _Entry(operation, saved_at=time.monotonic())
        return operation

    def run(self, name: str, work: Work) -> None:
        """Runs `work` for a created (or interrupted) operation, in a task of its own."""
        entry = self._entry(name)
        if entry.task is not None or entry.operation.done:
            raise FailedPreconditionError(f"{name} is already running or done")
        entry.task = asyncio.get_running_loop().create_task(self._execute(name, work), name=name)

    async def _execute(self, name: str, work: Work) -> None:
        self._entry(name).started.set()
        try:
            result = await work(OperationHandle(self, name))
        except asyncio.CancelledError:
            if self._closing:
                raise  # shutting down: left running in the store, resumed at the next start
            await self._finish(name, error=OperationCancelledError(f"{name} was cancelled"))
        except PluggablyError as error:
            await self._finish(name, error=error)
        except Exception as error:
            log.exception("operation failed", extra={"operation": name})
            await self._finish(name, error=InternalError(f"{name} failed: {error}"))
        else:
            await self._finish(name, result=result)

    async def _update(self, name: str, *, metadata: Json | None = None, save: bool = False, **changes: Any) -> None:
        entry = self._entry(name)
        if metadata is not None:
            changes["metadata"] = metadata
        if all(getattr(entry.operation, key) == value for key, value in changes.items()) and not save:
            return  # nothing new to tell watchers
        entry.operation = replace(entry.operation, update_time=self._now(), **changes)
        if save or time.monotonic() - entry.saved_at >= self._save_interval_s:
            self._store.save(entry.operation.to_json())
            entry.saved_at = time.monotonic()
        async with entry.changed:
            entry.changed.notify_all()

    async def _finish(self, name: str, *, result: Json | None = None, error: PluggablyError | None = None) -> None:
        if error is not None:
            error = self._redact.error(error)
        await self._update(name, done=True, result=result, error=error, save=True)
        log.info(
            "operation finished",
            extra={"operation": name, "outcome": "ok" if error is None else error.reason},
        )

    async def fail_interrupted(self, name: str, error: PluggablyError) -> None:
        """Ends an interrupted operation that cannot be resumed."""
        await self._finish(name, error=error)

    async def cancel(self, name: str) -> Operation:
        """Asks running work to stop; returns once it has. A finished operation stays as it is."""
        entry = self._entry(name)
        if entry.task is not None and not entry.task.done():
            # A task cancelled before its first step would never run its cleanup.
            await entry.started.wait()
            entry.task.cancel()
            await asyncio.gather(entry.task, return_exceptions=True)
        elif not entry.operation.done:
            await self._finish(name, error=OperationCancelledError(f"{name} was cancelled"))
        return entry.operation

    def delete(self, name: str) -> None:
        """Forgets a finished operation (AIP-151: the client is no longer interested)."""
        entry = self._entry(name)
        if not entry.operation.done:
            raise FailedPreconditionError(f"{name} is still running; cancel it first")
        self._store.delete(name)
        del self._entries[name]

    async def wait(self, name: str, timeout_s: float | None) -> Operation:
        """The operation once done, or as it is when `timeout_s` runs out."""
        entry = self._entry(name)
        try:
            async with asyncio.timeout(timeout_s), entry.changed:
                await entry.changed.wait_for(lambda: entry.operation.done)
        except TimeoutError:
            pass
        return entry.operation

    async def watch(self, name: str) -> AsyncIterator[Operation]:
        """The operation now, then after each change, ending with the finished one."""
        entry = self._entry(name)
        seen = entry.operation
        yield seen
        while not seen.done:
            async with entry.changed:
                await entry.changed.wait_for(lambda seen=seen: entry.operation is not seen)
            seen = entry.operation
            yield seen

    async def close(self) -> None:
        """Stops running work without marking it done: the next start resumes or fails it."""
        self._closing = True
        tasks = [e.task for e in self._entries.values() if e.task is not None and not e.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for entry in self._entries.values():
            if not entry.operation.done:
                self._store.save(entry.operation.to_json())
