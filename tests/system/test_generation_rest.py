"""Images, meshes and artifacts through Envoy, as a REST caller sees them: JSON, SSE, TLS and signed download URLs.

SYS-REQ-001 / SYS-REQ-004 (versioned REST endpoints for image and 3D generation), SYS-REQ-016 (artifacts behind
signed, expiring URLs), SYS-REQ-013 (operations watched as Server-Sent Events), SYS-NFR-008 (TLS), SYS-NFR-002 (the
same JSON error everywhere).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import shutil
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import grpc
import httpx
import pytest
import pytest_asyncio
import trimesh
from grpc_health.v1 import health_pb2, health_pb2_grpc
from httpx_sse import aconnect_sse
from PIL import Image

from pluggably.stack import Stack
from tests.conftest import FAST_MESHES, StackFactory
from tests.support.status import from_json
from tests.support.tiny_pipelines import TINY_SD, TINY_SHAP_E, TINY_SHAP_E_IMG2IMG
from tests.support.waiting import wait_for_answer
from tests.system.conftest import base_url, wait_for_status

URL_TTL_S = 4  # short, for the expiry test; whole seconds, so a URL works for at least 3 s


@pytest_asyncio.fixture(scope="module")
async def stack(stack_factory: StackFactory, all_models_dir: Path) -> AsyncIterator[Stack]:
    async with stack_factory(
        models_dir=all_models_dir, generation=FAST_MESHES, artifacts={"url_ttl_s": URL_TTL_S}
    ) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def rest(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url(stack), timeout=60) as client:
        await wait_for_status(client, "/healthz", 200)
        yield client


@pytest_asyncio.fixture(scope="module")
async def tls(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client that trusts the development certificate, for the absolute https download URLs."""
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=stack.tls.cert_file), timeout=60) as client:
        yield client


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    query = {k: v for k, v in query.items() if v is not None}
    return parts._replace(query=urlencode(query)).geturl()


def flip_first(signature: str) -> str:
    """The signature with its first character changed (to another of the base64url alphabet)."""
    return ("B" if signature[0] == "A" else "A") + signature[1:]


async def generate_images(rest: httpx.AsyncClient, **body: object) -> dict:
    response = await rest.post("/v1/images:generate", json={"prompt": "a red chair", "steps": 2, **body})
    assert response.status_code == 200, response.text
    return response.json()


async def test_sys_req_016_images_download_from_their_signed_https_urls(rest, tls) -> None:
    body = await generate_images(rest, width=96, height=64, imageCount=2, seed=3)
    assert body["usage"] == {"images": 2}
    assert body["servedBy"]["model"] == f"models/{TINY_SD}"
    for artifact in body["images"]:
        assert artifact["downloadUri"].startswith("https://localhost:")
        download = await tls.get(artifact["downloadUri"])
        assert download.status_code == 200, download.text
        headers = download.headers
        assert headers["content-type"] == "image/png"
        assert int(headers["content-length"]) == len(download.content) == int(artifact["sizeBytes"])
        assert headers["etag"] == f'"{artifact["sha256"]}"' == f'"{hashlib.sha256(download.content).hexdigest()}"'
        file_name = artifact["name"].removeprefix("artifacts/") + ".png"
        assert headers["content-disposition"] == f'attachment; filename="{file_name}"'
        image = Image.open(io.BytesIO(download.content))
        assert (image.format, image.size) == ("PNG", (96, 64))


