"""Loopback servers for tests and benchmarks: free ports and the settings that use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pluggably.settings import (
    DownloadSettings,
    EnvoySettings,
    GenerationSettings,
    LoggingSettings,
    ModelsSettings,
    ServerSettings,
    Settings,
    StorageSettings,
)
from tests.support.file_server import free_port
from tests.support.tiny_models import CHAT_MODEL_ID

__all__ = ["free_port", "settings_for_test"]


def settings_for_test(data_dir: Path, models_dir: Path, **sections: dict[str, Any]) -> Settings:
    """Settings for a server on loopback (tests, benchmarks): free ports, the tiny chat model as default."""
    return Settings(
        data_dir=data_dir,
        server=ServerSettings(**{"port": 0, "grace_period_s": 2.0, **sections.get("server", {})}),
        envoy=EnvoySettings(
            **{
                "http_port": free_port(),
                "https_port": free_port(),
                "admin_port": free_port(),
                "health_check_interval_s": 0.2,
                **sections.get("envoy", {}),
            }
        ),
        generation=GenerationSettings(**{"max_concurrency": 2, "max_queue": 4, **sections.get("generation", {})}),
        models=ModelsSettings(
            **{
                "dir": models_dir,
                "default_text_model": CHAT_MODEL_ID,
                "preload": (CHAT_MODEL_ID,),
                **sections.get("models", {}),
            }
        ),
        logging=LoggingSettings(**sections.get("logging", {})),
        downloads=DownloadSettings(**{"progress_interval_s": 0.1, **sections.get("downloads", {})}),
        storage=StorageSettings(**{"min_free_bytes": 0, **sections.get("storage", {})}),
    )
