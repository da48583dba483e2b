"""The gateway's one typed settings object.

Built once at start-up from, in rising priority: the defaults below, a YAML
config file (`--config` or `PLUGGABLY_CONFIG`), and environment variables named
`PLUGGABLY_<SECTION>__<NAME>` (e.g. `PLUGGABLY_SERVER__PORT=50052`). Every
component receives the part it needs; nothing else reads the environment.
A bad value or an unknown key stops start-up with a message naming the setting.
`docs/configuration.md` lists every setting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ByteSize, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

Port = Annotated[int, Field(ge=0, le=65535)]
ENV_PREFIX = "PLUGGABLY_"
CONFIG_ENV = "PLUGGABLY_CONFIG"
MIN_SIGNING_KEY_CHARS = 32


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    """The gRPC server."""

    host: str = "127.0.0.1"
    port: Port = 50051
    # In-flight calls get this long to finish after SIGTERM before they are cancelled.
    grace_period_s: float = Field(default=10.0, ge=0)
    reflection: bool = True


class EnvoySettings(_Section):
    """The Envoy front: REST/JSON transcoding, SSE, TLS, `/healthz`."""

    host: str = "127.0.0.1"
    http_port: Port = 8080
    https_port: Port = 8443
    admin_port: Port = 9901
    # PEM files for the TLS listener. Empty: `make run` creates a dev certificate
    # under `<data_dir>/certs` and uses it.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    binary: str = "envoy"
    # How often Envoy asks the server's gRPC health service.
    health_check_interval_s: float = Field(default=1.0, gt=0)


class GenerationSettings(_Section):
    """Limits that keep generation bounded (SYS-NFR-003)."""

    # Generations that run at once; each takes a worker thread.
    max_concurrency: int = Field(default=1, ge=1)
    # Requests that may wait for a slot; one more gets RESOURCE_EXHAUSTED at once.
    max_queue: int = Field(default=8, ge=0)
    # Longest wait for a slot before RESOURCE_EXHAUSTED.
    queue_timeout_s: float = Field(default=30.0, gt=0)
    default_max_output_tokens: int = Field(default=256, ge=1)
    # CPU threads per runtime session; 0 lets the runtime choose.
    threads: int = Field(default=0, ge=0)
    # `cpu`, `cuda`, or `auto` (CUDA when a GPU and the CUDA builds are present).
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Largest width or height of a generated image, in pixels (besides what the model allows).
    max_image_side_px: int = Field(default=2048, ge=64)
    # Most denoising steps an image or mesh request may ask for.
    max_denoising_steps: int = Field(default=150, ge=1)
    # Grid on which Shap-E meshes are extracted (per side): 128 is the pipeline's own; 64 is ~10x faster, coarser.
    mesh_grid_size: int = Field(default=128, ge=16, le=256)
    # Memory that loaded models may take together (as estimated from their weights); loading one more
    # unloads the least recently used idle ones first. 0: no budget. Accepts units: `8GB`.
    memory_budget_bytes: ByteSize = ByteSize(0)


class ModelsSettings(_Section):
    """Where models live and which are served by default."""

    # Empty: `<data_dir>/models`.
    dir: Path | None = None
    # Model id (or alias) used when a text request names none.
    default_text_model: str = "smollm2-135m-instruct"
    # Models loaded at start-up; health is NOT_SERVING until they are ready.
    preload: tuple[str, ...] = ("smollm2-135m-instruct",)
    # Rescan the models directory this often; 0: only at start and on request.
    discovery_interval_s: float = Field(default=300.0, ge=0)
    # A Hugging Face cache (huggingface_hub's layout) whose models are registered too; read-only.
    hf_cache_dir: Path | None = None


class DownloadSettings(_Section):
    """Model downloads (long-running operations)."""

    # Downloads that transfer at once; more wait in the QUEUED stage.
    max_concurrent: int = Field(default=2, ge=1)
    # The Hugging Face Hub, or a mirror of it.
    hf_endpoint: str = "https://huggingface.co"
    # Token for private or gated repositories. Never logged or returned.
    hf_token: SecretStr | None = None
    connect_timeout_s: float = Field(default=10.0, gt=0)
    # A transfer that receives nothing for this long fails (and can be resumed).
    read_timeout_s: float = Field(default=60.0, gt=0)
    # How often progress is published to watchers and saved.
    progress_interval_s: float = Field(default=0.5, gt=0)


class StorageSettings(_Section):
    """Disk limits for models (SYS-REQ-012, SYS-NFR-007). Sizes accept units: `20GB`, `512MiB`."""

    # Most bytes models may use, staging included; 0: no budget.
    budget_bytes: ByteSize = ByteSize(0)
    # Free disk that downloads always leave.
    min_free_bytes: ByteSize = ByteSize(1024**3)
    # Cleanup evicts unpinned models unused for this long; 0: never for age.
    evict_unused_after_days: float = Field(default=0.0, ge=0)


class ArtifactSettings(_Section):
    """Stored images and meshes, and their signed download URLs (SYS-REQ-016). Sizes accept units."""

    # Empty: `<data_dir>/artifacts`.
    dir: Path | None = None
    # How long an artifact is kept before it is deleted (each has its expire_time).
    ttl_s: float = Field(default=24 * 3600.0, gt=0)
    # How long a signed download URL works (never past the artifact's expiry).
    url_ttl_s: float = Field(default=3600.0, gt=0)
    # Most bytes artifacts may use; 0: no limit of their own. The storage budget counts them too.
    budget_bytes: ByteSize = ByteSize(5 * 1000**3)
    # Keys that sign download URLs, at least 32 characters each: the first signs, every one verifies (to
    # rotate, put the new key first and drop the old one after url_ttl_s). Empty: a key is generated at the
    # first start into `<data_dir>/secrets/artifact-signing.key` (mode 0600) and used from then on.
    signing_keys: tuple[SecretStr, ...] = ()
    # Where clients reach the gateway, for absolute download URLs. Empty: `https://localhost:<envoy.https_port>`.
    public_base_url: str = ""
    # Expired artifacts are removed this often (and by storage cleanup).
    cleanup_interval_s: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _keys_are_long_enough(self) -> ArtifactSettings:
        if any(len(key.get_secret_value()) < MIN_SIGNING_KEY_CHARS for key in self.signing_keys):
            raise ValueError(f"each of artifacts.signing_keys needs at least {MIN_SIGNING_KEY_CHARS} characters")
        return self


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Log prompt and output text (DATA-REQ-003). Off by default.
    log_prompts: bool = False


class Settings(BaseSettings):
    """Everything configurable, with documented defaults."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    # Root of all state: models, certificates, artifacts, databases.
    data_dir: Path = Path("data")
    server: ServerSettings = ServerSettings()
    envoy: EnvoySettings = EnvoySettings()
    generation: GenerationSettings = GenerationSettings()
    models: ModelsSettings = ModelsSettings()
    downloads: DownloadSettings = DownloadSettings()
    storage: StorageSettings = StorageSettings()
    artifacts: ArtifactSettings = ArtifactSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _tls_files_come_in_pairs(self) -> Settings:
        if (self.envoy.tls_cert_file is None) != (self.envoy.tls_key_file is None):
            raise ValueError("envoy.tls_cert_file and envoy.tls_key_file must be set together")
        return self

    def secret_values(self) -> list[str]:
        """Every secret configured (each `SecretStr` setting), so that none is ever echoed (`core.redaction`)."""
        found: list[str] = []
        pending: list[BaseModel] = [self]
        while pending:
            section = pending.pop()
            for name in type(section).model_fields:
                value = getattr(section, name)
                if isinstance(value, SecretStr):
                    found.append(value.get_secret_value())
                elif isinstance(value, BaseModel):
                    pending.append(value)
                elif isinstance(value, tuple | list):
                    found += [v.get_secret_value() for v in value if isinstance(v, SecretStr)]
                    pending += [v for v in value if isinstance(v, BaseModel)]
        return [secret for secret in found if secret]

    @property
    def models_dir(self) -> Path:
        return self.models.dir or self.data_dir / "models"

    @property
    def artifacts_dir(self) -> Path:
        return self.artifacts.dir or self.data_dir / "artifacts"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def public_base_url(self) -> str:
        return self.artifacts.public_base_url or f"https://localhost:{self.envoy.https_port}"

    @property
    def certs_dir(self) -> Path:
        return self.data_dir / "certs"

    @property
    def database_file(self) -> Path:
        return self.data_dir / "pluggably.db"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The config file arrives through init kwargs (see `load_settings`), so
        # the environment must outrank init to override it.
        return (env_settings, init_settings)