async def test_a_range_request_gets_206_and_the_bytes_asked_for(rest, tls) -> None:
    (artifact,) = (await generate_images(rest, seed=4))["images"]
    whole = (await tls.get(artifact["downloadUri"])).content
    part = await tls.get(artifact["downloadUri"], headers={"range": "bytes=8-23"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 8-23/{len(whole)}"
    assert part.content == whole[8:24] and part.headers["content-length"] == "16"
    tail = await tls.get(artifact["downloadUri"], headers={"range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole[-10:]
    outside = await tls.get(artifact["downloadUri"], headers={"range": f"bytes={len(whole)}-"})
    assert outside.status_code == 400
    assert from_json(outside.json()).reason == "RANGE_NOT_SATISFIABLE"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda url, other: with_query(url, signature=None), "SIGNATURE_INVALID"),
        (lambda url, other: with_query(url, expireTime=None, signature=None), "SIGNATURE_INVALID"),
        (lambda url, other: with_query(url, signature=flip_first(parse_qs(urlsplit(url).query)["signature"][0])), None),
        (lambda url, other: with_query(url, expireTime="2099-01-01T00:00:00Z"), "SIGNATURE_INVALID"),
        # Another artifact's genuine signature and expiry on this artifact's path.
        (lambda url, other: urlsplit(url)._replace(query=urlsplit(other).query).geturl(), "SIGNATURE_INVALID"),
    ],
    ids=["unsigned", "no-expiry-no-signature", "tampered-signature", "extended-expiry", "other-artifacts-signature"],
)
async def test_sys_req_016_tampered_and_unsigned_urls_are_refused(rest, tls, tamper, reason) -> None:
    first, second = (await generate_images(rest, imageCount=2, seed=5))["images"]
    refused = await tls.get(tamper(first["downloadUri"], second["downloadUri"]))
    assert refused.status_code == 403
    status = from_json(refused.json())
    assert (status.code, status.reason) == (7, reason or "SIGNATURE_INVALID")
    assert first["name"] not in refused.text  # says nothing about the artifact


async def test_sys_req_016_an_unknown_artifact_looks_like_a_tampered_one(rest, tls) -> None:
    (artifact,) = (await generate_images(rest, seed=6))["images"]
    unknown = artifact["downloadUri"].replace(artifact["name"].removeprefix("artifacts/"), "0" * 28)
    refused = await tls.get(unknown)
    assert refused.status_code == 403 and from_json(refused.json()).reason == "SIGNATURE_INVALID"


async def test_sys_req_016_an_expired_url_is_refused_and_get_artifact_signs_a_new_one(rest, tls) -> None:
    (artifact,) = (await generate_images(rest, seed=7))["images"]
    await asyncio.sleep(URL_TTL_S + 1)
    expired = await tls.get(artifact["downloadUri"])
    assert expired.status_code == 403 and from_json(expired.json()).reason == "URL_EXPIRED"
    fresh = (await rest.get(f"/v1/{artifact['name']}")).json()
    assert fresh["downloadUri"] != artifact["downloadUri"]
    assert (await tls.get(fresh["downloadUri"])).status_code == 200


async def test_artifacts_are_listed_newest_first_and_deleted(rest, tls) -> None:
    older, artifact = (await generate_images(rest, seed=8, imageCount=2))["images"]
    listed = (await rest.get("/v1/artifacts", params={"pageSize": 1})).json()
    assert [a["name"] for a in listed["artifacts"]] == [artifact["name"]] and listed["nextPageToken"]
    after = (await rest.get("/v1/artifacts", params={"pageSize": 1, "pageToken": listed["nextPageToken"]})).json()
    assert [a["name"] for a in after["artifacts"]] == [older["name"]]
    by_model = (await rest.get("/v1/artifacts", params={"filter": f'model = "models/{TINY_SD}"'})).json()
    assert artifact["name"] in {a["name"] for a in by_model["artifacts"]}
    assert (await rest.delete(f"/v1/{artifact['name']}")).status_code == 200
    gone = await rest.get(f"/v1/{artifact['name']}")
    assert gone.status_code == 404 and from_json(gone.json()).reason == "NOT_FOUND"
    download = await tls.get(artifact["downloadUri"])
    assert download.status_code == 404  # a genuine URL may learn that its artifact is gone


async def test_sys_req_013_images_as_an_operation_over_rest(rest) -> None:
    started = await rest.post("/v1/images:generateLongRunning", json={"prompt": "a lamp", "steps": 3})
    assert started.status_code == 200, started.text
    operation = started.json()
    assert operation["metadata"]["@type"] == "type.googleapis.com/pluggably.v1.GenerateImagesMetadata"
    async with aconnect_sse(rest, "GET", f"/v1/{operation['name']}:watch") as source:
        events = [json.loads(event.data) async for event in source.aiter_sse()]
    assert events[-1]["done"] is True
    assert events[-1]["response"]["@type"] == "type.googleapis.com/pluggably.v1.GenerateImagesResponse"
    stages = [e["metadata"].get("stage") for e in events]
    assert "GENERATION_STAGE_DENOISING" in stages and stages[-1] == "GENERATION_STAGE_DONE"


async def test_sys_req_004_a_mesh_operation_over_rest_ends_with_a_glb(rest, tls) -> None:
    started = await rest.post("/v1/meshes:generate", json={"prompt": "a ball", "steps": 3, "seed": 1})
    assert started.status_code == 200, started.text
    name = started.json()["name"]
    async with aconnect_sse(rest, "GET", f"/v1/{name}:watch") as source:
        events = [json.loads(event.data) async for event in source.aiter_sse()]
    done = events[-1]
    assert done["done"] is True and "error" not in done, done
    assert any(e["metadata"].get("stage") == "GENERATION_STAGE_DECODING" for e in events)
    response = done["response"]
    assert response["servedBy"]["model"] == f"models/{TINY_SHAP_E}" and response["usage"] == {"meshes": 1}
    download = await tls.get(response["mesh"]["downloadUri"])
    assert download.headers["content-type"] == "model/gltf-binary"
    mesh = trimesh.load(io.BytesIO(download.content), file_type="glb", force="mesh", process=False)
    assert len(mesh.vertices) == int(response["vertexCount"]) and len(mesh.faces) == int(response["faceCount"])


async def test_a_mesh_operation_is_cancelled_over_rest(rest) -> None:
    started = await rest.post("/v1/meshes:generate", json={"prompt": "a slow ball", "steps": 150})
    name = started.json()["name"]
    async with aconnect_sse(rest, "GET", f"/v1/{name}:watch") as source:
        async for event in source.aiter_sse():
            if json.loads(event.data)["metadata"].get("stage") == "GENERATION_STAGE_DENOISING":
                break
    assert (await rest.post(f"/v1/{name}:cancel", json={})).status_code == 200
    done = (await rest.get(f"/v1/{name}")).json()
    assert done["done"] is True and done["error"]["code"] == 1  # CANCELLED: the cancel returns once it has stopped


async def test_pulling_a_diffusers_folder_turns_image_generation_on(
    stack_factory: StackFactory, tiny_models_dir: Path, tiny_pipelines_dir: Path, tmp_path: Path
) -> None:
    """Issue 4's path for a user: the gateway starts with text models only; `models pull` of a diffusers folder
    registers it, the image service turns SERVING, and images:generate works."""
    models_dir = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models_dir)
    async with (
        stack_factory(models_dir=models_dir) as text_only,
        httpx.AsyncClient(base_url=base_url(text_only), timeout=60) as client,
        grpc.aio.insecure_channel(f"127.0.0.1:{text_only.gateway.port}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        images_health = health_pb2.HealthCheckRequest(service="pluggably.v1.ImageService")
        assert (await health.Check(images_health)).status == health_pb2.HealthCheckResponse.NOT_SERVING
        refused = await client.post("/v1/images:generate", json={"prompt": "a cat"})
        assert from_json(refused.json()).reason == "NO_MODEL_FOR_MODALITY"

        source = {"localPath": str(tiny_pipelines_dir / TINY_SD)}
        started = (await client.post("/v1/models:download", json={"source": source, "modelId": "my-sd"})).json()
        async with aconnect_sse(client, "GET", f"/v1/{started['name']}:watch") as events:
            done = [json.loads(event.data) async for event in events.aiter_sse()][-1]
        assert done["done"] is True and done["response"]["modality"] == "MODALITY_IMAGE", done

        await wait_for_answer(
            lambda: health.Check(images_health), lambda answer: answer.status == health_pb2.HealthCheckResponse.SERVING
        )
        response = await client.post("/v1/images:generate", json={"prompt": "a cat", "steps": 2})
        assert response.status_code == 200, response.text
        assert response.json()["servedBy"]["model"] == "models/my-sd"


async def test_image_to_3d_over_rest_takes_the_image_as_base64(rest, tls) -> None:
    png = io.BytesIO()
    Image.new("RGB", (40, 40), (20, 120, 220)).save(png, format="PNG")
    body = {"model": {"id": TINY_SHAP_E_IMG2IMG}, "image": {"data": base64.b64encode(png.getvalue()).decode()}}
    started = await rest.post("/v1/meshes:generate", json={**body, "steps": 2, "seed": 2})
    assert started.status_code == 200, started.text
    async with aconnect_sse(rest, "GET", f"/v1/{started.json()['name']}:watch") as source:
        done = [json.loads(event.data) async for event in source.aiter_sse()][-1]
    assert done["done"] is True and "error" not in done, done
    glb = await tls.get(done["response"]["mesh"]["downloadUri"])
    assert glb.status_code == 200 and glb.headers["content-type"] == "model/gltf-binary"
