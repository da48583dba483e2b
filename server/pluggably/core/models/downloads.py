"""Model downloads as long-running operations (SYS-REQ-013).

A download reserves its model id (an entry in state DOWNLOADING), then runs
as an operation: QUEUED until a download slot is free, RESOLVING the
source's file list and sizes, DOWNLOADING into a private staging folder,
VERIFYING sizes and hashes, REGISTERING (one rename moves the verified files
into the models directory, then the entry turns READY). A half-downloaded
model is therefore never visible as READY, and a download never writes into
another model's folder.

Failures and cancels delete the staging folder and the reservation. A server
that stops mid-download leaves both in place; at the next start the
operation resumes where its partial files end (HTTP ranges) or fails with
its reason.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from pluggably.core.errors import (
    AlreadyExistsError,
    FieldViolation,
    IntegrityError,
    PluggablyError,
    QuotaExceededError,
    QuotaViolation,
    ValidationError,
)
from pluggably.core.models import ModelCapabilities, ModelInfo, ModelSource, ModelState, SourceKind
from pluggably.core.models.catalog import MODEL_ID_PATTERN
from pluggably.core.models.discovery import MANIFEST_FILE
from pluggably.core.models.management import STAGING_DIR, is_inside
from pluggably.core.models.ports import (
    DiskBudget,
    FileFetcher,
    RemoteFile,
    ResolvedSource,
    RestartFromZero,
    SourceResolver,
)
from pluggably.core.models.registry import ModelRegistry
from pluggably.core.models.serialization import model_to_json
from pluggably.core.operations import Json, Operation, OperationHandle, Operations

log = logging.getLogger(__name__)

DOWNLOAD_KIND = "download_model"
PARTIAL_SUFFIX = ".part"
HF_REPO_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
_CHUNK_REPORT_BYTES = 1 << 20


class Stage(enum.Enum):
    QUEUED = "queued"
    RESOLVING = "resolving"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    REGISTERING = "registering"
    DONE = "done"


@dataclass(frozen=True)
class DownloadRequest:
    source: ModelSource
    model_id: str
    sha256: str = ""

    def to_json(self) -> Json:
        return {"source": self.source.to_json(), "model_id": self.model_id, "sha256": self.sha256}

    @classmethod
    def from_json(cls, value: Json) -> DownloadRequest:
        return cls(ModelSource.from_json(value["source"]), value["model_id"], value.get("sha256", ""))


def check_relative_path(path: str, field: str) -> str:
    """Refuses a file path that could land outside the model folder."""
    pure = PurePosixPath(path)
    if not path or "\\" in path or "\0" in path or pure.is_absolute() or ".." in pure.parts or path.startswith("~"):
        raise ValidationError.single(field, f"file path {path!r} would leave the model folder")
    return str(pure)


def validate_request(request: DownloadRequest, field_prefix: str = "") -> DownloadRequest:
    violations: list[FieldViolation] = []
    source = request.source
    if source.kind is SourceKind.HUGGING_FACE and not HF_REPO_PATTERN.match(source.location):
        violations.append(
            FieldViolation("source.hugging_face.repo_id", f"{source.location!r} is not an owner/name repo id")
        )
    if source.kind is SourceKind.URL and not re.match(r"^https?://[^/\s]+", source.location):
        violations.append(FieldViolation("source.url", f"{source.location!r} is not an http(s) URL"))
    if source.kind is SourceKind.LOCAL and not Path(source.location).is_absolute():
        violations.append(FieldViolation("source.local_path", "must be an absolute path on the server"))
    for i, pattern in enumerate(source.allow_patterns):
        if pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
            violations.append(FieldViolation(f"source.hugging_face.allow_patterns[{i}]", "must stay inside the repo"))
    if not MODEL_ID_PATTERN.match(request.model_id):
        violations.append(
            FieldViolation("model_id", f"{request.model_id!r} is not a valid model id ({MODEL_ID_PATTERN.pattern})")
        )
    if request.sha256 and not re.fullmatch(r"[0-9a-f]{64}", request.sha256):
        violations.append(FieldViolation("sha256", "must be 64 lowercase hex digits"))
    if request.sha256 and source.kind is not SourceKind.URL:
        violations.append(FieldViolation("sha256", "only a single-file URL download takes an expected hash"))
    if violations:
        raise ValidationError(violations)
    return request


def default_model_id(source: ModelSource) -> str:
    """A model id derived from the source: the repo name, the file or folder name, lowercased."""
    name = PurePosixPath(source.location.rstrip("/").split("?")[0]).name
    if source.kind is SourceKind.URL:
        name = name.split(".")[0] or name
    candidate = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")[:63]
    return candidate or "model"


def git_blob_sha1(size: int) -> Any:
    """A hasher that, fed the file's bytes, gives its git blob id (how the hub names non-LFS files)."""
    hasher = hashlib.sha1(usedforsecurity=False)
    hasher.update(f"blob {size}\0".encode())
    return hasher


