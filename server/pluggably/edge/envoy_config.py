"""Renders `envoy/envoy.yaml.tmpl` from the settings."""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path

from pluggably.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "envoy" / "envoy.yaml.tmpl"
DESCRIPTOR = REPO_ROOT / "generated" / "pluggably.binpb"


@dataclass(frozen=True)
class TlsFiles:
    cert_file: Path
    key_file: Path


def _quoted(value: object) -> str:
    # JSON strings are valid YAML scalars, whatever the path holds.
    return json.dumps(str(value))


def render_envoy_config(settings: Settings, tls: TlsFiles, services: tuple[str, ...]) -> str:
    """The Envoy bootstrap YAML for this gateway."""
    envoy = settings.envoy
    service_lines = "\n".join(f"                        - {name}" for name in services)
    return string.Template(TEMPLATE.read_text()).substitute(
        host=_quoted(envoy.host),
        http_port=envoy.http_port,
        https_port=envoy.https_port,
        admin_host=_quoted("127.0.0.1"),
        admin_port=envoy.admin_port,
        grpc_host=_quoted(settings.server.host),
        grpc_port=settings.server.port,
        descriptor=_quoted(DESCRIPTOR),
        services=service_lines,
        tls_cert_file=_quoted(tls.cert_file.resolve()),
        tls_key_file=_quoted(tls.key_file.resolve()),
        health_check_interval=f"{envoy.health_check_interval_s:g}s",
    )
