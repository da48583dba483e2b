"""A fake Hugging Face Hub on loopback: the HTTP API that `huggingface_hub` 0.36 calls to look up and download models.

Point the real client at it: `HfApi(endpoint=hub.endpoint)`, `hf_hub_url(..., endpoint=hub.endpoint)`,
`get_hf_file_metadata(url, token=...)`, `hf_hub_download(..., endpoint=hub.endpoint)`,
`snapshot_download(..., endpoint=hub.endpoint)`.

What it models (model repos only; the hub listener and a separate "CDN" listener on another port):

* `GET /api/models/{repo_id}` and `/api/models/{repo_id}/revision/{revision}` (`HfApi.model_info`/`repo_info`,
  `repo_exists`, `revision_exists`, `snapshot_download`): `id`, `sha`, `siblings` (`rfilename`; with `blobs=True`, i.e.
  `files_metadata=True`, also `size`, `blobId` and for LFS files `lfs: {sha256, size, pointerSize}`), `private`,
  `gated`, `lastModified`, `createdAt`, `tags`, `pipeline_tag`, `library_name`, `author`; `securityStatus=True` adds
  `securityRepoStatus`; `expand=...` returns only the named fields (with `id`).
* `GET /api/models/{repo_id}/tree/{revision}[/{path}]?recursive=&expand=` (`list_repo_tree`, `list_repo_files`):
  files and directories, paginated (`tree_page_size`) with a `Link: <...>; rel="next"` header as the hub does.
* `POST /api/models/{repo_id}/paths-info/{revision}` (`get_paths_info`): form or JSON `paths`, `expand`.
* `GET /api/models/{repo_id}/refs[?include_prs=1]` (`list_repo_refs`): branches and tags.
* `HEAD`/`GET /{repo_id}/resolve/{revision}/{filename}` (`hf_hub_url`, `get_hf_file_metadata`, `hf_hub_download`,
  `file_exists`): a regular (non-LFS) file answers 200 itself with `ETag` = the quoted git blob sha1 of the content,
  `X-Repo-Commit`, `Content-Length`, `Accept-Ranges`, `Content-Disposition`; an LFS file answers 302 to a signed URL on
  the CDN listener, with `X-Linked-Etag` (quoted sha256), `X-Linked-Size`, `X-Repo-Commit`, `ETag` (the git blob sha1 of
  the LFS pointer) and a "Found. Redirecting to ..." body (its Content-Length is not the file's size, as on the hub).
  The CDN is another origin (another port), so the client drops `Authorization` when following it, as with the real
  hub; its URL carries `Expires` and `Signature` (403 with an XML error when expired or tampered with, as CloudFront).
* Revisions: a branch, a tag, or a full 40-hex commit sha (`refs/heads/x`, `refs/tags/x` too); percent-encoded as the
  client sends them.
* Errors with the hub's headers, which the client maps to its exceptions: unknown repo, or a private repo without a
  token: 401 `X-Error-Code: RepoNotFound` ("Invalid username or password."); with a valid token but no access: 404
  RepoNotFound; an invalid token: 401 "Invalid credentials in Authorization header" (no error code); unknown revision:
  404 `RevisionNotFound`; missing file: 404 `EntryNotFound` (with `X-Repo-Commit`); gated repo: metadata is public,
  files need a token (401 `GatedRepo`) that is approved (else 403 `GatedRepo`).

Declaring repos: `hub.add_repo("org/name", {"config.json": b"...", "model.safetensors": b"..."}, private=True)` makes a
repo with one commit on `main`; `repo.commit({...})` adds commits (a commit updates its parent's tree, like git),
`repo.tag("v1", sha)` / `repo.branch("dev", sha)` add refs. Files matching `lfs_patterns` (the hub's default
.gitattributes globs: `*.safetensors`, `*.bin`, `*.gguf`, `*.onnx`, ...) are LFS files.

Test controls (shared with `FileServer`, see tests/support/file_server.py): `bytes_per_second`,
`set_throttle(key, bps)`, `set_fault(key, Fault(...))` with key `"{repo_id}/{filename}"`: they apply where the file's
bytes are served (the CDN for LFS files, `/resolve` for others); a status fault on key `repo_id` applies to that repo's
`/api` requests. The request log (`hub.requests`) records both listeners (`record.listener` is "hub" or "cdn").

Not modelled: datasets and spaces, Xet storage (no `X-Xet-*` headers, so the client downloads over plain HTTP), renamed
repos (relative redirects), pull-request refs, commit listings, uploads, rate limits, compression of `/resolve` bodies,
and the hub's exact tree order and `lastCommit` of directories beyond "the last commit that changed something under it".
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, quote, unquote, urlencode

from tests.support.file_server import LoopbackHandler, LoopbackHTTPService, ServedFile

DEFAULT_LFS_PATTERNS: tuple[str, ...] = (
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.bz2",
    "*.ckpt",
    "*.ftz",
    "*.gguf",
    "*.gz",
    "*.h5",
    "*.joblib",
    "*.mlmodel",
    "*.model",
    "*.msgpack",
    "*.npy",
    "*.npz",
    "*.onnx",
    "*.onnx_data",
    "*.ot",
    "*.parquet",
    "*.pb",
    "*.pickle",
    "*.pkl",
    "*.pt",
    "*.pth",
    "*.rar",
    "*.safetensors",
    "*.tar",
    "*.tar.*",
    "*.tflite",
    "*.tgz",
    "*.wasm",
    "*.xz",
    "*.zip",
    "*.zst",
    "*tfevents*",
)

_EPOCH = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
_API_ACTIONS = frozenset({"revision", "tree", "paths-info", "refs", "commits", "discussions", "xet-read-token"})


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob (what the hub reports as `blobId`/`oid` and as the ETag of regular files)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    """The Git LFS pointer file that git stores for an LFS file."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n"
    ).encode()