class _Progress:
    """Byte counts and a smoothed rate, turned into DownloadModelMetadata-shaped JSON."""

    def __init__(self, model: str, files_total: int, bytes_total: int | None) -> None:
        self.model = model
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = 0
        self.bytes_done = 0
        self.rate = 0.0
        self._last_bytes = 0
        self._last_time = time.monotonic()

    def count_existing(self, n: int) -> None:
        """Bytes an earlier run left on disk (negative: dropped again): progress, but not this run's rate."""
        self.bytes_done += n
        self._last_bytes += n

    def sample_rate(self) -> None:
        now = time.monotonic()
        elapsed = now - self._last_time
        if elapsed >= 0.2:
            current = (self.bytes_done - self._last_bytes) / elapsed
            self.rate = current if not self.rate else 0.7 * self.rate + 0.3 * current
            self._last_bytes, self._last_time = self.bytes_done, now

    def to_json(self, stage: Stage) -> Json:
        eta = None
        if self.bytes_total and self.rate > 0:
            eta = max(0.0, (self.bytes_total - self.bytes_done) / self.rate)
        return metadata(
            self.model, stage, self.bytes_done, self.bytes_total or 0, self.files_done, self.files_total, self.rate, eta
        )


def metadata(
    model: str,
    stage: Stage,
    bytes_done: int = 0,
    bytes_total: int = 0,
    files_done: int = 0,
    files_total: int = 0,
    bytes_per_second: float = 0.0,
    eta_s: float | None = None,
) -> Json:
    return {
        "model": model,
        "stage": stage.value,
        "bytes_done": bytes_done,
        "bytes_total": bytes_total,
        "files_done": files_done,
        "files_total": files_total,
        "bytes_per_second": bytes_per_second,
        "eta_s": eta_s,
    }


