"""The artifact store: stores generated files, lists, signs, serves, expires and deletes them.

Every artifact expires (`ttl`); expired ones are removed in the background
and by storage cleanup. Artifacts have a byte limit of their own
(`budget_bytes`) and count against the disk budget shared with models
(`disk_room`): a generation is refused before it starts when the store is
full already, and a file that does not fit is refused before it is written.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from pluggably.core.artifacts import COLLECTION, Artifact, SignedArtifact
from pluggably.core.artifacts.ports import ArtifactIndex, BlobStore
from pluggably.core.artifacts.signing import UrlSigner
from pluggably.core.errors import NotFoundError, QuotaExceededError, QuotaViolation
from pluggably.core.generation.common import GeneratedFile
from pluggably.core.units import distinct_decimal_bytes

log = logging.getLogger(__name__)

# Envoy holds a REST download's whole first message before answering, up to 1 MiB: stay well under it.
DOWNLOAD_CHUNK_BYTES = 512 << 10


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def new_artifact_id() -> str:
    """Sorts by creation time (milliseconds), then 64 random bits: unguessable, and listable newest first."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def rfc3339(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ArtifactLimits:
    ttl: datetime.timedelta
    url_ttl: datetime.timedelta
    budget_bytes: int  # 0: no limit of their own


@dataclass(frozen=True)
class ExpiredArtifact:
    artifact: Artifact
    freed_bytes: int  # 0 when another artifact still names the same bytes


