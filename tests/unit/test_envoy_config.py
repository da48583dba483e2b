"""The rendered Envoy bootstrap: REST transcoding of every service, TLS, configured ports.

SYS-REQ-001 (HTTP API for every service), SYS-NFR-008 (TLS listener), SYS-REQ-006 (configuration).
The last tests run the real Envoy binary in `--mode validate` (no listener is opened).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pluggably.app import SERVICE_NAMES
from pluggably.settings import EnvoySettings, ServerSettings, Settings
from pluggably.stack import envoy_config

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVOY = REPO_ROOT / ".venv" / "bin" / "envoy"


def settings_in(data_dir: Path, **envoy: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        server=ServerSettings(host="127.0.0.1", port=50123),
        envoy=EnvoySettings(http_port=18080, https_port=18443, admin_port=19901, health_check_interval_s=0.5, **envoy),
    )


def listeners(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {listener["name"]: listener for listener in config["static_resources"]["listeners"]}


def http_filters(listener: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (chain,) = listener["filter_chains"]
    manager = next(f for f in chain["filters"] if f["name"].endswith("http_connection_manager"))
    return {f["name"]: f["typed_config"] for f in manager["typed_config"]["http_filters"]}


def port_of(listener: dict[str, Any]) -> int:
    return int(listener["address"]["socket_address"]["port_value"])


def tls_files_of(listener: dict[str, Any]) -> tuple[Path, Path]:
    (chain,) = listener["filter_chains"]
    (pair,) = chain["transport_socket"]["typed_config"]["common_tls_context"]["tls_certificates"]
    return Path(pair["certificate_chain"]["filename"]), Path(pair["private_key"]["filename"])


def upstream_port(config: dict[str, Any]) -> int:
    (cluster,) = config["static_resources"]["clusters"]
    (endpoints,) = cluster["load_assignment"]["endpoints"]
    (endpoint,) = endpoints["lb_endpoints"]
    return int(endpoint["endpoint"]["address"]["socket_address"]["port_value"])


def test_config_transcodes_every_service_on_the_configured_ports_SYS_REQ_001(tmp_path: Path) -> None:
    config = yaml.safe_load(envoy_config(settings_in(tmp_path)))
    by_name = listeners(config)
    assert {port_of(listener) for listener in by_name.values()} == {18080, 18443}
    assert int(config["admin"]["address"]["socket_address"]["port_value"]) == 19901
    assert upstream_port(config) == 50123
    for listener in by_name.values():
        transcoder = http_filters(listener)["envoy.filters.http.grpc_json_transcoder"]
        assert transcoder["services"] == list(SERVICE_NAMES)
        assert Path(transcoder["proto_descriptor"]).is_file()


def test_grpc_port_argument_overrides_a_port_zero_setting_SYS_REQ_006(tmp_path: Path) -> None:
    settings = settings_in(tmp_path).model_copy(update={"server": ServerSettings(port=0)})
    assert upstream_port(yaml.safe_load(envoy_config(settings, grpc_port=43210))) == 43210


def test_tls_listener_uses_the_dev_certificate_by_default_SYS_NFR_008(tmp_path: Path) -> None:
    config = yaml.safe_load(envoy_config(settings_in(tmp_path)))
    tls = next(listener for listener in listeners(config).values() if port_of(listener) == 18443)
    cert, key = tls_files_of(tls)
    assert cert.is_file() and key.is_file()
    assert cert.parent == (tmp_path / "certs").resolve()


def test_tls_listener_uses_the_configured_certificate_SYS_NFR_008(tmp_path: Path) -> None:
    cert, key = tmp_path / "site-cert.pem", tmp_path / "site-key.pem"
    config = yaml.safe_load(envoy_config(settings_in(tmp_path / "data", tls_cert_file=cert, tls_key_file=key)))
    tls = next(listener for listener in listeners(config).values() if port_of(listener) == 18443)
    assert tls_files_of(tls) == (cert.resolve(), key.resolve())
    assert not (tmp_path / "data" / "certs").exists()  # no dev certificate made


def validate(config_text: str, config_file: Path) -> subprocess.CompletedProcess[str]:
    config_file.write_text(config_text)
    return subprocess.run(
        [str(ENVOY), "--mode", "validate", "--disable-hot-restart", "-c", str(config_file), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not ENVOY.exists(), reason="the envoy binary is installed by `make venv`")
def test_envoy_accepts_the_rendered_config_SYS_REQ_001(tmp_path: Path) -> None:
    result = validate(envoy_config(settings_in(tmp_path)), tmp_path / "envoy.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not ENVOY.exists(), reason="the envoy binary is installed by `make venv`")
def test_envoy_accepts_paths_that_need_quoting_SYS_REQ_006(tmp_path: Path) -> None:
    """A data directory whose name YAML would misread unquoted: `: `, `#`, quotes, spaces."""
    data_dir = tmp_path / "my data: #1 'x' \"y\""
    text = envoy_config(settings_in(data_dir))
    config = yaml.safe_load(text)
    tls = next(listener for listener in listeners(config).values() if port_of(listener) == 18443)
    assert tls_files_of(tls)[0] == (data_dir / "certs" / "dev-cert.pem").resolve()
    result = validate(text, tmp_path / "envoy.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