class DownloadManager:
    def __init__(
        self,
        operations: Operations,
        registry: ModelRegistry,
        models_dir: Path,
        resolvers: Mapping[SourceKind, SourceResolver],
        fetchers: Mapping[SourceKind, FileFetcher],
        budget: DiskBudget,
        describe: Callable[[Path, str], ModelInfo],
        max_concurrent: int,
        unload: Callable[[str], None],
        progress_interval_s: float = 0.5,
    ) -> None:
        self._unload = unload
        self._operations = operations
        self._registry = registry
        self._models_dir = models_dir
        self._resolvers = dict(resolvers)
        self._fetchers = dict(fetchers)
        self._budget = budget
        self._describe = describe
        self._slots = asyncio.Semaphore(max_concurrent)
        self._progress_interval_s = progress_interval_s

    @property
    def staging_root(self) -> Path:
        return self._models_dir / STAGING_DIR

    def staging_dir(self, operation_name: str) -> Path:
        return self.staging_root / operation_name.removeprefix("operations/")

    def _downloading(self, model_id: str) -> Operation | None:
        for operation in self._operations.list(DOWNLOAD_KIND):
            if not operation.done and operation.request.get("model_id") == model_id:
                return operation
        return None

    def start(self, request: DownloadRequest) -> Operation:
        """Checks the request and reserves the model id; the transfer runs in the background.

        Pulling the source of an existing model again updates it: when the
        source has moved on, the new revision takes the model's id and aliases
        and the old one stays, as `{id}-{old revision}`, to keep, pin or delete.
        """
        validate_request(request)
        existing = self._registry.catalog.find(request.model_id)
        if existing is not None:
            if running := self._downloading(existing.id):
                raise AlreadyExistsError(
                    f"{existing.name} is already downloading in {running.name}",
                    metadata={"model": existing.name, "operation": running.name},
                )
            if existing.id != request.model_id or not same_origin(existing.source, request.source):
                raise AlreadyExistsError(
                    f"{existing.name} exists already, from another source; choose another model_id",
                    metadata={"model": existing.name},
                )
        model_id = request.model_id
        operation = self._operations.create(
            DOWNLOAD_KIND, request.to_json(), metadata(f"models/{model_id}", Stage.QUEUED)
        )
        if existing is None:
            self._registry.register(
                ModelInfo(
                    id=model_id,
                    modality=None,
                    path=str(self._models_dir / model_id),
                    runtimes=(),
                    formats=(),
                    capabilities=ModelCapabilities(),
                    source=request.source,
                    state=ModelState.DOWNLOADING,
                    state_reason=f"downloading in {operation.name}",
                )
            )
        self._operations.run(operation.name, lambda handle: self._download(handle, request))
        log.info(
            "download started",
            extra={"operation": operation.name, "model": f"models/{model_id}", "update": existing is not None},
        )
        return self._operations.get(operation.name)

    async def resume_interrupted(self) -> None:
        """At start: carries on downloads a stopped server left running (partial files are kept)."""
        for operation in self._operations.interrupted():
            if operation.kind != DOWNLOAD_KIND:
                continue
            request = DownloadRequest.from_json(operation.request)
            entry = self._registry.catalog.find(request.model_id)
            if entry is None:
                await self._operations.fail_interrupted(
                    operation.name,
                    PluggablyError(f"{operation.name} was interrupted and its model entry is gone"),
                )
                continue
            log.info("download resumed", extra={"operation": operation.name, "model": entry.name})
            self._operations.run(operation.name, lambda handle, r=request: self._download(handle, r))

    async def _download(self, handle: OperationHandle, request: DownloadRequest) -> Json:
        staging = self.staging_dir(handle.name)
        model = f"models/{request.model_id}"
        try:
            async with self._slots:
                await handle.report(metadata(model, Stage.RESOLVING), save=True)
                resolved = await self._resolvers[request.source.kind].resolve(request.source)
                files = tuple(replace(f, path=check_relative_path(f.path, "source")) for f in resolved.files)
                if not files:
                    raise ValidationError.single("source", "the source holds no files to download")
                if request.sha256 and len(files) == 1:
                    files = (replace(files[0], sha256=request.sha256),)
                resolved = ResolvedSource(resolved.revision, files)
                current = self._registry.catalog.get(request.model_id)
                if current.state is not ModelState.DOWNLOADING and current.revision == resolved.revision:
                    raise AlreadyExistsError(
                        f"{model} is already present at revision {resolved.revision or '(unversioned)'}: "
                        "nothing to download",
                        metadata={"model": model, "revision": resolved.revision},
                    )
                self._budget.reserve(staging.name, resolved.total_bytes or 0)
                await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True)
                progress = _Progress(model, len(files), resolved.total_bytes)
                await self._transfer(handle, request, resolved, staging, progress)
                await handle.report(progress.to_json(Stage.VERIFYING), save=True)
                info = await self._install(handle, request, resolved, staging)
                await handle.report(progress.to_json(Stage.DONE), save=True)
                return model_to_json(info)
        except BaseException as error:
            if not isinstance(error, asyncio.CancelledError) or not self._operations.closing:
                await asyncio.to_thread(shutil.rmtree, staging, True)
                self._release(request.model_id)
            raise
        finally:
            self._budget.release(staging.name)

    def _release(self, model_id: str) -> None:
        entry = self._registry.catalog.find(model_id)
        if entry is not None and entry.state is ModelState.DOWNLOADING:
            self._registry.remove(model_id)

    async def _transfer(
        self,
        handle: OperationHandle,
        request: DownloadRequest,
        resolved: ResolvedSource,
        staging: Path,
        progress: _Progress,
    ) -> None:
        fetcher = self._fetchers[request.source.kind]
        # With a size known up front the budget was checked already; without, it is watched.
        allowance = self._budget.allowance(staging.name) if resolved.total_bytes is None else None
        for file in resolved.files:
            final = staging / file.path
            if await asyncio.to_thread(final.exists):  # verified before an interruption
                progress.count_existing((await asyncio.to_thread(final.stat)).st_size)
                progress.files_done += 1
                continue
            partial = staging / (file.path + PARTIAL_SUFFIX)
            await asyncio.to_thread(partial.parent.mkdir, parents=True, exist_ok=True)
            transfer = _FileTransfer(file, partial, progress, allowance)
            await asyncio.to_thread(transfer.resume_from_partial)
            await handle.report(progress.to_json(Stage.DOWNLOADING), save=True)
            try:
                await self._fetch_reporting(
                    handle, progress, fetcher.fetch(file, partial, transfer.offset, transfer.received)
                )
            except RestartFromZero:
                await asyncio.to_thread(transfer.start_over)
                await self._fetch_reporting(handle, progress, fetcher.fetch(file, partial, 0, transfer.received))
            await asyncio.to_thread(transfer.verify)
            await asyncio.to_thread(partial.rename, final)
            progress.files_done += 1
            progress.sample_rate()
            await handle.report(progress.to_json(Stage.DOWNLOADING), save=True)

    async def _fetch_reporting(self, handle: OperationHandle, progress: _Progress, fetch: Awaitable[None]) -> None:
        """Awaits a fetch, publishing progress every interval meanwhile."""
        task = asyncio.ensure_future(fetch)
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=self._progress_interval_s)
                progress.sample_rate()
                await handle.report(progress.to_json(Stage.DOWNLOADING))
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        task.result()

    async def _install(
        self, handle: OperationHandle, request: DownloadRequest, resolved: ResolvedSource, staging: Path
    ) -> ModelInfo:
        target = self._models_dir / request.model_id
        await handle.report({**handle.operation.metadata, "stage": Stage.REGISTERING.value}, save=True)
        await asyncio.to_thread(_write_manifest, staging, request, resolved.revision)
        try:
            described = await asyncio.to_thread(self._describe, staging, request.model_id)
        except ValueError as error:
            raise ValidationError.single("source", f"the downloaded files are not a model: {error}") from error
        if described.state is not ModelState.READY:
            raise ValidationError.single(
                "source", f"the downloaded files are not a usable model: {described.state_reason}"
            )
        await asyncio.to_thread(_fsync_tree, staging)
        previous = self._registry.catalog.get(request.model_id)
        if previous.state is not ModelState.DOWNLOADING:
            await self._keep_previous_version(previous)
        elif await asyncio.to_thread(target.exists):
            raise AlreadyExistsError(f"{target} appeared during the download; nothing was overwritten")
        await asyncio.to_thread(staging.rename, target)
        info = replace(
            described,
            id=request.model_id,
            path=str(target),
            source=request.source,
            revision=resolved.revision,
            aliases=previous.aliases,
            pinned=previous.pinned,
            labels=previous.labels,
            state=ModelState.READY,
            state_reason="",
        )
        if previous.state is ModelState.DOWNLOADING:
            return self._registry.replace(info)
        return self._registry.register(replace(info, display_name=previous.display_name))

    async def _keep_previous_version(self, previous: ModelInfo) -> None:
        """Moves the version being replaced to `{id}-{revision}`, files and entry, and drops it from memory."""
        stem = previous.id[: 63 - 9]
        suffix = re.sub(r"[^a-z0-9]", "", previous.revision.lower())[:8] or "previous"
        new_id = f"{stem}-{suffix}"
        number = 2
        while self._registry.catalog.find(new_id) is not None:
            new_id, number = f"{stem}-{suffix}-{number}", number + 1
        old_path = Path(previous.path)
        new_path = old_path.with_name(new_id) if is_inside(old_path, self._models_dir) else old_path
        if new_path != old_path:
            await asyncio.to_thread(_rename_if_there, old_path, new_path)
        self._registry.rename(previous.id, new_id, str(new_path))
        self._unload(previous.id)
        log.info("previous version kept", extra={"model": previous.name, "kept_as": f"models/{new_id}"})


