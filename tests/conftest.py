"""Shared fixtures: tiny models built once, real servers on loopback ports.

Every server binds 127.0.0.1. Servers and Envoys started here are stopped here.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import pytest_asyncio

from pluggably.app import Gateway, start_gateway
from pluggably.settings import (
    Settings,
)
from pluggably.stack import Stack, start_stack
from tests.support.loopback import settings_for_test
from tests.support.tiny_models import build_tiny_models
from tests.support.tiny_pipelines import (
    TINY_SD,
    TINY_SD_ONNX,
    TINY_SDXL,
    TINY_SHAP_E,
    TINY_SHAP_E_IMG2IMG,
    build_tiny_shap_e,
    build_tiny_shap_e_img2img,
    build_tiny_stable_diffusion,
    build_tiny_stable_diffusion_onnx,
    build_tiny_stable_diffusion_xl,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def tiny_pipelines_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny diffusers pipelines (tests/support/tiny_pipelines.py), built once: Stable Diffusion for torch, its ONNX
    export and SDXL (images), and Shap-E for text and for images (meshes)."""
    folder = tmp_path_factory.mktemp("tiny-pipelines")
    build_tiny_stable_diffusion(folder / TINY_SD)
    build_tiny_stable_diffusion_onnx(folder / TINY_SD, folder / TINY_SD_ONNX)
    build_tiny_stable_diffusion_xl(folder / TINY_SDXL)
    build_tiny_shap_e(folder / TINY_SHAP_E)
    build_tiny_shap_e_img2img(folder / TINY_SHAP_E_IMG2IMG)
    return folder


@pytest.fixture(scope="session")
def all_models_dir(tiny_models_dir: Path, tiny_pipelines_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models directory with every tiny model: text, image (torch and ONNX) and mesh."""
    folder = tmp_path_factory.mktemp("all-models")
    for source in (tiny_models_dir, tiny_pipelines_dir):
        shutil.copytree(source, folder, dirs_exist_ok=True)
    return folder


# Tiny meshes on a small grid: a tenth of a second instead of seconds.
FAST_MESHES = {"mesh_grid_size": 32}


async def envoy_sees_the_server_healthy(settings: Settings, timeout_s: float = 15.0) -> None:
    """Waits for Envoy's active health check to pass (its /healthz turns 200)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.envoy.http_port}") as client:
        while (await client.get("/healthz")).status_code != 200:
            assert time.monotonic() < deadline, f"Envoy did not see the server healthy within {timeout_s} s"
            await asyncio.sleep(0.05)


GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]
StackFactory = Callable[..., AbstractAsyncContextManager[Stack]]


@pytest.fixture(scope="session")
def gateway_factory(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> GatewayFactory:
    """Starts a dedicated, preloaded gateway: `async with gateway_factory(generation={...}) as gw:`."""

    @asynccontextmanager
    async def factory(
        models_dir: Path | None = None, data_dir: Path | None = None, **sections: dict[str, Any]
    ) -> AsyncIterator[Gateway]:
        data_dir = data_dir or tmp_path_factory.mktemp("data")
        settings = settings_for_test(data_dir, models_dir or tiny_models_dir, **sections)
        gateway = await start_gateway(settings)
        try:
            await gateway.preload()
            yield gateway
        finally:
            await gateway.stop(0)

    return factory


@pytest.fixture(scope="session")
def stack_factory(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> StackFactory:
    """Starts a dedicated server + Envoy, SERVING: `async with stack_factory() as stack:`."""

    @asynccontextmanager
    async def factory(models_dir: Path | None = None, **sections: dict[str, Any]) -> AsyncIterator[Stack]:
        data_dir = tmp_path_factory.mktemp("data")
        settings = settings_for_test(data_dir, models_dir or tiny_models_dir, **sections)
        stack = await start_stack(settings, envoy_log=data_dir / "envoy.log")
        try:
            await stack.gateway.preload()
            await envoy_sees_the_server_healthy(settings)
            yield stack
        finally:
            await stack.stop()

    return factory


@pytest_asyncio.fixture(scope="session")
async def gateway(gateway_factory: GatewayFactory) -> AsyncIterator[Gateway]:
    """A shared gateway for tests that do not change server state."""
    async with gateway_factory() as shared:
        yield shared


@pytest_asyncio.fixture(scope="session")
async def channel(gateway: Gateway) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as shared:
        yield shared


@pytest_asyncio.fixture(scope="session")
async def stack(stack_factory: StackFactory) -> AsyncIterator[Stack]:
    """A shared server + Envoy for system tests that do not change server state."""
    async with stack_factory() as shared:
        yield shared
