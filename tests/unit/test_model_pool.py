"""One pool loads, keeps and unloads backends of every modality within a memory budget (SYS-NFR-003, SYS-NFR-004).

Backends here are fakes of our own `Backend` protocol, loaded by factories that count their loads: what is under
test is the pool's policy (least recently used first, never a busy one, failures not kept).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

import pytest

from pluggably.core.errors import BackendUnavailableError, FailedPreconditionError
from pluggably.core.generation.backends import BackendFactory, TextDescription
from pluggably.core.generation.pool import ModelPool
from pluggably.core.generation.router import Route
from pluggably.core.models import HardwareRequirements, ModelInfo, Runtime
from tests.unit.models_factory import model_info

GB = 1000**3


@dataclass
class FakeBackend:
    model_id: str
    closed: bool = False
    device: str = "fake"

    def close(self) -> None:
        self.closed = True


@dataclass
class Loads:
    """A factory's load function that records every backend it made, and can fail on demand."""

    made: list[FakeBackend] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    def __call__(self, model: ModelInfo) -> FakeBackend:
        if model.id in self.failing:
            raise OSError(f"weights of {model.id} are corrupt")
        backend = FakeBackend(model.id)
        self.made.append(backend)
        return backend

    def loaded(self) -> list[str]:
        return [b.model_id for b in self.made if not b.closed]


def route(loads: Loads, model_id: str, memory_gb: float = 1, runtime: Runtime = Runtime.ONNX) -> Route:
    model = replace(
        model_info(model_id), hardware=HardwareRequirements(memory_bytes=int(memory_gb * GB)), runtimes=(runtime,)
    )
    factory = BackendFactory(loads, lambda m: TextDescription(2048, True))
    return Route(model, "local", runtime, factory)


async def use(pool: ModelPool, chosen: Route) -> FakeBackend:
    async with pool.lease(chosen) as backend:
        return backend


async def test_a_backend_is_loaded_once_and_kept() -> None:
    loads, pool = Loads(), ModelPool()
    first = await use(pool, route(loads, "a"))
    assert await use(pool, route(loads, "a")) is first
    assert len(loads.made) == 1 and not first.closed


async def test_concurrent_requests_wait_for_one_load() -> None:
    loads, pool = Loads(), ModelPool()
    backends = await asyncio.gather(*(use(pool, route(loads, "a")) for _ in range(5)))
    assert len(loads.made) == 1 and all(b is backends[0] for b in backends)


async def test_each_runtime_of_a_model_is_its_own_backend() -> None:
    loads, pool = Loads(), ModelPool()
    onnx = await use(pool, route(loads, "a", runtime=Runtime.ONNX))
    torch = await use(pool, route(loads, "a", runtime=Runtime.TORCH))
    assert onnx is not torch and len(pool.loaded()) == 2


async def test_sys_nfr_003_over_the_budget_the_least_recently_used_idle_backend_goes() -> None:
    loads, pool = Loads(), ModelPool(memory_budget_bytes=3 * GB)
    for model_id in ("a", "b", "c"):
        await use(pool, route(loads, model_id))
    await use(pool, route(loads, "a"))  # a is now the most recently used
    await use(pool, route(loads, "d"))  # needs room for one: b, the least recently used, goes
    assert sorted(loads.loaded()) == ["a", "c", "d"]
    assert [key[0] for key in pool.loaded()] == ["c", "a", "d"]
    assert pool.loaded_bytes == 3 * GB
    await use(pool, route(loads, "e", memory_gb=2))  # room for two: c and a go
    assert sorted(loads.loaded()) == ["d", "e"]


async def test_sys_nfr_003_a_busy_backend_is_never_unloaded() -> None:
    loads, pool = Loads(), ModelPool(memory_budget_bytes=2 * GB)
    async with pool.lease(route(loads, "busy")) as busy:
        assert pool.requests("busy") == 1
        await use(pool, route(loads, "idle"))
        await use(pool, route(loads, "next"))  # idle goes, busy stays
        assert not busy.closed and sorted(loads.loaded()) == ["busy", "next"]
        with pytest.raises(BackendUnavailableError) as caught:
            await use(pool, route(loads, "big", memory_gb=2))  # only the busy one could make room
        assert caught.value.retry_after_s > 0 and "serving requests" in caught.value.message
    assert pool.requests("busy") == 0
    await use(pool, route(loads, "big", memory_gb=2))  # once idle, it may go
    assert busy.closed and loads.loaded() == ["big"]


async def test_a_model_larger_than_the_whole_budget_is_the_operators_problem() -> None:
    loads, pool = Loads(), ModelPool(memory_budget_bytes=1 * GB)
    with pytest.raises(FailedPreconditionError) as caught:
        await use(pool, route(loads, "huge", memory_gb=4))
    assert "generation.memory_budget_bytes" in caught.value.message and not loads.made


async def test_unloading_a_busy_model_closes_it_when_its_last_request_ends() -> None:
    loads, pool = Loads(), ModelPool()
    async with pool.lease(route(loads, "a")) as backend:
        pool.unload("a")  # deleted or replaced meanwhile
        assert not backend.closed and not pool.loaded()
    assert backend.closed
    assert await use(pool, route(loads, "a")) is not backend  # the next request loads it afresh


async def test_sys_nfr_002_a_failed_load_is_backend_unavailable_and_not_kept() -> None:
    loads, pool = Loads(failing={"broken"}), ModelPool()
    with pytest.raises(BackendUnavailableError) as caught:
        await use(pool, route(loads, "broken"))
    assert caught.value.metadata == {"model": "models/broken", "runtime": "onnx"}
    assert "corrupt" in caught.value.message and pool.requests("broken") == 0
    loads.failing.clear()
    assert (await use(pool, route(loads, "broken"))).model_id == "broken"


async def test_closing_the_pool_closes_every_backend() -> None:
    loads, pool = Loads(), ModelPool()
    for model_id in ("a", "b"):
        await use(pool, route(loads, model_id))
    pool.close()
    assert all(b.closed for b in loads.made) and not pool.loaded()
