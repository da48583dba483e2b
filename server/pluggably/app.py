"""The composition root: builds every component from the settings and wires them.

This is the only place that knows which backends exist (the explicit
registry `local_backends`) and which servicers are mounted.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import signal
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from google.longrunning import operations_pb2, operations_pb2_grpc
from grpc import aio
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from pluggably.api.artifacts import ArtifactServicer
from pluggably.api.images import ImageServicer
from pluggably.api.meshes import MeshServicer
from pluggably.api.models import ModelServicer
from pluggably.api.operations import OperationsServicer, OperationWatchServicer
from pluggably.api.prompt_log import PromptLog
from pluggably.api.text import TextServicer
from pluggably.api.unimplemented import unimplemented
from pluggably.core.artifacts.signing import UrlSigner
from pluggably.core.artifacts.store import ArtifactLimits, ArtifactStore
from pluggably.core.errors import QuotaViolation
from pluggably.core.generation.admission import AdmissionController
from pluggably.core.generation.backends import BackendRegistry
from pluggably.core.generation.common import ModelSelection
from pluggably.core.generation.image_service import IMAGES_KIND, ImageGenerationService
from pluggably.core.generation.mesh_service import MESH_KIND, MeshGenerationService
from pluggably.core.generation.outputs import FileGeneration
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
from pluggably.db.stores import SqliteArtifactIndex, SqliteModelStore, SqliteOperationStore
from pluggably.files.blobs import FilesystemBlobStore
from pluggably.files.signing_key import generated_signing_key
from pluggably.health import HealthReporter
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

_NO_SCHEMA_YET = "the parameter schema service is not built yet"


def local_backends(settings: Settings, executor: ThreadPoolExecutor) -> BackendRegistry:
    """The explicit registry of local backends: (provider, runtime, modality) -> factory.

    Runner imports happen here, not at module import: they take seconds. Every
    local backend runs its blocking work on `executor`, whose threads are the
    generation slots.
    """
    from pluggably.runners.diffusers_images import onnx_image_factory, torch_image_factory
    from pluggably.runners.local_text import local_text_factory
    from pluggably.runners.onnx_text import make_onnx_text_loader
    from pluggably.runners.shap_e import shap_e_factory
    from pluggably.runners.torch_text import make_torch_text_loader

    generation = settings.generation
    device, threads = generation.device, generation.threads
    registry = BackendRegistry()
    for runtime, make_loader in ((Runtime.ONNX, make_onnx_text_loader), (Runtime.TORCH, make_torch_text_loader)):
        registry.register(
            LOCAL_PROVIDER, runtime, Modality.TEXT, local_text_factory(make_loader(device, threads), executor)
        )
    registry.register(LOCAL_PROVIDER, Runtime.TORCH, Modality.IMAGE, torch_image_factory(device, executor))
    registry.register(LOCAL_PROVIDER, Runtime.ONNX, Modality.IMAGE, onnx_image_factory(device, executor))
    registry.register(
        LOCAL_PROVIDER, Runtime.TORCH, Modality.MESH, shap_e_factory(device, executor, generation.mesh_grid_size)
    )
    return registry


@dataclass
class Gateway:
    """A running gRPC server and what it serves."""

    settings: Settings
    server: aio.Server
    port: int
    health: HealthReporter
    database: sqlite3.Connection
    registry: ModelRegistry
    scanner: ModelScanner
    router: Router
    backends: BackendRegistry
    pool: ModelPool
    admission: AdmissionController
    executor: ThreadPoolExecutor
    text: TextGenerationService
    images: ImageGenerationService
    meshes: MeshGenerationService
    artifacts: ArtifactStore
    operations: Operations
    downloads: DownloadManager
    storage: StorageManager
    http: httpx.AsyncClient
    background: list[asyncio.Task[None]]

    @property
    def catalog(self) -> ModelCatalog:
        return self.registry.catalog

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
        await self.health.ready()

    async def stop(self, grace_s: float | None = None) -> None:
        """Drains: health NOT_SERVING at once, in-flight calls get `grace_s` to finish."""
        await self.health.servicer.enter_graceful_shutdown()
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
    settings: Settings,
    registry: ModelRegistry,
    operations: Operations,
    models: ModelManager,
    artifacts: ArtifactStore,
    redactor: Redactor,
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
        artifacts=artifacts,
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


def _artifact_store(
    settings: Settings, database: sqlite3.Connection, disk_room: Callable[[int], list[QuotaViolation]]
) -> tuple[ArtifactStore, list[str]]:
    """The artifact store over SQLite and a folder, and the secrets it holds (a generated signing key)."""
    configured = [key.get_secret_value() for key in settings.artifacts.signing_keys]
    keys = configured or [generated_signing_key(settings.secrets_dir)]
    blobs = FilesystemBlobStore(settings.artifacts_dir / "blobs")
    blobs.discard_partial_writes()
    limits = ArtifactLimits(
        ttl=datetime.timedelta(seconds=settings.artifacts.ttl_s),
        url_ttl=datetime.timedelta(seconds=settings.artifacts.url_ttl_s),
        budget_bytes=settings.artifacts.budget_bytes,
    )
    signer = UrlSigner([key.encode() for key in keys])
    store = ArtifactStore(SqliteArtifactIndex(database), blobs, signer, limits, settings.public_base_url, disk_room)
    return store, keys


@dataclass
class _Services:
    """What the servicers serve."""

    text: TextGenerationService
    images: ImageGenerationService
    meshes: MeshGenerationService
    artifacts: ArtifactStore
    models: ModelManager
    downloads: DownloadManager
    storage: StorageManager
    operations: Operations


def _mount_servicers(server: aio.Server, parts: _Services, settings: Settings) -> None:
    prompts = PromptLog(settings.logging.log_prompts)
    text_service_pb2_grpc.add_TextServiceServicer_to_server(TextServicer(parts.text, prompts), server)
    image_service_pb2_grpc.add_ImageServiceServicer_to_server(ImageServicer(parts.images, prompts), server)
    mesh_service_pb2_grpc.add_MeshServiceServicer_to_server(MeshServicer(parts.meshes, prompts), server)
    artifact_service_pb2_grpc.add_ArtifactServiceServicer_to_server(ArtifactServicer(parts.artifacts), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        ModelServicer(parts.models, parts.downloads, parts.storage), server
    )
    operations_pb2_grpc.add_OperationsServicer_to_server(
        OperationsServicer(parts.operations, parts.artifacts.find), server
    )
    operation_watch_service_pb2_grpc.add_OperationWatchServiceServicer_to_server(
        OperationWatchServicer(parts.operations, parts.artifacts.find), server
    )
    schema_service = schema_service_pb2.DESCRIPTOR.services_by_name["SchemaService"].full_name
    schema_servicer = unimplemented(schema_service_pb2_grpc.SchemaServiceServicer, schema_service, _NO_SCHEMA_YET)
    schema_service_pb2_grpc.add_SchemaServiceServicer_to_server(schema_servicer(), server)


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

    storage: StorageManager | None = None  # made below, around the artifact store it counts

    def disk_room(size: int) -> list[QuotaViolation]:
        return storage.violations(size) if storage else []

    artifacts, signing_keys = _artifact_store(settings, database, disk_room)
    redactor = Redactor([*settings.secret_values(), *signing_keys])
    operations = Operations(
        SqliteOperationStore(database), save_interval_s=settings.downloads.progress_interval_s, redact=redactor
    )
    model_manager = ModelManager(registry, scanner, pool, settings.models_dir, describe_model)
    http, downloads, storage = _downloads(settings, registry, operations, model_manager, artifacts, redactor)
    outputs = FileGeneration(pool, admission, artifacts, operations, registry.record_use)
    images = ImageGenerationService(router, outputs, generation.max_image_side_px, generation.max_denoising_steps)
    meshes = MeshGenerationService(router, outputs, generation.max_denoising_steps)

    server = aio.server(interceptors=default_interceptors(redactor))
    services = _Services(text, images, meshes, artifacts, model_manager, downloads, storage, operations)
    _mount_servicers(server, services, settings)

    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health = HealthReporter(health_servicer, _service_checks(router))
    registry.on_change(health.changed)
    if settings.server.reflection:
        reflection.enable_server_reflection((*SERVICE_NAMES, reflection.SERVICE_NAME, "grpc.health.v1.Health"), server)
    port = server.add_insecure_port(f"{settings.server.host}:{settings.server.port}")
    if port == 0:
        database.close()
        raise OSError(f"cannot listen on {settings.server.host}:{settings.server.port}")
    background = [
        asyncio.create_task(health.follow_changes()),
        asyncio.create_task(artifacts.remove_expired_every(settings.artifacts.cleanup_interval_s)),
    ]
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
        images=images,
        meshes=meshes,
        artifacts=artifacts,
        operations=operations,
        downloads=downloads,
        storage=storage,
        http=http,
        background=background,
    )
    await downloads.resume_interrupted()
    await outputs.fail_interrupted((IMAGES_KIND, MESH_KIND))
    await health.refresh()
    await server.start()
    log.info(
        "gRPC server listening",
        extra={"address": f"{settings.server.host}:{port}", "models": [m.id for m in registry.catalog.list()]},
    )
    return gateway


def _service_checks(router: Router) -> dict[str, Callable[[], bool]]:
    """Whether each service can serve now (health); the schema service is not built yet, so it cannot."""

    def name(module: Any, service: str) -> str:
        return str(module.DESCRIPTOR.services_by_name[service].full_name)

    def always() -> bool:
        return True

    return {
        name(text_service_pb2, "TextService"): lambda: bool(router.servable(Modality.TEXT)),
        name(image_service_pb2, "ImageService"): lambda: bool(router.servable(Modality.IMAGE)),
        name(mesh_service_pb2, "MeshService"): lambda: bool(router.servable(Modality.MESH)),
        name(model_service_pb2, "ModelService"): always,
        name(artifact_service_pb2, "ArtifactService"): always,
        name(schema_service_pb2, "SchemaService"): lambda: False,
        name(operation_watch_service_pb2, "OperationWatchService"): always,
        name(operations_pb2, "Operations"): always,
    }


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
