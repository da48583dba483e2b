"""The model registry through Envoy: downloads (started, watched as SSE, cancelled), updates, deletes.

SYS-REQ-013 (long-running downloads with progress and cancel, over REST too),
SYS-REQ-012 (storage over REST), INT-REQ-002 (SSE contract of operation watches).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from httpx_sse import aconnect_sse

from pluggably.stack import Stack
from tests.support.fake_hf_hub import FakeHub
from tests.support.file_server import FileServer
from tests.support.tiny_models import CHAT_MODEL_ID, write_tiny_gguf
from tests.system.conftest import base_url

METADATA_TYPE = "type.googleapis.com/pluggably.v1.DownloadModelMetadata"
MODEL_TYPE = "type.googleapis.com/pluggably.v1.Model"


@pytest_asyncio.fixture
async def hub(tiny_models_dir: Path) -> AsyncIterator[FakeHub]:
    folder = tiny_models_dir / CHAT_MODEL_ID
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with FakeHub() as fake:
        fake.add_repo("org/tiny-chat", files)
        yield fake


@pytest_asyncio.fixture
async def stack_and_client(
    stack_factory, hub: FakeHub, tmp_path: Path
) -> AsyncIterator[tuple[Stack, httpx.AsyncClient]]:
    settings = {"models": {"preload": ()}, "downloads": {"hf_endpoint": hub.endpoint}}
    async with (
        stack_factory(models_dir=tmp_path / "models", **settings) as stack,
        httpx.AsyncClient(base_url=base_url(stack), timeout=30) as client,
    ):
        yield stack, client


async def test_sys_req_013_download_over_rest_watched_as_sse(stack_and_client) -> None:
    _, client = stack_and_client
    started = await client.post("/v1/models:download", json={"source": {"huggingFace": {"repoId": "org/tiny-chat"}}})
    assert started.status_code == 200, started.text
    operation = started.json()
    assert operation["name"].startswith("operations/")
    assert operation["metadata"]["@type"] == METADATA_TYPE
    assert operation["metadata"]["model"] == "models/tiny-chat"

    events = []
    async with aconnect_sse(client, "GET", f"/v1/{operation['name']}:watch") as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(event.data) async for event in source.aiter_sse()]
    assert events[-1]["done"] is True
    assert events[-1]["metadata"]["stage"] == "DONE"
    assert events[-1]["response"]["@type"] == MODEL_TYPE
    assert events[-1]["response"]["state"] == "READY"
    assert all(e["metadata"]["@type"] == METADATA_TYPE for e in events)

    fetched = (await client.get(f"/v1/{operation['name']}")).json()
    assert fetched["done"] is True and fetched["response"]["name"] == "models/tiny-chat"
    listed = (await client.get("/v1/operations")).json()
    assert [o["name"] for o in listed["operations"]] == [operation["name"]]
    model = (await client.get("/v1/models/tiny-chat")).json()
    assert model["source"] == {"huggingFace": {"repoId": "org/tiny-chat"}}
    generated = await client.post(
        "/v1/text:generate", json={"model": {"id": "tiny-chat"}, "prompt": "hi", "maxOutputTokens": 3}
    )
    assert generated.json()["usage"]["outputTokens"] == 3

    storage = (await client.get("/v1/storage")).json()
    assert storage["name"] == "storage" and storage["models"][0]["model"] == "models/tiny-chat"
    cleanup = (await client.post("/v1/storage:cleanup", json={"dryRun": True})).json()
    assert cleanup.get("dryRun") is True and not cleanup.get("items")


async def test_sys_req_013_rest_cancel_stops_a_download(stack_and_client, tmp_path: Path) -> None:
    _, client = stack_and_client
    gguf = write_tiny_gguf(tmp_path / "slow.gguf", tensor_elements=500_000).read_bytes()
    with FileServer({"slow.gguf": gguf}, bytes_per_second=100_000) as server:
        started = (
            await client.post("/v1/models:download", json={"source": {"url": server.url_for("slow.gguf")}})
        ).json()
        cancelled = await client.post(f"/v1/{started['name']}:cancel", json={})
        assert cancelled.status_code == 200
    operation = (await client.get(f"/v1/{started['name']}")).json()
    assert operation["done"] is True
    assert operation["error"]["code"] == 1  # CANCELLED
    assert (await client.get("/v1/models/slow")).status_code == 404


async def test_sys_req_010_models_are_updated_deleted_and_rescanned_over_rest(stack_and_client) -> None:
    stack, client = stack_and_client
    await client.post("/v1/models:download", json={"source": {"huggingFace": {"repoId": "org/tiny-chat"}}})
    done = await client.get("/v1/operations")
    name = done.json()["operations"][0]["name"]
    async with aconnect_sse(client, "GET", f"/v1/{name}:watch") as source:
        _ = [event async for event in source.aiter_sse()]

    pinned = await client.patch(
        "/v1/models/tiny-chat", params={"updateMask": "pinned,labels"}, json={"pinned": True, "labels": {"env": "test"}}
    )
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["pinned"] is True and pinned.json()["labels"] == {"env": "test"}
    refused = await client.delete("/v1/models/tiny-chat")
    assert refused.status_code == 400 and refused.json()["details"][0]["reason"] == "FAILED_PRECONDITION"
    await client.patch("/v1/models/tiny-chat", params={"updateMask": "pinned"}, json={"pinned": False})
    deleted = await client.delete("/v1/models/tiny-chat")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert (await client.get("/v1/models/tiny-chat")).status_code == 404
    scanned = await client.post("/v1/models:discover", json={})
    assert scanned.status_code == 200 and "models/tiny-chat" not in scanned.json().get("added", [])
    assert stack.gateway.catalog.find("tiny-chat") is None
