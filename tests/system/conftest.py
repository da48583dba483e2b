"""System-test helpers: URLs and clients for a running server + Envoy stack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from pluggably.stack import Stack


def base_url(stack: Stack, tls: bool = False) -> str:
    envoy = stack.gateway.settings.envoy
    return f"https://localhost:{envoy.https_port}" if tls else f"http://127.0.0.1:{envoy.http_port}"


def grpc_target(stack: Stack, tls: bool = False) -> str:
    envoy = stack.gateway.settings.envoy
    return f"localhost:{envoy.https_port}" if tls else f"127.0.0.1:{envoy.http_port}"


async def wait_for_status(client: httpx.AsyncClient, url: str, status: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (await client.get(url)).status_code != status:
        assert time.monotonic() < deadline, f"{url} did not answer {status} within {timeout_s} s"
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture(scope="session")
async def rest(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A REST client of the shared stack, once its /healthz is green."""
    async with httpx.AsyncClient(base_url=base_url(stack), timeout=30) as client:
        await wait_for_status(client, "/healthz", 200)
        yield client