class ConfigError(Exception):
    """The configuration is invalid; the message names each bad setting."""


def load_settings(config_file: Path | None = None) -> Settings:
    """Builds the settings from a YAML file (optional) and the environment."""
    if config_file is None and os.environ.get(CONFIG_ENV):
        config_file = Path(os.environ[CONFIG_ENV])
    file_values: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(config_file.read_text()) or {}
        except OSError as err:
            raise ConfigError(f"cannot read config file {config_file}: {err.strerror}") from err
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {config_file} is not valid YAML: {err}") from err
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {config_file} must hold a mapping of settings")
        file_values = loaded
    unknown = sorted(
        name
        for name in os.environ
        if name.startswith(ENV_PREFIX)
        and name != CONFIG_ENV
        and name.removeprefix(ENV_PREFIX).split("__")[0].lower() not in Settings.model_fields
    )
    if unknown:
        raise ConfigError(
            f"unknown settings in the environment: {', '.join(unknown)} "
            f"(known sections: {', '.join(Settings.model_fields)})"
        )
    try:
        return Settings(**file_values)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            setting = ".".join(str(part) for part in error["loc"]) or "(settings)"
            problems.append(f"  {setting}: {error['msg']}")
        source = f" (config file {config_file} and PLUGGABLY_* environment)" if config_file else ""
        raise ConfigError("invalid configuration" + source + ":\n" + "\n".join(problems)) from err
