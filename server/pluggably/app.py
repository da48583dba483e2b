"""The composition root: builds every component from the settings and wires them.

This is the only place that knows which backends exist (the explicit
registry `local_backends`) and which servicers are mounted.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from google.longrunning import operations_pb2, operations_pb2_grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from pluggably.api.models import ModelServicer
from pluggably.api.operations import OperationsServicer, OperationWatchServicer
from pluggably.api.text import TextServicer
from pluggably.api.unimplemented import unimplemented
from pluggably.core.generation.admission import AdmissionController
from pluggably.core.generation.backends import BackendRegistry
from pluggably.core.generation.common import ModelSelection
from pluggably.core.generation.pool import ModelPool
from pluggably.core.generation.router import Router
from pluggably.core.generation.text_service import TextGenerationLimits, TextGenerationService
from pluggably.core.models import LOCAL_PROVIDER, Modality, Runtime, SourceKind
from pluggably.core.models.catalog import ModelCatalog
from pluggably.core.models.discovery import describe_model
from pluggably.core.models.downloads import DOWNLOAD_KIND, DownloadManager
from pluggably.core.models.management import ModelManager
from pluggably.core.models.registry import ModelRegistry
from pluggably.core.models.scanning import ModelScanner
from pluggably.core.models.storage import StorageManager
from pluggably.core.operations import Operations
from pluggably.core.redaction import Redactor
from pluggably.db.database import open_database
from pluggably.db.stores import SqliteModelStore, SqliteOperationStore
from pluggably.rpc.interceptors import default_interceptors
from pluggably.settings import Settings
from pluggably.sources.http import HttpFetcher, UrlResolver
from pluggably.sources.huggingface import HuggingFaceResolver, hub_headers
from pluggably.sources.local import LocalFetcher, LocalResolver
from pluggably.v1 import (
    artifact_service_pb2,
    artifact_service_pb2_grpc,
    image_service_pb2,
    image_service_pb2_grpc,
    mesh_service_pb2,
    mesh_service_pb2_grpc,
    model_service_pb2,
    model_service_pb2_grpc,
    operation_watch_service_pb2,
    operation_watch_service_pb2_grpc,
    schema_service_pb2,
    schema_service_pb2_grpc,
    text_service_pb2,
    text_service_pb2_grpc,
)

log = logging.getLogger(__name__)

# Every service this server answers, by full name (health reports each).
SERVICE_NAMES = (
    text_service_pb2.DESCRIPTOR.services_by_name["TextService"].full_name,
    image_service_pb2.DESCRIPTOR.services_by_name["ImageService"].full_name,
    mesh_service_pb2.DESCRIPTOR.services_by_name["MeshService"].full_name,
    model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
    artifact_service_pb2.DESCRIPTOR.services_by_name["ArtifactService"].full_name,
    schema_service_pb2.DESCRIPTOR.services_by_name["SchemaService"].full_name,
    operation_watch_service_pb2.DESCRIPTOR.services_by_name["OperationWatchService"].full_name,
    operations_pb2.DESCRIPTOR.services_by_name["Operations"].full_name,
)

_NO_RUNNER_YET = "no local runner for this modality is installed yet"
_NO_STORE_YET = "the artifact store is not built yet"
_NO_SCHEMA_YET = "the parameter schema service is not built yet"


def local_backends(settings: Settings, executor: ThreadPoolExecutor) -> BackendRegistry:
    """The explicit registry of local backends: (provider, runtime, modality) -> factory.

    Runner imports happen here, not at module import: they take seconds. Every
    local backend runs its blocking work on `executor`, whose threads are the
    generation slots.
    """
    from pluggably.runners.local_text import local_text_factory
    from pluggably.runners.onnx_text import make_onnx_text_loader
    from pluggably.runners.torch_text import make_torch_text_loader

    device, threads = settings.generation.device, settings.generation.threads
    registry = BackendRegistry()
    for runtime, make_loader in ((Runtime.ONNX, make_onnx_text_loader), (Runtime.TORCH, make_torch_text_loader)):
        registry.register(
            LOCAL_PROVIDER, runtime, Modality.TEXT, local_text_factory(make_loader(device, threads), executor)
        )
    return registry


@dataclass
class Gateway:
    """A running gRPC server and what it serves."""

    settings: Settings
    server: aio.Server
    port: int
    health: health_aio.HealthServicer
    database: sqlite3.Connection
    registry: ModelRegistry
    scanner: ModelScanner
    router: Router
    backends: BackendRegistry
    pool: ModelPool
    admission: AdmissionController
    executor: ThreadPoolExecutor
    text: TextGenerationService
    operations: Operations
    downloads: DownloadManager
    storage: StorageManager
    http: httpx.AsyncClient
    background: list[asyncio.Task[None]]

    @property
    def catalog(self) -> ModelCatalog:
        return self.registry.catalog

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in ("", *SERVICE_NAMES):
            await self.health.set(service, status)

    async def preload(self) -> None:
        """Loads the configured models, then reports SERVING."""
        for reference in self.settings.models.preload:
            model = self.catalog.find(reference)
            if model is None:
                log.warning("preload model not found", extra={"model": reference})
                continue
            if model.modality is None:
                continue
            try:
                route = self.router.route(ModelSelection(id=model.id), model.modality)
                async with self.pool.lease(route):
                    pass
            except Exception:
                log.exception("preload failed", extra={"model": reference})
        await self.set_serving(True)

    async def stop(self, grace_s: float | None = None) -> None:
        """Drains: health NOT_SERVING at once, in-flight calls get `grace_s` to finish."""
        await self.health.enter_graceful_shutdown()
        grace = self.settings.server.grace_period_s if grace_s is None else grace_s
        await self.server.stop(grace)
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.operations.close()  # running downloads stay resumable
        await self.http.aclose()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.pool.close()
        self.database.close()


def _downloads(
    settings: Settings, registry: ModelRegistry, operations: Operations, models: ModelManager, redactor: Redactor
) -> tuple[httpx.AsyncClient, DownloadManager, StorageManager]:
    """The explicit registry of download sources, and the storage limits downloads live by."""
    timeouts = settings.downloads
    http = httpx.AsyncClient(
        follow_redirects=True,
        timeout=httpx.Timeout(timeouts.read_timeout_s, connect=timeouts.connect_timeout_s),
    )
    token = settings.downloads.hf_token.get_secret_value() if settings.downloads.hf_token else None
    storage = StorageManager(
        models,
        settings.models_dir,
        budget_bytes=settings.storage.budget_bytes,
        min_free_bytes=settings.storage.min_free_bytes,
        evict_unused_after_days=settings.storage.evict_unused_after_days,
        active_staging=lambda: [
            downloads.staging_dir(o.name).name for o in operations.list(DOWNLOAD_KIND) if not o.done
        ],
    )
    downloads = DownloadManager(
        operations,
        registry,
        settings.models_dir,
        resolvers={
            SourceKind.HUGGING_FACE: HuggingFaceResolver(settings.downloads.hf_endpoint, token, redactor),
            SourceKind.URL: UrlResolver(http, redactor),
            SourceKind.LOCAL: LocalResolver(),
        },
        fetchers={
            SourceKind.HUGGING_FACE: HttpFetcher(
                hub_headers(token), timeouts.connect_timeout_s, timeouts.read_timeout_s, redactor
            ),
            SourceKind.URL: HttpFetcher({}, timeouts.connect_timeout_s, timeouts.read_timeout_s, redactor),
            SourceKind.LOCAL: LocalFetcher(),
        },
        budget=storage,
        describe=describe_model,
        max_concurrent=settings.downloads.max_concurrent,
        unload=models.unload,
        progress_interval_s=settings.downloads.progress_interval_s,
    )
    return http, downloads, storage


async def start_gateway(settings: Settings, backends: BackendRegistry | None = None) -> Gateway:
    """Builds and starts the server, NOT_SERVING until `preload()` finishes."""
    database = open_database(settings.database_file)
    registry = ModelRegistry(SqliteModelStore(database))
    scanner = ModelScanner(registry, settings.models_dir, settings.models.hf_cache_dir)
    await scanner.scan()
    generation = settings.generation
    executor = ThreadPoolExecutor(max_workers=generation.max_concurrency, thread_name_prefix="generate")
    backends = local_backends(settings, executor) if backends is None else backends
    pool = ModelPool(generation.memory_budget_bytes)
    router = Router(registry.catalog, {Modality.TEXT: settings.models.default_text_model}, backends)
    admission = AdmissionController(generation.max_concurrency, generation.max_queue, generation.queue_timeout_s)
    text = TextGenerationService(
        router,
        pool,
        admission,
        TextGenerationLimits(default_max_output_tokens=generation.default_max_output_tokens),
        record_use=registry.record_use,
    )

    redactor = Redactor(settings.secret_values())
    operations = Operations(
        SqliteOperationStore(database), save_interval_s=settings.downloads.progress_interval_s, redact=redactor
    )
    model_manager = ModelManager(registry, scanner, pool, settings.models_dir, describe_model)
    http, downloads, storage = _downloads(settings, registry, operations, model_manager, redactor)

    server = aio.server(interceptors=default_interceptors(redactor))
    text_service_pb2_grpc.add_TextServiceServicer_to_server(
        TextServicer(text, log_prompts=settings.logging.log_prompts), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(model_manager, downloads, storage), server)
    operations_pb2_grpc.add_OperationsServicer_to_server(OperationsServicer(operations), server)
    operation_watch_service_pb2_grpc.add_OperationWatchServiceServicer_to_server(
        OperationWatchServicer(operations), server
    )
    not_yet = (
        (image_service_pb2_grpc, image_service_pb2, "ImageService", _NO_RUNNER_YET),
        (mesh_service_pb2_grpc, mesh_service_pb2, "MeshService", _NO_RUNNER_YET),
        (artifact_service_pb2_grpc, artifact_service_pb2, "ArtifactService", _NO_STORE_YET),
        (schema_service_pb2_grpc, schema_service_pb2, "SchemaService", _NO_SCHEMA_YET),
    )
    for grpc_module, pb2_module, service, why in not_yet:
        full_name = pb2_module.DESCRIPTOR.services_by_name[service].full_name
        servicer = unimplemented(getattr(grpc_module, f"{service}Servicer"), full_name, why)()
        getattr(grpc_module, f"add_{service}Servicer_to_server")(servicer, server)

    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    if settings.server.reflection:
        reflection.enable_server_reflection((*SERVICE_NAMES, reflection.SERVICE_NAME, "grpc.health.v1.Health"), server)
    port = server.add_insecure_port(f"{settings.server.host}:{settings.server.port}")
    if port == 0:
        database.close()
        raise OSError(f"cannot listen on {settings.server.host}:{settings.server.port}")
    background = []
    if settings.models.discovery_interval_s:
        background.append(asyncio.create_task(scanner.scan_every(settings.models.discovery_interval_s)))
    gateway = Gateway(
        settings=settings,
        server=server,
        port=port,
        health=health,
        database=database,
        registry=registry,
        scanner=scanner,
        router=router,
        backends=backends,
        pool=pool,
        admission=admission,
        executor=executor,
        text=text,
        operations=operations,
        downloads=downloads,
        storage=storage,
        http=http,
        background=background,
    )
    await downloads.resume_interrupted()
    await gateway.set_serving(False)
    await server.start()
    log.info(
        "gRPC server listening",
        extra={"address": f"{settings.server.host}:{port}", "models": [m.id for m in registry.catalog.list()]},
    )
    return gateway


async def serve(settings: Settings) -> None:
    """Runs the gateway's gRPC server until SIGTERM or SIGINT, then drains."""
    gateway = await start_gateway(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    preload = asyncio.create_task(gateway.preload())
    await stop.wait()
    log.info("draining", extra={"grace_period_s": settings.server.grace_period_s})
    preload.cancel()
    await gateway.stop()
    log.info("stopped")
