"""What image and mesh generation share: a backend that steps through denoising and ends with files to store.

`FileGeneration.run` leases the route's backend, waits for a generation
slot, relays the backend's progress and returns its last event; `store`
writes the files to the artifact store. `start_operation` runs such a
generation as a long-running operation whose metadata follows its progress
(`progress_json`); the unary calls run the same code without one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import aclosing
from typing import Any

from pluggably.core.artifacts import COLLECTION, SignedArtifact
from pluggably.core.artifacts.store import ArtifactStore
from pluggably.core.errors import BackendUnavailableError, InternalError, ValidationError
from pluggably.core.generation.admission import AdmissionController
from pluggably.core.generation.common import GeneratedFile, Progress, ServedBy, Stage
from pluggably.core.generation.pool import ModelPool
from pluggably.core.generation.router import Route
from pluggably.core.operations import Json, Operation, OperationHandle, Operations

log = logging.getLogger(__name__)

# Told of each change of progress, with what serves the request once known.
ProgressReport = Callable[[Progress, ServedBy | None], Awaitable[None]]


async def ignore_progress(progress: Progress, served_by: ServedBy | None) -> None:
    return None


def progress_json(progress: Progress, served_by: ServedBy | None, steps_total: int) -> Json:
    """An image or mesh operation's metadata as plain JSON (the API layer makes the typed message)."""
    if progress.stage is Stage.DENOISING:
        steps_done = progress.done
    else:  # before denoising none, after it all
        steps_done = 0 if progress.stage is Stage.QUEUED else steps_total
    return {
        "stage": progress.stage.value,
        "steps_done": steps_done,
        "steps_total": steps_total,
        "served_by": served_by.to_json() if served_by else None,
    }


# DATA-REQ-003: an operation's record keeps the parameters, never the prompts (nor an input image).
_NOT_RECORDED = frozenset({"prompt", "negative_prompt", "image", "provider_options"})


def job_json(route: Route, job: Any) -> Json:
    """What an operation records of its request: the model and the resolved parameters, without the prompts."""
    values = {k: getattr(v, "name", v) for k, v in dataclasses.asdict(job).items() if k not in _NOT_RECORDED}
    return {"model": route.model.name, **values}


class FileGeneration:
    def __init__(
        self,
        pool: ModelPool,
        admission: AdmissionController,
        artifacts: ArtifactStore,
        operations: Operations,
        record_use: Callable[[str], None],
    ) -> None:
        self._pool = pool
        self._admission = admission
        self._artifacts = artifacts
        self._operations = operations
        self._record_use = record_use

    async def input_image(self, name: str, field: str) -> bytes:
        """The bytes of the artifact `name` (`artifacts/{id}`, checked by the API layer) that a request takes as its
        input image; a VALIDATION_ERROR on `field` for one that is not there or not an image."""
        found = await self._artifacts.read(name.removeprefix(f"{COLLECTION}/"))
        if found is None:
            raise ValidationError.single(field, f"{name} is not a stored artifact (unknown, deleted or expired)")
        artifact, data = found
        if not artifact.mime_type.startswith("image/"):
            raise ValidationError.single(field, f"{name} is {artifact.mime_type}, not an image")
        return data

    def check_room(self) -> None:
        """Refuses a generation whose outputs could not be stored anyway, before it starts."""
        self._artifacts.check_room()

    async def run(self, route: Route, job: Any, report: ProgressReport) -> tuple[Any, ServedBy]:
        """Runs `job` on the route's backend; returns the backend's last event and what served it.

        Cancelling the caller closes the backend's stream, which stops it before its next step; the slot is
        released only once the backend's thread has stopped.
        """
        await report(Progress(Stage.QUEUED), None)
        async with self._pool.lease(route) as backend:
            served_by = ServedBy(route.model.name, route.provider, route.runtime, backend.device)
            await report(Progress(Stage.QUEUED), served_by)
            async with self._admission.slot():
                self._record_use(route.model.id)
                last = None
                events: AsyncIterator[Any] = backend.stream(job)
                async with aclosing(events):
                    async for event in events:
                        if isinstance(event, Progress):
                            await report(event, served_by)
                        else:
                            last = event
        if last is None:
            raise InternalError(f"the {route.runtime.value} backend of {route.model.name} ended without a result")
        return last, served_by

    async def store(
        self, files: Sequence[GeneratedFile], served_by: ServedBy, report: ProgressReport
    ) -> list[SignedArtifact]:
        await report(Progress(Stage.STORING), served_by)
        return [await self._artifacts.store(file, served_by.model) for file in files]

    async def fail_interrupted(self, kinds: Collection[str]) -> None:
        """At start: a generation the last run left running cannot go on (its model state is gone); it fails."""
        for operation in self._operations.interrupted():
            if operation.kind in kinds:
                await self._operations.fail_interrupted(
                    operation.name,
                    BackendUnavailableError(
                        f"{operation.name} was interrupted when the gateway stopped; start it again",
                        retry_after_s=1,
                    ),
                )

    def start_operation(
        self,
        kind: str,
        request: Json,
        steps_total: int,
        work: Callable[[ProgressReport], Awaitable[Json]],
    ) -> Operation:
        """Runs `work` as a long-running operation whose metadata follows the progress it reports."""
        operation = self._operations.create(kind, request, progress_json(Progress(Stage.QUEUED), None, steps_total))

        async def run(handle: OperationHandle) -> Json:
            async def report(progress: Progress, served_by: ServedBy | None) -> None:
                # Stage changes are saved at once; steps as often as the store's interval allows.
                stage_changed = handle.operation.metadata.get("stage") != progress.stage.value
                await handle.report(progress_json(progress, served_by, steps_total), save=stage_changed)

            result = await work(report)
            last = handle.operation.metadata
            await handle.report({**last, "stage": Stage.DONE.value, "steps_done": steps_total}, save=True)
            return result

        self._operations.run(operation.name, run)
        log.info("generation started", extra={"operation": operation.name, "kind": kind})
        return self._operations.get(operation.name)
