"""The download test servers are faithful: the plain file server (ranges, chunking, throttling, faults, request log)
and the fake Hugging Face Hub, checked with the real `huggingface_hub` client and httpx.

Nothing leaves 127.0.0.1: every test runs under a guard that refuses (and fails the test on) any other address.
"""

from __future__ import annotations

import hashlib
import random
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import huggingface_hub
import pytest
import requests
from huggingface_hub import (
    HfApi,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

from tests.support.fake_hf_hub import FakeHub, FakeRepo, git_blob_sha1, lfs_pointer
from tests.support.file_server import Fault, FileServer, ServedFile, parse_range

TOKEN = "hf_valid_token"
APPROVED = "hf_approved_token"


def blob(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def plain_http(**options: Any) -> httpx.Client:
    """An httpx client for http:// on loopback (no TLS context to build: ~70 ms saved per client)."""
    return httpx.Client(verify=False, **options)


# -- the guard and the client environment ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Records every outgoing connection; anything but 127.0.0.1 is refused and fails the test."""
    connections: list[tuple[str, int]] = []
    outside: list[object] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", b"127.0.0.1"):
            outside.append(host)
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: no lookups beyond loopback ({host!r})")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            if address[0] != "127.0.0.1":
                outside.append(address)
                raise ConnectionRefusedError(f"test guard: no connections beyond loopback ({address!r})")
            connections.append((address[0], int(address[1])))
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield connections
    assert not outside, f"something tried to leave loopback: {outside}"


@pytest.fixture
def hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The real client, online but hermetic: no telemetry, no cached or environment token, no hf_transfer/Xet.

    `huggingface_hub.constants` are read once at import, so they are patched as well as the environment.
    Yields the cache directory to pass as `cache_dir`.
    """
    for name, value in {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_HUB_ENABLE_HF_TRANSFER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_ENABLE_HF_TRANSFER", False)
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(hf_constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-stored-tokens"))
    yield tmp_path / "hf-cache"
    huggingface_hub.utils.reset_sessions()  # pooled connections point at servers that are about to stop


# -- the fake hub's repos -------------------------------------------------------------------------------------------

V1_FILES = {
    "config.json": b'{"model_type": "llama", "hidden_size": 64}\n',
    "tokenizer.json": b'{"version": "1.0", "model": {"type": "BPE"}}\n',
    "model.safetensors": blob(1, 200_000),
    "onnx/model.onnx": blob(2, 50_000),
}
V2_CHANGES = {"config.json": b'{"model_type": "llama", "hidden_size": 128}\n', "model.safetensors": blob(3, 250_000)}


@pytest.fixture
def hub(hf_env: Path) -> Iterator[FakeHub]:
    with FakeHub(tokens={TOKEN}) as fake:
        repo = fake.add_repo(
            "acme/tiny-llm",
            V1_FILES,
            tags=["transformers", "safetensors", "llama"],
            pipeline_tag="text-generation",
            library_name="transformers",
        )
        repo.tag("v1.0", "main")
        repo.commit(V2_CHANGES, title="Bigger model")
        repo.branch("dev/next", "v1.0")
        fake.add_repo("acme/secret", {"config.json": b"{}", "weights.bin": blob(4, 30_000)}, private=True)
        fake.add_repo(
            "acme/gated",
            {"config.json": b'{"gated": true}', "model.gguf": blob(5, 40_000)},
            gated="manual",
            tokens=frozenset({APPROVED}),
        )
        yield fake
        assert not fake.errors, fake.errors[0]


@pytest.fixture
def tiny(hub: FakeHub) -> FakeRepo:
    return hub.repos["acme/tiny-llm"]


def assert_only_the_fake(hub: FakeHub, connections: list[tuple[str, int]]) -> None:
    ports = {int(hub.endpoint.rsplit(":", 1)[1]), int(hub.cdn_url.rsplit(":", 1)[1])}
    assert connections, "the client made no connection at all"
    assert {port for _, port in connections} <= ports, connections
    assert all("telemetry" not in record.path for record in hub.requests)


# -- the fake hub, through the real client --------------------------------------------------------------------------


def test_model_info_with_files_metadata(hub: FakeHub, tiny: FakeRepo, loopback_only: list[tuple[str, int]]) -> None:
    api = HfApi(endpoint=hub.endpoint, token=False)
    info = api.model_info("acme/tiny-llm", files_metadata=True)

    assert info.id == "acme/tiny-llm"
    assert info.sha == tiny.head and len(info.sha) == 40
    assert info.private is False
    assert info.pipeline_tag == "text-generation"
    assert info.library_name == "transformers"
    assert info.tags == ["transformers", "safetensors", "llama"]
    assert info.last_modified is not None and info.last_modified.tzinfo is not None
    files = {**V1_FILES, **V2_CHANGES}
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert set(siblings) == set(files)
    for name, data in files.items():
        assert siblings[name].size == len(data)
    weights = siblings["model.safetensors"]
    assert weights.lfs is not None
    assert weights.lfs.sha256 == hashlib.sha256(V2_CHANGES["model.safetensors"]).hexdigest()
    assert weights.lfs.size == 250_000
    assert weights.lfs.pointer_size == len(lfs_pointer(V2_CHANGES["model.safetensors"]))
    assert weights.blob_id == git_blob_sha1(lfs_pointer(V2_CHANGES["model.safetensors"]))
    assert siblings["onnx/model.onnx"].lfs is not None
    assert siblings["config.json"].lfs is None
    assert siblings["config.json"].blob_id == git_blob_sha1(V2_CHANGES["config.json"])

    # Revisions: a tag, a branch with a slash (percent-encoded by the client), a commit sha.
    v1 = tiny.resolve("v1.0")
    assert v1 is not None and v1 != tiny.head
    for revision in ("v1.0", "dev/next", v1):
        old = api.model_info("acme/tiny-llm", revision=revision, files_metadata=True)
        assert old.sha == v1
        assert {s.rfilename: s.size for s in old.siblings or []} == {n: len(d) for n, d in V1_FILES.items()}

    assert api.model_info("acme/tiny-llm").siblings[0].size is None  # type: ignore[index]  # no blobs: names only
    assert api.repo_info("acme/tiny-llm", expand=["sha"]).sha == tiny.head

    requests_seen = [(r.method, r.path, r.query_params) for r in hub.requests]
    assert requests_seen[0] == ("GET", "/api/models/acme/tiny-llm", {"blobs": ["True"]})
    assert ("GET", "/api/models/acme/tiny-llm/revision/dev%2Fnext", {"blobs": ["True"]}) in requests_seen
    assert_only_the_fake(hub, loopback_only)


def test_file_metadata_for_regular_and_lfs_files(
    hub: FakeHub, tiny: FakeRepo, loopback_only: list[tuple[str, int]]
) -> None:
    config_url = hf_hub_url("acme/tiny-llm", "config.json", endpoint=hub.endpoint)
    config = get_hf_file_metadata(config_url, token=False)
    assert config.commit_hash == tiny.head
    assert (
        config.etag
        == hashlib.sha1(b"blob %d\0" % len(V2_CHANGES["config.json"]) + V2_CHANGES["config.json"]).hexdigest()
    )
    assert config.size == len(V2_CHANGES["config.json"])
    assert config.location == config_url

    weights_url = hf_hub_url("acme/tiny-llm", "model.safetensors", revision="v1.0", endpoint=hub.endpoint)
    weights = get_hf_file_metadata(weights_url, token=False)
    assert weights.commit_hash == tiny.resolve("v1.0")
    assert weights.etag == hashlib.sha256(V1_FILES["model.safetensors"]).hexdigest()  # X-Linked-Etag, not ETag
    assert weights.size == 200_000  # X-Linked-Size, not the redirect's Content-Length
    assert weights.location.startswith(hub.cdn_url + "/lfs/")  # the CDN redirect is not followed for metadata

    # The CDN location serves the bytes (the client follows it for downloads).
    assert requests.get(weights.location, timeout=5).content == V1_FILES["model.safetensors"]

    heads = [(r.listener, r.method, r.status) for r in hub.requests]
    assert heads == [("hub", "HEAD", 200), ("hub", "HEAD", 302), ("cdn", "GET", 200)]
    assert_only_the_fake(hub, loopback_only)


def test_hf_hub_download_and_snapshot_download_are_byte_identical(
    hub: FakeHub, tiny: FakeRepo, hf_env: Path, tmp_path: Path, loopback_only: list[tuple[str, int]]
) -> None:
    for name in ("config.json", "model.safetensors", "onnx/model.onnx"):
        path = hf_hub_download("acme/tiny-llm", name, endpoint=hub.endpoint, cache_dir=hf_env, token=False)
        assert Path(path).read_bytes() == tiny.files()[name]
        old = hf_hub_download(
            "acme/tiny-llm", name, revision="v1.0", endpoint=hub.endpoint, cache_dir=hf_env, token=False
        )
        assert Path(old).read_bytes() == V1_FILES[name]

    for revision, expected in (("main", tiny.files()), ("v1.0", V1_FILES)):
        local = Path(
            snapshot_download(
                "acme/tiny-llm",
                revision=revision,
                endpoint=hub.endpoint,
                cache_dir=tmp_path / f"snapshot-cache-{revision}",
                token=False,
            )
        )
        assert local.name == tiny.resolve(revision)
        got = {p.relative_to(local).as_posix(): p.read_bytes() for p in local.rglob("*") if p.is_file()}
        assert got == expected

    into_dir = Path(snapshot_download("acme/tiny-llm", endpoint=hub.endpoint, local_dir=tmp_path / "flat", token=False))
    assert (into_dir / "onnx" / "model.onnx").read_bytes() == V1_FILES["onnx/model.onnx"]
    assert_only_the_fake(hub, loopback_only)


def test_private_repo_needs_a_token(hub: FakeHub, hf_env: Path, loopback_only: list[tuple[str, int]]) -> None:
    anonymous = HfApi(endpoint=hub.endpoint, token=False)
    with pytest.raises(RepositoryNotFoundError) as no_token:
        anonymous.model_info("acme/secret")
    assert no_token.value.response is not None and no_token.value.response.status_code == 401
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("acme/secret", "weights.bin", endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    with pytest.raises(RepositoryNotFoundError):
        get_hf_file_metadata(hf_hub_url("acme/secret", "config.json", endpoint=hub.endpoint), token=False)
    assert anonymous.repo_exists("acme/secret") is False

    # An unknown repo looks the same as a private one without a token; with a valid token it is a 404.
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info("acme/nope")
    with pytest.raises(RepositoryNotFoundError) as with_token:
        HfApi(endpoint=hub.endpoint, token=TOKEN).model_info("acme/nope")
    assert with_token.value.response is not None and with_token.value.response.status_code == 404

    # An invalid token is refused as such (HfHubHTTPError 401, not RepositoryNotFoundError), even on a public repo.
    with pytest.raises(HfHubHTTPError) as bad:
        HfApi(endpoint=hub.endpoint, token="hf_wrong").model_info("acme/tiny-llm")
    assert not isinstance(bad.value, RepositoryNotFoundError)
    assert bad.value.response is not None and bad.value.response.status_code == 401
    assert "Invalid credentials in Authorization header" in str(bad.value)

    info = HfApi(endpoint=hub.endpoint, token=TOKEN).model_info("acme/secret", files_metadata=True)
    assert info.private is True
    path = hf_hub_download("acme/secret", "weights.bin", endpoint=hub.endpoint, cache_dir=hf_env, token=TOKEN)
    assert Path(path).read_bytes() == blob(4, 30_000)

    # The hub got the token; the CDN (another origin, as on the real hub) did not.
    hub_gets = [r for r in hub.requests if r.listener == "hub" and r.status == 302]
    cdn_gets = [r for r in hub.requests if r.listener == "cdn"]
    assert hub_gets and all(r.authorization == f"Bearer {TOKEN}" for r in hub_gets)
    assert cdn_gets and all(r.authorization is None for r in cdn_gets)
    assert_only_the_fake(hub, loopback_only)


def test_gated_repo(hub: FakeHub, hf_env: Path) -> None:
    info = HfApi(endpoint=hub.endpoint, token=False).model_info("acme/gated")
    assert info.gated == "manual"
    with pytest.raises(GatedRepoError) as anonymous:
        hf_hub_download("acme/gated", "model.gguf", endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    assert anonymous.value.response is not None and anonymous.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as not_approved:
        get_hf_file_metadata(hf_hub_url("acme/gated", "model.gguf", endpoint=hub.endpoint), token=TOKEN)
    assert not_approved.value.response is not None and not_approved.value.response.status_code == 403
    path = hf_hub_download("acme/gated", "model.gguf", endpoint=hub.endpoint, cache_dir=hf_env, token=APPROVED)
    assert Path(path).read_bytes() == blob(5, 40_000)


def test_unknown_revision_and_missing_file(hub: FakeHub, hf_env: Path) -> None:
    api = HfApi(endpoint=hub.endpoint, token=False)
    with pytest.raises(RevisionNotFoundError):
        api.model_info("acme/tiny-llm", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        api.model_info("acme/tiny-llm", revision="0" * 40)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(
            "acme/tiny-llm", "config.json", revision="no-such-branch", endpoint=hub.endpoint, cache_dir=hf_env
        )
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("acme/tiny-llm", "nope.bin", endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    assert api.revision_exists("acme/tiny-llm", "v1.0") is True
    assert api.revision_exists("acme/tiny-llm", "v9") is False
    assert api.file_exists("acme/tiny-llm", "onnx/model.onnx") is True
    assert api.file_exists("acme/tiny-llm", "onnx/other.onnx") is False
    missing = next(r for r in hub.requests if r.path.endswith("/nope.bin"))
    assert missing.status == 404


def test_tree_paths_info_and_refs(tiny: FakeRepo, hf_env: Path) -> None:
    with FakeHub([tiny], tree_page_size=2) as hub:
        api = HfApi(endpoint=hub.endpoint, token=False)
        assert sorted(api.list_repo_files("acme/tiny-llm")) == sorted(tiny.files())
        tree_pages = [r for r in hub.requests if "/tree/" in r.path]
        assert len(tree_pages) == 3  # 5 entries (4 files and the onnx folder), 2 a page, followed by Link headers
        assert [r.query_params.get("cursor") for r in tree_pages] == [None, ["2"], ["4"]]

        top = list(api.list_repo_tree("acme/tiny-llm", revision="v1.0"))
        assert {(type(e).__name__, e.path) for e in top} == {
            ("RepoFile", "config.json"),
            ("RepoFile", "model.safetensors"),
            ("RepoFile", "tokenizer.json"),
            ("RepoFolder", "onnx"),
        }
        infos = api.get_paths_info(
            "acme/tiny-llm", ["model.safetensors", "onnx", "missing.txt"], revision="v1.0", expand=True
        )
        assert [type(e) for e in infos] == [RepoFile, RepoFolder]
        weights = infos[0]
        assert isinstance(weights, RepoFile) and weights.lfs is not None
        assert (
            weights.size == 200_000 and weights.lfs.sha256 == hashlib.sha256(V1_FILES["model.safetensors"]).hexdigest()
        )
        assert weights.last_commit is not None and weights.last_commit.oid == tiny.resolve("v1.0")
        # On main, config.json last changed in the second commit; tokenizer.json in the first.
        latest = {
            e.path: e for e in api.get_paths_info("acme/tiny-llm", ["config.json", "tokenizer.json"], expand=True)
        }
        assert latest["config.json"].last_commit.oid == tiny.head  # type: ignore[union-attr]
        assert latest["tokenizer.json"].last_commit.oid == tiny.resolve("v1.0")  # type: ignore[union-attr]

        refs = api.list_repo_refs("acme/tiny-llm")
        assert {b.name: b.target_commit for b in refs.branches} == {"main": tiny.head, "dev/next": tiny.resolve("v1.0")}
        assert [(t.name, t.ref, t.target_commit) for t in refs.tags] == [
            ("v1.0", "refs/tags/v1.0", tiny.resolve("v1.0"))
        ]


def test_hub_ranges_with_httpx(hub: FakeHub, tiny: FakeRepo) -> None:
    with plain_http(base_url=hub.endpoint) as client:
        head = client.head("/acme/tiny-llm/resolve/main/model.safetensors")
        assert head.status_code == 302
        assert head.headers["X-Linked-Size"] == "250000"
        assert head.headers["X-Linked-Etag"] == f'"{hashlib.sha256(V2_CHANGES["model.safetensors"]).hexdigest()}"'
        assert head.headers["X-Repo-Commit"] == tiny.head
        assert head.headers["ETag"] == f'"{tiny.file_info("model.safetensors").blob_id}"'
        location = head.headers["Location"]

        part = client.get(location, headers={"Range": "bytes=100000-"})
        assert part.status_code == 206
        assert part.headers["Content-Range"] == "bytes 100000-249999/250000"
        assert part.content == V2_CHANGES["model.safetensors"][100_000:]

        followed = client.get(
            "/acme/tiny-llm/resolve/main/model.safetensors", headers={"Range": "bytes=10-19"}, follow_redirects=True
        )
        assert followed.status_code == 206 and followed.content == V2_CHANGES["model.safetensors"][10:20]

        config = client.get("/acme/tiny-llm/resolve/main/config.json", headers={"Range": "bytes=2-11"})
        assert config.status_code == 206
        assert config.content == V2_CHANGES["config.json"][2:12]
        assert config.headers["Content-Range"] == f"bytes 2-11/{len(V2_CHANGES['config.json'])}"
        assert config.headers["ETag"] == f'"{git_blob_sha1(V2_CHANGES["config.json"])}"'

        assert client.get(location.replace("Signature=", "Signature=0")).status_code == 403
    hub.cdn_url_ttl_s = -1
    with plain_http() as client:
        expired = client.head(f"{hub.endpoint}/acme/tiny-llm/resolve/main/model.safetensors").headers["Location"]
        refused = client.get(expired)
    assert refused.status_code == 403 and b"Request has expired" in refused.content
    assert [r.range for r in hub.requests if r.listener == "cdn"][:2] == ["bytes=100000-", "bytes=10-19"]


def test_client_resumes_after_a_dropped_connection(
    hub: FakeHub, tiny: FakeRepo, hf_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client writes to its .incomplete file every DOWNLOAD_CHUNK_SIZE bytes (10 MiB): shrink it so that part
    # of the body is on disk when the connection drops.
    monkeypatch.setattr(hf_constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)
    key = "acme/tiny-llm/model.safetensors"
    hub.set_fault(key, Fault(drop_after=100_000, times=1))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        hf_hub_download("acme/tiny-llm", "model.safetensors", endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    assert hub.fault_hits(key) == 1
    path = hf_hub_download("acme/tiny-llm", "model.safetensors", endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    assert Path(path).read_bytes() == V2_CHANGES["model.safetensors"]

    first, second = [r for r in hub.requests if r.listener == "cdn"]
    assert (first.status, first.outcome, first.body_bytes_sent, first.range) == (200, "dropped", 100_000, None)
    assert second.status == 206 and second.outcome == "complete" and second.range is not None
    resumed_at = int(second.range.removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= 100_000 and second.body_bytes_sent == 250_000 - resumed_at


def test_hub_throttle_and_api_fault(hub: FakeHub, hf_env: Path) -> None:
    hub.set_throttle("acme/tiny-llm/onnx/model.onnx", 250_000)  # 50 kB: at least 0.2 s
    started = time.monotonic()
    hf_hub_download("acme/tiny-llm", "onnx/model.onnx", endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    assert time.monotonic() - started >= 0.2

    hub.set_fault("acme/tiny-llm", Fault(status=500, times=1))
    api = HfApi(endpoint=hub.endpoint, token=False)
    with pytest.raises(HfHubHTTPError) as failed:
        api.model_info("acme/tiny-llm")
    assert failed.value.response is not None and failed.value.response.status_code == 500
    assert api.model_info("acme/tiny-llm").sha == hub.repos["acme/tiny-llm"].head


# -- the plain file server ------------------------------------------------------------------------------------------

DATA = blob(10, 100_000)


@pytest.fixture
def files() -> Iterator[FileServer]:
    modified = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    with FileServer(
        {
            "models/a.bin": ServedFile(DATA, last_modified=modified),
            "stream.bin": ServedFile(DATA, content_length=False),
            "no-ranges.bin": ServedFile(DATA, accept_ranges=False),
            "empty": b"",
        }
    ) as server:
        yield server
        assert not server.errors, server.errors[0]


def test_get_head_and_keep_alive(files: FileServer) -> None:
    url = files.url_for("models/a.bin")
    with plain_http() as client:
        got = client.get(url)
        head = client.head(url)
        assert client.get(files.url_for("nope")).status_code == 404
        assert client.post(url).status_code == 405
    assert got.status_code == 200 and got.content == DATA
    for response in (got, head):
        assert response.headers["Content-Length"] == str(len(DATA))
        assert response.headers["Accept-Ranges"] == "bytes"
        assert response.headers["ETag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
        assert response.headers["Last-Modified"] == "Tue, 04 Mar 2025 05:06:07 GMT"
    assert head.content == b""
    records = files.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/models/a.bin", 200),
        ("HEAD", "/models/a.bin", 200),
        ("GET", "/nope", 404),
        ("POST", "/models/a.bin", 405),
    ]
    assert len({r.client_port for r in records}) == 1  # one kept-alive connection


def test_ranges(files: FileServer) -> None:
    url = files.url_for("models/a.bin")
    etag = f'"{hashlib.sha256(DATA).hexdigest()}"'
    with plain_http() as client:

        def get(range_header: str, **headers: str) -> httpx.Response:
            return client.get(url, headers={"Range": range_header, **headers})

        tail = get("bytes=60000-")
        assert (tail.status_code, tail.headers["Content-Range"], tail.content) == (
            206,
            "bytes 60000-99999/100000",
            DATA[60_000:],
        )
        middle = get("bytes=10-19")
        assert (middle.status_code, middle.content, middle.headers["Content-Length"]) == (206, DATA[10:20], "10")
        assert get("bytes=99990-200000").content == DATA[99_990:]  # the end is clamped
        assert get("bytes=-5").content == DATA[-5:]
        for unsatisfiable in ("bytes=100000-", "bytes=200000-300000", "bytes=20-10"):
            refused = get(unsatisfiable)
            assert refused.status_code == 416 and refused.headers["Content-Range"] == "bytes */100000"
        assert get("bytes=0-", **{"If-Range": etag}).status_code == 206
        changed = get("bytes=50-", **{"If-Range": '"another-etag"'})
        assert changed.status_code == 200 and changed.content == DATA
        assert get("bytes=50-", **{"If-Range": "Tue, 04 Mar 2025 05:06:07 GMT"}).status_code == 206
        assert get("lines=1-2").status_code == 200  # malformed: ignored, as RFC 9110 allows
        assert get("bytes=0-1,5-6").status_code == 200  # multi-range: not supported, ignored
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        no_ranges = client.get(files.url_for("no-ranges.bin"), headers={"Range": "bytes=10-"})
        assert no_ranges.status_code == 200 and "Accept-Ranges" not in no_ranges.headers
        assert client.get(files.url_for("empty"), headers={"Range": "bytes=0-"}).status_code == 416
    assert files.requests[0].range == "bytes=60000-"
    assert parse_range("bytes=5-", 10) == (5, 9) and parse_range("bytes=x-", 10) is None


def test_file_without_content_length_is_chunked(files: FileServer) -> None:
    url = files.url_for("stream.bin")
    with plain_http() as client:
        got = client.get(url, headers={"Range": "bytes=10-"})
        head = client.head(url)
        again = client.get(url)  # the chunked body ended cleanly: the connection is reused
    for response in (got, head):
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.headers and "Accept-Ranges" not in response.headers
    assert got.status_code == 200 and got.content == DATA  # no ranges without a known size
    assert again.content == DATA
    assert len({r.client_port for r in files.requests}) == 1


def test_throttle_sets_a_minimum_duration_and_a_download_can_be_cancelled(files: FileServer) -> None:
    files.set_throttle("models/a.bin", 400_000)  # 100 kB: at least 0.25 s
    started = time.monotonic()
    with plain_http() as client:
        assert client.get(files.url_for("models/a.bin")).content == DATA
    assert time.monotonic() - started >= 0.25

    files.bytes_per_second = 50_000  # every file now: 2 s for 100 kB
    with plain_http() as client, client.stream("GET", files.url_for("stream.bin")) as response:
        first = next(response.iter_bytes())
        assert first and DATA.startswith(first)
    record = files.requests_to("/stream.bin")[-1]
    deadline = time.monotonic() + 3
    while record.outcome == "pending" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert record.outcome == "client_gone"
    assert 0 < record.body_bytes_sent < len(DATA)


def test_faults_drop_corrupt_status(files: FileServer) -> None:
    url = files.url_for("models/a.bin")
    files.set_fault("models/a.bin", Fault(drop_after=30_000, times=1))
    with plain_http() as client:
        with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", url) as response:
            received = bytearray()
            for chunk in response.iter_bytes():
                received += chunk
        assert bytes(received) == DATA[:30_000]
        # Resume from what arrived, as a downloader would: the log shows the Range it sent.
        rest = client.get(url, headers={"Range": f"bytes={len(received)}-"})
        assert rest.status_code == 206 and bytes(received) + rest.content == DATA

        files.set_fault("models/a.bin", Fault(corrupt=True))
        corrupted = client.get(url)
        assert corrupted.status_code == 200 and len(corrupted.content) == len(DATA)
        assert corrupted.headers["ETag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
        assert hashlib.sha256(corrupted.content).hexdigest() != hashlib.sha256(DATA).hexdigest()
        assert client.head(url).status_code == 200  # body faults leave HEAD alone

        files.set_fault("models/a.bin", Fault(status=503, times=2, methods=frozenset({"GET", "HEAD"})))
        assert [client.head(url).status_code, client.get(url).status_code, client.get(url).status_code] == [
            503,
            503,
            200,
        ]
        files.set_fault("models/a.bin", None)
    dropped, resumed = files.requests[:2]
    assert (dropped.outcome, dropped.body_bytes_sent) == ("dropped", 30_000)
    assert resumed.range == "bytes=30000-" and resumed.status == 206


def test_stall_fault_trips_a_read_timeout(files: FileServer) -> None:
    files.set_fault("models/a.bin", Fault(stall_after=1000, stall_s=5))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout), plain_http(timeout=httpx.Timeout(5, read=0.2)) as client:
        client.get(files.url_for("models/a.bin"))
    assert time.monotonic() - started < 2
    # stop() below (the fixture) ends the stall at once: no 5 s wait.


def test_directory_token_and_authorization_log(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.bin").write_bytes(b"weights")
    (tmp_path.parent / "outside.txt").write_bytes(b"secret")
    with FileServer({"sub/w.bin": b"from the dict"}, directory=tmp_path, token="s3cret") as server:
        (tmp_path / "x.txt").write_bytes(b"x")
        auth = {"Authorization": "Bearer s3cret"}
        with plain_http(base_url=server.base_url, headers=auth) as client:
            assert client.get("/sub/w.bin").content == b"from the dict"
            assert client.get("/x.txt").content == b"x"
            assert "Last-Modified" in client.head("/x.txt").headers
            assert client.get("/../outside.txt").status_code == 404
            assert client.get("/%2E%2E/outside.txt").status_code == 404
        with plain_http() as anonymous:
            assert anonymous.get(f"{server.base_url}/x.txt").status_code == 401
        assert [r.authorization for r in server.requests] == ["Bearer s3cret"] * 5 + [None]


def test_stop_is_prompt_with_idle_and_busy_connections() -> None:
    server = FileServer({"big.bin": DATA}, bytes_per_second=10_000).start()  # 10 s for the whole file
    idle = plain_http()
    busy = plain_http()
    try:
        assert idle.head(server.url_for("big.bin")).status_code == 200  # leaves a kept-alive connection
        with busy.stream("GET", server.url_for("big.bin")) as response:
            chunks = response.iter_bytes()
            next(chunks)
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 1.0
            with pytest.raises(httpx.RemoteProtocolError):
                for _ in chunks:
                    pass
        assert server.requests[-1].outcome == "stopped"
    finally:
        idle.close()
        busy.close()
        server.stop()