def _rename_if_there(old: Path, new: Path) -> None:
    if old.exists():
        old.rename(new)


def same_origin(a: ModelSource | None, b: ModelSource) -> bool:
    """Whether two sources name the same files (revisions may differ)."""
    return a is not None and (a.kind, a.location, a.allow_patterns) == (b.kind, b.location, b.allow_patterns)


class _FileTransfer:
    """One file's bytes on their way in: where they resume, what they must hash to, the budget."""

    def __init__(self, file: RemoteFile, partial: Path, progress: _Progress, allowance: int | None) -> None:
        self._file = file
        self._partial = partial
        self._progress = progress
        self._allowance = allowance
        self.offset = 0
        self._reset_hashers()

    def _reset_hashers(self) -> None:
        file = self._file
        self._sha256 = hashlib.sha256() if file.sha256 else None
        self._git = git_blob_sha1(file.size) if file.git_sha1 and file.size is not None else None

    def resume_from_partial(self) -> None:
        """Counts (and hashes) what an interrupted transfer left, so it goes on from there."""
        if not self._partial.exists():
            return
        size = self._partial.stat().st_size
        if self._file.size is not None and size > self._file.size:
            self._partial.unlink()
            return
        with self._partial.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                self._hash(chunk)
        self.offset = size
        self._progress.count_existing(size)

    def start_over(self) -> None:
        """The source ignored the range: drop the partial file and its counts."""
        self._progress.count_existing(-self.offset)
        self.offset = 0
        self._partial.unlink(missing_ok=True)
        self._reset_hashers()

    def _hash(self, chunk: bytes) -> None:
        if self._sha256:
            self._sha256.update(chunk)
        if self._git:
            self._git.update(chunk)

    def received(self, chunk: bytes) -> None:
        self._hash(chunk)
        self._progress.bytes_done += len(chunk)
        if self._allowance is not None and self._progress.bytes_done > self._allowance:
            raise QuotaExceededError(
                f"the download grew past the {self._allowance} bytes the storage budget leaves",
                [QuotaViolation("storage.budget_bytes", f"download of unknown size passed {self._allowance} bytes")],
            )

    def verify(self) -> None:
        file = self._file
        size = self._partial.stat().st_size
        problems = []
        if file.size is not None and size != file.size:
            problems.append(f"size {size} bytes, expected {file.size}")
        if self._sha256 and self._sha256.hexdigest() != file.sha256:
            problems.append(f"sha256 {self._sha256.hexdigest()}, expected {file.sha256}")
        if self._git and self._git.hexdigest() != file.git_sha1:
            problems.append(f"git blob id {self._git.hexdigest()}, expected {file.git_sha1}")
        if problems:
            self._partial.unlink(missing_ok=True)
            raise IntegrityError(
                f"{file.path} failed verification: {', '.join(problems)}", metadata={"file": file.path}
            )


def _write_manifest(folder: Path, request: DownloadRequest, revision: str) -> None:
    """Records where the files came from beside them, unless the source brought its own manifest."""
    manifest = folder / MANIFEST_FILE
    if not manifest.exists():
        value = {"display_name": request.model_id, "source": request.source.to_json(), "revision": revision}
        manifest.write_text(json.dumps(value, indent=2) + "\n")


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