def hub_datetime(when: datetime) -> str:
    """The hub's JSON timestamps: 2024-01-02T03:04:05.000Z."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclasses.dataclass(frozen=True)
class RepoFileInfo:
    """What the hub knows of one file at one commit."""

    path: str
    data: bytes
    lfs: bool
    blob_id: str  # git sha1 of the content, or of the LFS pointer for an LFS file
    sha256: str
    pointer_size: int | None

    @property
    def size(self) -> int:
        return len(self.data)

    @classmethod
    def of(cls, path: str, data: bytes, lfs: bool) -> RepoFileInfo:
        pointer = lfs_pointer(data) if lfs else None
        return cls(
            path=path,
            data=data,
            lfs=lfs,
            blob_id=git_blob_sha1(pointer if pointer is not None else data),
            sha256=hashlib.sha256(data).hexdigest(),
            pointer_size=len(pointer) if pointer is not None else None,
        )

    def tree_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": self.blob_id, "size": self.size, "path": self.path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        return entry


@dataclasses.dataclass(frozen=True)
class FakeCommit:
    sha: str
    files: Mapping[str, RepoFileInfo]
    title: str
    date: datetime
    parent: str | None


@dataclasses.dataclass
class FakeRepo:
    """A model repo: commits (each a full tree of {filename: bytes}), branches, tags, visibility and card metadata.

    private: only tokens with access can see it (`tokens`; None: every token the hub accepts).
    gated: False, "auto" or "manual": metadata is public, downloads need an approved token (`tokens`, None: any valid).
    """

    repo_id: str
    private: bool = False
    gated: Literal[False, "auto", "manual"] = False
    tokens: frozenset[str] | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    pipeline_tag: str | None = None
    library_name: str | None = None
    created_at: datetime = _EPOCH
    lfs_patterns: tuple[str, ...] = DEFAULT_LFS_PATTERNS
    commits: dict[str, FakeCommit] = dataclasses.field(default_factory=dict)
    branches: dict[str, str] = dataclasses.field(default_factory=dict)
    git_tags: dict[str, str] = dataclasses.field(default_factory=dict)

    def is_lfs(self, filename: str) -> bool:
        name = filename.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.lfs_patterns)

    def commit(
        self,
        files: Mapping[str, bytes],
        *,
        branch: str = "main",
        delete: Iterable[str] = (),
        replace: bool = False,
        title: str | None = None,
        date: datetime | None = None,
        sha: str | None = None,
    ) -> str:
        """Adds a commit on `branch` (created if new) and returns its sha.

        The new tree is the branch head's tree updated with `files` and without `delete` (`replace=True`: exactly
        `files`). `sha` picks the commit id (40 hex); by default it is derived from the content.
        """
        parent = self.branches.get(branch)
        tree: dict[str, RepoFileInfo] = {} if replace or parent is None else dict(self.commits[parent].files)
        for name in delete:
            tree.pop(name, None)
        for name, data in files.items():
            tree[name] = RepoFileInfo.of(name, data, self.is_lfs(name))
        tree = dict(sorted(tree.items()))
        title = title or f"Upload {len(files)} files"
        date = date or datetime.fromtimestamp(_EPOCH.timestamp() + 60 * len(self.commits), UTC)
        if sha is None:
            digest = hashlib.sha1(f"{self.repo_id}\n{parent}\n{title}\n{date.isoformat()}\n".encode())
            for info in tree.values():
                digest.update(f"{info.path}\0{info.blob_id}\n".encode())
            sha = digest.hexdigest()
        if len(sha) != 40 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"a commit sha is 40 lowercase hex digits, not {sha!r}")
        self.commits[sha] = FakeCommit(sha=sha, files=tree, title=title, date=date, parent=parent)
        self.branches[branch] = sha
        return sha

    def tag(self, name: str, revision: str) -> None:
        self.git_tags[name] = self._sha_of(revision)

    def branch(self, name: str, revision: str) -> None:
        self.branches[name] = self._sha_of(revision)

    def _sha_of(self, revision: str) -> str:
        sha = self.resolve(revision)
        if sha is None:
            raise KeyError(revision)
        return sha

    def resolve(self, revision: str) -> str | None:
        """The commit sha a revision (branch, tag, sha, refs/heads/x, refs/tags/x) names, or None."""
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.git_tags:
            return self.git_tags[revision]
        if revision in self.commits:
            return revision
        if revision.startswith("refs/heads/"):
            return self.branches.get(revision.removeprefix("refs/heads/"))
        if revision.startswith("refs/tags/"):
            return self.git_tags.get(revision.removeprefix("refs/tags/"))
        return None

    @property
    def head(self) -> str:
        return self.branches["main"]

    def files(self, revision: str = "main") -> dict[str, bytes]:
        """{filename: bytes} at a revision (what a snapshot download must produce)."""
        return {name: info.data for name, info in self.commits[self._sha_of(revision)].files.items()}

    def file_info(self, filename: str, revision: str = "main") -> RepoFileInfo:
        return self.commits[self._sha_of(revision)].files[filename]

    def _last_commit(self, sha: str, path: str, is_dir: bool) -> FakeCommit:
        """The most recent commit, up the first-parent chain, that changed `path` (a file, or anything under a dir)."""

        def state(commit: FakeCommit) -> Any:
            if not is_dir:
                info = commit.files.get(path)
                return info.blob_id if info else None
            prefix = path + "/" if path else ""
            return tuple((n, i.blob_id) for n, i in commit.files.items() if n.startswith(prefix))

        commit = self.commits[sha]
        current = state(commit)
        while commit.parent is not None and state(self.commits[commit.parent]) == current:
            commit = self.commits[commit.parent]
        return commit


class _Refused(Exception):
    """The response was already sent (an error)."""


class FakeHub(LoopbackHTTPService):
    """The fake hub (see the module docstring). Listeners: "hub" (`endpoint`) and "cdn" (`cdn_url`).

    repos: FakeRepo objects to serve (more with `add_repo`).
    tokens: tokens the hub accepts (plus every token named in a repo's `tokens`); any other bearer token gets 401.
    bytes_per_second: a cap on every file body (per response); `set_throttle(f"{repo_id}/{filename}", bps)` for one.
    cdn_url_ttl_s: how long a signed CDN URL stays valid (negative: already expired).
    tree_page_size: entries per page of `/tree` listings (the hub uses 1000).
    """

    listener_names: ClassVar[tuple[str, ...]] = ("hub", "cdn")

    def __init__(
        self,
        repos: Iterable[FakeRepo] = (),
        *,
        tokens: Iterable[str] = (),
        bytes_per_second: float | None = None,
        cdn_url_ttl_s: float = 3600.0,
        tree_page_size: int = 1000,
    ) -> None:
        super().__init__(bytes_per_second=bytes_per_second)
        self.repos: dict[str, FakeRepo] = {repo.repo_id: repo for repo in repos}
        self.tokens = set(tokens)
        self.cdn_url_ttl_s = cdn_url_ttl_s
        self.tree_page_size = tree_page_size
        self._secret = secrets.token_bytes(16)

    @property
    def endpoint(self) -> str:
        return self.url("hub")

    @property
    def cdn_url(self) -> str:
        return self.url("cdn")

    def add_repo(self, repo_id: str, files: Mapping[str, bytes] | None = None, **options: Any) -> FakeRepo:
        """Declares a repo (FakeRepo options as keywords); with `files`, its first commit on `main`."""
        repo = FakeRepo(repo_id, **options)
        if files is not None:
            repo.commit(files, title="Initial commit")
        self.repos[repo_id] = repo
        return repo

    def _valid_tokens(self) -> set[str]:
        valid = set(self.tokens)
        for repo in self.repos.values():
            valid |= repo.tokens or set()
        return valid

    def default_headers(self, request: LoopbackHandler) -> dict[str, str]:
        if request.listener == "cdn":
            return {"X-Amz-Cf-Id": uuid.uuid4().hex, "Via": "1.1 fake-cdn (CloudFront)"}
        return {"X-Request-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}", "Vary": "Origin"}

    # -- dispatch -------------------------------------------------------------------------------------------------
    def handle(self, request: LoopbackHandler) -> None:
        try:
            if request.listener == "cdn":
                self._cdn(request)
                return
            segments = request.url_path.strip("/").split("/")
            if segments[0] == "api":
                self._api(request, segments[1:])
            elif len(segments) >= 4 and segments[1] == "resolve":
                self._resolve(request, segments[0], segments[2], segments[3:])
            elif len(segments) >= 5 and segments[2] == "resolve":
                self._resolve(request, f"{segments[0]}/{segments[1]}", segments[3], segments[4:])
            else:
                self._error(request, 404, "Not Found", code=None)
        except _Refused:
            pass

    def _error(
        self,
        request: LoopbackHandler,
        status: int,
        message: str,
        code: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        error_headers = {"X-Error-Message": message, **(headers or {})}
        if code is not None:
            error_headers["X-Error-Code"] = code
        request.send_json({"error": message}, status, error_headers)

    def _token(self, request: LoopbackHandler) -> str | None:
        authorization = request.headers.get("Authorization")
        if authorization is None:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self._valid_tokens():
            self._error(request, 401, "Invalid credentials in Authorization header", code=None)
            raise _Refused
        return token.strip()

    def _repo(self, request: LoopbackHandler, repo_id: str, *, download: bool) -> FakeRepo:
        """The repo if this request may see it (and, for `download`, fetch its files); else sends the hub's error."""
        token = self._token(request)
        repo = self.repos.get(repo_id)
        visible = repo is not None and (
            not repo.private or (token is not None and (repo.tokens is None or token in repo.tokens))
        )
        if repo is None or not visible:
            if token is None:
                self._error(request, 401, "Invalid username or password.", "RepoNotFound")
            else:
                self._error(request, 404, "Repository not found", "RepoNotFound")
            raise _Refused
        if download and repo.gated:
            if token is None:
                message = (
                    f"Access to model {repo_id} is restricted. You must have access to it and be authenticated to "
                    "access it. Please log in."
                )
                self._error(request, 401, message, "GatedRepo")
                raise _Refused
            if repo.tokens is not None and token not in repo.tokens:
                message = (
                    f"Access to model {repo_id} is restricted and you are not in the authorized list. "
                    f"Visit {self.endpoint}/{repo_id} to ask for access."
                )
                self._error(request, 403, message, "GatedRepo")
                raise _Refused
        return repo

    def _commit(self, request: LoopbackHandler, repo: FakeRepo, raw_revision: str) -> FakeCommit:
        revision = unquote(raw_revision)
        sha = repo.resolve(revision)
        if sha is None:
            self._error(request, 404, f"Invalid rev id: {revision}", "RevisionNotFound")
            raise _Refused
        return repo.commits[sha]

    # -- /api -----------------------------------------------------------------------------------------------------
    def _api(self, request: LoopbackHandler, segments: list[str]) -> None:
        if not segments or segments[0] != "models" or len(segments) < 2:
            self._error(request, 404, "Repository not found (the fake hub models model repos only)", "RepoNotFound")
            return
        rest = [unquote(s) if i < 2 else s for i, s in enumerate(segments[1:])]
        if len(rest) >= 2 and (f"{rest[0]}/{rest[1]}" in self.repos or rest[1] not in _API_ACTIONS):
            repo_id, action = f"{rest[0]}/{rest[1]}", rest[2:]
        else:
            repo_id, action = rest[0], rest[1:]
        repo = self._repo(request, repo_id, download=False)
        if request.apply_status_fault(repo_id):
            return
        params = parse_qs(request.query, keep_blank_values=True)
        match action:
            case [] if request.method in ("GET", "HEAD"):
                self._model_info(request, repo, self._commit(request, repo, "main"), params)
            case ["revision", revision] if request.method in ("GET", "HEAD"):
                self._model_info(request, repo, self._commit(request, repo, revision), params)
            case ["tree", revision, *path] if request.method == "GET":
                self._tree(request, repo, self._commit(request, repo, revision), unquote("/".join(path)), params)
            case ["paths-info", revision] if request.method == "POST":
                self._paths_info(request, repo, self._commit(request, repo, revision))
            case ["refs"] if request.method == "GET":
                self._refs(request, repo, params)
            case _:
                self._error(request, 404, f"Not Found (not modelled: {request.method} {request.url_path})", None)

    def _model_info(
        self, request: LoopbackHandler, repo: FakeRepo, commit: FakeCommit, params: dict[str, list[str]]
    ) -> None:
        blobs = _true(params.get("blobs"))
        siblings = []
        for info in commit.files.values():
            sibling: dict[str, Any] = {"rfilename": info.path}
            if blobs:
                sibling.update(size=info.size, blobId=info.blob_id)
                if info.lfs:
                    sibling["lfs"] = {"sha256": info.sha256, "size": info.size, "pointerSize": info.pointer_size}
            siblings.append(sibling)
        author = repo.repo_id.split("/")[0] if "/" in repo.repo_id else None
        data: dict[str, Any] = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": author,
            "sha": commit.sha,
            "lastModified": hub_datetime(commit.date),
            "createdAt": hub_datetime(repo.created_at),
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": list(repo.tags),
            "siblings": siblings,
            "spaces": [],
            "usedStorage": sum(info.size for info in commit.files.values()),
        }
        if repo.pipeline_tag is not None:
            data["pipeline_tag"] = repo.pipeline_tag
        if repo.library_name is not None:
            data["library_name"] = repo.library_name
        if author is None:
            del data["author"]
        if _true(params.get("securityStatus")):
            data["securityRepoStatus"] = {"scansDone": True, "filesWithIssues": []}
        expand = [field for values in (params.get("expand"), params.get("expand[]")) for field in values or []]
        if expand:
            data = {"_id": data["_id"], "id": data["id"], **{k: data[k] for k in expand if k in data}}
        request.send_json(data)

    def _entry(self, repo: FakeRepo, commit: FakeCommit, path: str, expand: bool) -> dict[str, Any] | None:
        info = commit.files.get(path)
        if info is not None:
            entry = info.tree_entry()
            if expand:
                entry["securityFileStatus"] = {
                    "status": "safe",
                    "avScan": {"virusFound": False, "virusNames": None},
                    "pickleImportScan": None,
                }
        elif any(name.startswith(path + "/") for name in commit.files):
            listing = "".join(f"{n}\0{i.blob_id}\n" for n, i in commit.files.items() if n.startswith(path + "/"))
            entry = {"type": "directory", "oid": hashlib.sha1(listing.encode()).hexdigest(), "size": 0, "path": path}
        else:
            return None
        if expand:
            last = repo._last_commit(commit.sha, path, is_dir=entry["type"] == "directory")
            entry["lastCommit"] = {"id": last.sha, "title": last.title, "date": hub_datetime(last.date)}
        return entry

    def _tree(
        self,
        request: LoopbackHandler,
        repo: FakeRepo,
        commit: FakeCommit,
        path: str,
        params: dict[str, list[str]],
    ) -> None:
        recursive, expand = _true(params.get("recursive")), _true(params.get("expand"))
        path = path.strip("/")
        prefix = path + "/" if path else ""
        if path and (path in commit.files or not any(n.startswith(prefix) for n in commit.files)):
            self._error(request, 404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.sha})
            return
        paths: set[str] = set()
        for name in commit.files:
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix) :].split("/")
            depth = len(parts) if recursive else 1
            for i in range(1, depth + 1):
                paths.add(prefix + "/".join(parts[:i]))
        entries = [self._entry(repo, commit, p, expand) for p in sorted(paths)]
        offset = int((params.get("cursor") or ["0"])[0])
        page = entries[offset : offset + self.tree_page_size]
        headers = {}
        if offset + self.tree_page_size < len(entries):
            query = {k: v[-1] for k, v in params.items()} | {"cursor": str(offset + self.tree_page_size)}
            headers["Link"] = f'<{self.endpoint}{request.url_path}?{urlencode(query)}>; rel="next"'
        request.send_json(page, headers=headers)

    def _paths_info(self, request: LoopbackHandler, repo: FakeRepo, commit: FakeCommit) -> None:
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            body = json.loads(request.body or b"{}")
            paths, expand = list(body.get("paths", [])), bool(body.get("expand", False))
        else:
            form = parse_qs(request.body.decode(), keep_blank_values=True)
            paths, expand = form.get("paths", []), _true(form.get("expand"))
        found = [self._entry(repo, commit, p.strip("/"), expand) for p in dict.fromkeys(paths)]
        request.send_json([entry for entry in found if entry is not None])

    def _refs(self, request: LoopbackHandler, repo: FakeRepo, params: dict[str, list[str]]) -> None:
        data: dict[str, Any] = {
            "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": s} for n, s in repo.branches.items()],
            "converts": [],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": s} for n, s in repo.git_tags.items()],
        }
        if _true(params.get("include_prs")):
            data["pullRequests"] = []
        request.send_json(data)

    # -- /{repo_id}/resolve/{revision}/{filename} -----------------------------------------------------------------
    def _resolve(self, request: LoopbackHandler, raw_repo_id: str, raw_revision: str, raw_path: list[str]) -> None:
        if request.method not in ("GET", "HEAD"):
            self._error(request, 405, "Method not allowed", None, {"Allow": "GET, HEAD"})
            return
        repo_id = unquote(raw_repo_id)
        repo = self._repo(request, repo_id, download=True)
        commit = self._commit(request, repo, raw_revision)
        filename = unquote("/".join(raw_path))
        info = commit.files.get(filename)
        if info is None:
            self._error(request, 404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.sha})
            return
        basename = filename.rsplit("/", 1)[-1]
        disposition = f"inline; filename*=UTF-8''{quote(basename)}; filename=\"{basename}\";"
        if info.lfs:
            location = self.cdn_location(repo_id, filename, info.sha256)
            request.send_simple(
                302,
                f"Found. Redirecting to {location}",
                {
                    "Location": location,
                    "ETag": f'"{info.blob_id}"',
                    "X-Linked-Etag": f'"{info.sha256}"',
                    "X-Linked-Size": str(info.size),
                    "X-Repo-Commit": commit.sha,
                    "Content-Disposition": disposition,
                },
            )
            return
        try:
            info.data.decode()
            content_type = "text/plain; charset=utf-8"
        except UnicodeDecodeError:
            content_type = "application/octet-stream"
        served = ServedFile(
            info.data,
            etag=info.blob_id,
            content_type=content_type,
            headers={"X-Repo-Commit": commit.sha, "Content-Disposition": disposition},
        )
        request.send_file(served, key=f"{repo_id}/{filename}")

    # -- the CDN --------------------------------------------------------------------------------------------------
    def _signature(self, sha256: str, repo_id: str, filename: str, expires: str) -> str:
        message = f"{sha256}\n{repo_id}\n{filename}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def cdn_location(self, repo_id: str, filename: str, sha256: str) -> str:
        """A signed CDN URL for an LFS blob, valid for `cdn_url_ttl_s` (what `/resolve` redirects to)."""
        expires = str(int(time.time() + self.cdn_url_ttl_s))
        query = urlencode(
            {
                "repo": repo_id,
                "file": filename,
                "response-content-disposition": f"inline; filename*=UTF-8''{quote(filename.rsplit('/', 1)[-1])};",
                "Expires": expires,
                "Signature": self._signature(sha256, repo_id, filename, expires),
                "Key-Pair-Id": "FAKEKEYPAIR",
            }
        )
        return f"{self.cdn_url}/lfs/{sha256}?{query}"

    def _cdn_error(self, request: LoopbackHandler, status: int, code: str, message: str) -> None:
        body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
        request.send_simple(status, body, content_type="text/xml")

    def _cdn(self, request: LoopbackHandler) -> None:
        if request.method not in ("GET", "HEAD"):
            self._cdn_error(request, 405, "MethodNotAllowed", "Method not allowed")
            return
        segments = request.url_path.strip("/").split("/")
        params = {k: v[-1] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        if len(segments) != 2 or segments[0] != "lfs":
            self._cdn_error(request, 404, "NoSuchKey", "The specified key does not exist.")
            return
        sha256 = segments[1]
        repo_id, filename, expires = params.get("repo", ""), params.get("file", ""), params.get("Expires", "")
        signature = self._signature(sha256, repo_id, filename, expires)
        if not hmac.compare_digest(signature, params.get("Signature", "")):
            self._cdn_error(request, 403, "AccessDenied", "Access denied")
            return
        if not expires.isdigit() or int(expires) < time.time():
            self._cdn_error(request, 403, "AccessDenied", "Request has expired")
            return
        data = self._lfs_blob(sha256)
        if data is None:
            self._cdn_error(request, 404, "NoSuchKey", "The specified key does not exist.")
            return
        disposition = params.get("response-content-disposition")
        served = ServedFile(
            data,
            etag=sha256,
            last_modified=_EPOCH,
            headers={"Content-Disposition": disposition} if disposition else {},
        )
        request.send_file(served, key=f"{repo_id}/{filename}")

    def _lfs_blob(self, sha256: str) -> bytes | None:
        for repo in list(self.repos.values()):
            for commit in list(repo.commits.values()):
                for info in commit.files.values():
                    if info.lfs and info.sha256 == sha256:
                        return info.data
        return None


def _true(values: list[str] | None) -> bool:
    return bool(values) and values[-1].lower() in ("1", "true", "yes")


__all__ = [
    "DEFAULT_LFS_PATTERNS",
    "FakeCommit",
    "FakeHub",
    "FakeRepo",
    "RepoFileInfo",
    "git_blob_sha1",
    "hub_datetime",
    "lfs_pointer",
]