class ArtifactStore:
    def __init__(
        self,
        index: ArtifactIndex,
        blobs: BlobStore,
        signer: UrlSigner,
        limits: ArtifactLimits,
        public_base_url: str,
        disk_room: Callable[[int], list[QuotaViolation]],
        now: Callable[[], datetime.datetime] = _utc_now,
    ) -> None:
        self._index = index
        self._blobs = blobs
        self._signer = signer
        self._limits = limits
        self._base_url = public_base_url.rstrip("/")
        self._disk_room = disk_room
        self._now = now
        # Kept here, not asked of the index each time: storage reads it from worker threads too.
        self._stored_bytes = index.stored_bytes()
        # One write or removal at a time: a budget check and its write go together. The index is called on the
        # event loop (SQLite, quick, one connection); the bytes move in worker threads.
        self._lock = asyncio.Lock()

    # --- writing ---------------------------------------------------------------

    def stored_bytes(self) -> int:
        return self._stored_bytes

    @property
    def budget_bytes(self) -> int:
        return self._limits.budget_bytes

    def _violations(self, size: int) -> list[QuotaViolation]:
        violations = []
        budget = self._limits.budget_bytes
        if budget:
            used = self.stored_bytes()
            if used + size > budget:
                used_text, size_text, total_text, budget_text = distinct_decimal_bytes(used, size, used + size, budget)
                violations.append(
                    QuotaViolation(
                        "artifacts.budget_bytes",
                        f"artifacts use {used_text} and the new output needs {size_text}: "
                        f"{total_text} is over their budget of {budget_text}",
                    )
                )
        return violations + self._disk_room(size)

    def check_room(self) -> None:
        """Raises QuotaExceededError when not even a small output would fit: refuse before generating."""
        if violations := self._violations(1):
            raise QuotaExceededError.listing("the artifact store is full", violations)

    async def store(self, file: GeneratedFile, model: str) -> SignedArtifact:
        """Writes the bytes (atomically, once per content) and records an artifact that expires after `ttl`."""
        async with self._lock:
            if violations := self._violations(len(file.data)):
                raise QuotaExceededError.listing("the output does not fit", violations)
            sha256 = await asyncio.to_thread(self._blobs.put, file.data)
            if not self._index.blob_in_use(sha256):
                self._stored_bytes += len(file.data)
            now = self._now().replace(microsecond=0)
            artifact = Artifact(
                id=new_artifact_id(),
                mime_type=file.mime_type,
                size_bytes=len(file.data),
                sha256=sha256,
                create_time=now,
                expire_time=(now + self._limits.ttl).replace(microsecond=0),
                model=model,
            )
            self._index.add(artifact)
        log.info("artifact stored", extra={"artifact": artifact.name, "bytes": artifact.size_bytes, "model": model})
        return self.signed(artifact)

    # --- reading ---------------------------------------------------------------

    def signed(self, artifact: Artifact) -> SignedArtifact:
        """The artifact with a URL signed now, valid for `url_ttl` but never past the artifact's expiry."""
        # Whole seconds: the signature covers the expiry as the URL spells it.
        expires = min(self._now() + self._limits.url_ttl, artifact.expire_time).replace(microsecond=0)
        query = urlencode({"expireTime": rfc3339(expires), "signature": self._signer.sign(artifact.name, expires)})
        uri = f"{self._base_url}/v1/{COLLECTION}/{quote(artifact.id)}:download?{query}"
        return SignedArtifact(artifact, uri, expires)

    def _live(self, artifact_id: str) -> Artifact:
        artifact = self._index.get(artifact_id)
        if artifact is None or artifact.expire_time <= self._now():
            raise NotFoundError(f"{COLLECTION}/{artifact_id}")
        return artifact

    def get(self, artifact_id: str) -> SignedArtifact:
        return self.signed(self._live(artifact_id))

    def find(self, artifact_id: str) -> SignedArtifact | None:
        """As `get`, or None when it is gone (expired or deleted)."""
        try:
            return self.get(artifact_id)
        except NotFoundError:
            return None

    async def read(self, artifact_id: str) -> tuple[Artifact, bytes] | None:
        """A live artifact and its bytes (an input to another generation), or None."""
        try:
            artifact = self._live(artifact_id)
            chunks = self._blobs.chunks(artifact.sha256, DOWNLOAD_CHUNK_BYTES)
        except (NotFoundError, FileNotFoundError):
            return None
        return artifact, await asyncio.to_thread(b"".join, chunks)

    def page(self, before_id: str, limit: int, model: str = "") -> list[SignedArtifact]:
        """Unexpired artifacts, newest first: `limit` of them unless fewer are left. Expired ones not yet removed are
        skipped, not counted (with a lowered `ttl`, newer ones can expire first), so a short page means the end."""
        now = self._now()
        live: list[Artifact] = []
        while len(live) < limit:
            rows = self._index.page(before_id, limit, model)
            live += [a for a in rows if a.expire_time > now]
            if len(rows) < limit:
                break
            before_id = rows[-1].id
        return [self.signed(a) for a in live[:limit]]

    def open_download(
        self,
        artifact_id: str,
        expires: datetime.datetime,
        signature: str,
        byte_range: Callable[[int], tuple[int, int] | None] = lambda size: None,
    ) -> tuple[Artifact, tuple[int, int] | None, Iterator[bytes]]:
        """For a signed URL: the artifact, the byte range served (inclusive; None for the whole file) and the
        bytes. The signature is checked before anything is looked up. `byte_range` picks the range from the
        size (it raises for one outside the file)."""
        self._signer.verify(f"{COLLECTION}/{artifact_id}", expires, signature)
        artifact = self._live(artifact_id)
        span = byte_range(artifact.size_bytes)
        start, length = (span[0], span[1] - span[0] + 1) if span else (0, None)
        return artifact, span, self._blobs.chunks(artifact.sha256, DOWNLOAD_CHUNK_BYTES, start, length)

    # --- removing --------------------------------------------------------------

    async def delete(self, artifact_id: str) -> Artifact:
        async with self._lock:
            artifact = self._live(artifact_id)
            await self._remove(artifact)
        log.info("artifact deleted", extra={"artifact": artifact.name})
        return artifact

    async def _remove(self, artifact: Artifact) -> int:
        """Forgets the record, then the bytes if nothing else names them; the bytes freed."""
        self._index.delete(artifact.id)
        if self._index.blob_in_use(artifact.sha256):
            return 0
        await asyncio.to_thread(self._blobs.delete, artifact.sha256)
        self._stored_bytes -= artifact.size_bytes
        return artifact.size_bytes

    async def remove_expired(self, dry_run: bool = False) -> list[ExpiredArtifact]:
        """Removes every expired artifact (or, with `dry_run`, says which it would)."""
        async with self._lock:
            now = self._now()
            expired = self._index.expired(now)
            if dry_run:
                # As removing them in this order would: the last to go of the artifacts naming a blob frees it,
                # unless an unexpired one names it too.
                last = {a.sha256: a.id for a in expired}
                return [
                    ExpiredArtifact(
                        a, a.size_bytes if last[a.sha256] == a.id and not self._index.blob_in_use(a.sha256, now) else 0
                    )
                    for a in expired
                ]
            removed = [ExpiredArtifact(a, await self._remove(a)) for a in expired]
        if removed:
            log.info("expired artifacts removed", extra={"count": len(removed)})
        return removed

    async def remove_expired_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.remove_expired()
            except Exception:
                log.exception("removing expired artifacts failed")
