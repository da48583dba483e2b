"""Loopback servers for tests and benchmarks: free ports and the settings that use them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pluggably.settings import Settings
from tests.support.file_server import free_port
from tests.support.tiny_models import CHAT_MODEL_ID

__all__ = ["free_port", "settings_for_test"]


def settings_for_test(data_dir: Path, models_dir: Path, **sections: dict[str, Any]) -> Settings:
    """Settings for a server on loopback (tests, benchmarks): free ports, the tiny chat model as default.

    `sections` override single settings of a section (`generation={"max_concurrency": 1}`); a section not named
    keeps the defaults below, or Settings' own.
    """
    defaults: dict[str, dict[str, Any]] = {
        "server": {"port": 0, "grace_period_s": 2.0},
        "envoy": {
            "http_port": free_port(),
            "https_port": free_port(),
            "admin_port": free_port(),
            "health_check_interval_s": 0.2,
        },
        "generation": {"max_concurrency": 2, "max_queue": 4},
        "models": {"dir": models_dir, "default_text_model": CHAT_MODEL_ID, "preload": (CHAT_MODEL_ID,)},
        "downloads": {"progress_interval_s": 0.1},
        "storage": {"min_free_bytes": 0},
    }
    unknown = set(sections) - set(Settings.model_fields)
    assert not unknown, f"no such settings sections: {unknown}"
    values = {name: {**defaults.get(name, {}), **sections.get(name, {})} for name in {*defaults, *sections}}
    return Settings(data_dir=data_dir, **values)
