"""Hugging Face Hub repositories, through the real `huggingface_hub` client.

The client resolves the revision to a commit and lists the files with their
sizes and hashes (LFS files: SHA-256; others: git blob id), against the
configured endpoint, so a mirror or private hub works the same. The bytes
come through `HttpFetcher` (resumable, cancellable, with progress) from the
URLs the client builds.
"""

from __future__ import annotations

import asyncio

from huggingface_hub import HfApi, hf_hub_url
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.utils import build_hf_headers, filter_repo_objects

from pluggably.core.errors import NotFoundError, PermissionDeniedError, ValidationError
from pluggably.core.models import ModelSource
from pluggably.core.models.ports import RemoteFile, ResolvedSource
from pluggably.core.redaction import Redactor
from pluggably.sources.http import unavailable


def hub_headers(token: str | None) -> dict[str, str]:
    """What every request to the hub carries; the token only when one is configured."""
    return build_hf_headers(token=token or False, library_name="pluggably")


class HuggingFaceResolver:
    """Lists a repo's files. The hub's error text (which a proxy or mirror may fill with the request's
    Authorization header) reaches an error only through `redact`."""

    def __init__(self, endpoint: str, token: str | None, redact: Redactor) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._redact = redact
        self._api = HfApi(endpoint=self._endpoint, token=token or False, library_name="pluggably")

    async def resolve(self, source: ModelSource) -> ResolvedSource:
        return await asyncio.to_thread(self._resolve, source)

    def _resolve(self, source: ModelSource) -> ResolvedSource:
        repo, revision = source.location, source.revision or "main"
        try:
            info = self._api.model_info(repo, revision=revision, files_metadata=True)
        except RevisionNotFoundError as error:
            raise ValidationError.single(
                "source.hugging_face.revision", f"{repo} has no revision {revision!r}"
            ) from error
        except GatedRepoError as error:
            raise PermissionDeniedError(
                f"{repo} is gated: accept its terms and configure downloads.hf_token"
            ) from error
        except RepositoryNotFoundError as error:
            raise NotFoundError(
                f"{self._endpoint}/{repo}", f"{repo} was not found on {self._endpoint} (or is private: set a token)"
            ) from error
        except HfHubHTTPError as error:
            detail = self._redact.text(_what_the_hub_said(error))
            status = error.response.status_code if error.response is not None else None
            if status in (401, 403):  # the operator's token is at fault, not the caller, and a retry won't help
                raise PermissionDeniedError(
                    f"{self._endpoint} refused to show {repo} ({detail}): check downloads.hf_token",
                    metadata={"repo": repo},
                ) from error
            raise unavailable(f"asking {self._endpoint} about {repo}", detail) from error
        except OSError as error:
            raise unavailable(f"reaching {self._endpoint}", self._redact.text(str(error))) from error
        siblings = list(
            filter_repo_objects(
                info.siblings or [], allow_patterns=list(source.allow_patterns) or None, key=lambda s: s.rfilename
            )
        )
        if not siblings:
            raise ValidationError.single("source.hugging_face.allow_patterns", f"no file of {repo} matches")
        files = []
        for sibling in siblings:
            lfs = sibling.lfs
            files.append(
                RemoteFile(
                    path=sibling.rfilename,
                    size=sibling.size,
                    sha256=lfs.sha256 if lfs else "",
                    git_sha1="" if lfs else (sibling.blob_id or ""),
                    url=hf_hub_url(repo, sibling.rfilename, revision=info.sha, endpoint=self._endpoint),
                )
            )
        return ResolvedSource(info.sha or revision, tuple(files))


def _what_the_hub_said(error: HfHubHTTPError) -> str:
    """The status and the hub's own message, not the client's advice about tokens. Remote text: redact it."""
    status = error.response.status_code if error.response is not None else None
    said = (error.server_message or "").strip().splitlines()
    text = f"HTTP {status}" if status else type(error).__name__
    if said:
        text += f": {said[0]}"
    if error.request_id:
        text += f" (request id {error.request_id})"
    return text
