"""Configuration: defaults, YAML file, environment overrides, clear errors (SYS-REQ-006, SYS-NFR-008)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pluggably.settings import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PLUGGABLY_* variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("PLUGGABLY_"):
            monkeypatch.delenv(name)
    yield


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def config_error(config_file: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(config_file)
    return str(caught.value)


def test_defaults_without_file_or_environment_SYS_REQ_006() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.server.host == "127.0.0.1"  # loopback unless configured otherwise
    assert settings.server.port == 50051
    assert settings.envoy.tls_cert_file is None and settings.envoy.tls_key_file is None
    assert settings.logging.log_prompts is False  # DATA-REQ-003: prompts not logged by default
    assert settings.models_dir == settings.data_dir / "models"
    assert settings.certs_dir == settings.data_dir / "certs"


def test_yaml_file_sets_values_and_keeps_other_defaults_SYS_REQ_006(tmp_path: Path) -> None:
    config = write(
        tmp_path / "pluggably.yaml",
        f"""
data_dir: {tmp_path / "state"}
server:
  port: 6000
generation:
  max_concurrency: 3
  device: cpu
models:
  dir: /srv/models
  preload: [a, b]
logging:
  log_prompts: true
""",
    )
    settings = load_settings(config)
    assert settings.server.port == 6000
    assert settings.server.host == "127.0.0.1"  # untouched default in a set section
    assert settings.generation.max_concurrency == 3
    assert settings.generation.device == "cpu"
    assert settings.generation.max_queue == Settings().generation.max_queue
    assert settings.models_dir == Path("/srv/models")
    assert settings.models.preload == ("a", "b")
    assert settings.logging.log_prompts is True
    assert settings.certs_dir == tmp_path / "state" / "certs"


def test_config_file_from_pluggably_config_variable_SYS_REQ_006(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLUGGABLY_CONFIG", str(write(tmp_path / "c.yaml", "server: {port: 6001}")))
    assert load_settings().server.port == 6001


def test_environment_outranks_the_file_setting_by_setting_SYS_REQ_006(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path / "c.yaml", "server:\n  host: 0.0.0.0\n  port: 6000\nenvoy:\n  http_port: 8000\n")
    monkeypatch.setenv("PLUGGABLY_SERVER__PORT", "50052")
    monkeypatch.setenv("PLUGGABLY_GENERATION__MAX_QUEUE", "0")
    monkeypatch.setenv("PLUGGABLY_LOGGING__LEVEL", "DEBUG")
    settings = load_settings(config)
    assert settings.server.port == 50052  # environment wins
    assert settings.server.host == "0.0.0.0"  # the file's other value in that section stays
    assert settings.envoy.http_port == 8000
    assert settings.generation.max_queue == 0
    assert settings.logging.level == "DEBUG"


def test_environment_alone_overrides_defaults_SYS_REQ_006(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PLUGGABLY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PLUGGABLY_MODELS__DEFAULT_TEXT_MODEL", "other-model")
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert settings.models.default_text_model == "other-model"


def test_unknown_key_in_file_names_the_setting_SYS_REQ_006(tmp_path: Path) -> None:
    message = config_error(write(tmp_path / "c.yaml", "server:\n  prot: 6000\n"))
    assert "server.prot" in message
    assert str(tmp_path / "c.yaml") in message


def test_unknown_section_names_the_setting_SYS_REQ_006(tmp_path: Path) -> None:
    assert "colours" in config_error(write(tmp_path / "c.yaml", "colours: {a: 1}\n"))


@pytest.mark.parametrize(
    ("yaml_text", "setting"),
    [
        ("server: {port: 70000}", "server.port"),
        ("server: {port: not-a-port}", "server.port"),
        ("generation: {max_concurrency: 0}", "generation.max_concurrency"),
        ("generation: {device: tpu}", "generation.device"),
        ("generation: {queue_timeout_s: 0}", "generation.queue_timeout_s"),
        ("logging: {level: LOUD}", "logging.level"),
        ("envoy: {health_check_interval_s: -1}", "envoy.health_check_interval_s"),
    ],
)
def test_bad_value_in_file_names_the_setting_SYS_REQ_006(tmp_path: Path, yaml_text: str, setting: str) -> None:
    assert setting in config_error(write(tmp_path / "c.yaml", yaml_text))


def test_bad_value_in_environment_names_the_setting_SYS_REQ_006(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGGABLY_SERVER__PORT", "abc")
    assert "server.port" in config_error()


def test_every_bad_setting_is_named_at_once_SYS_REQ_006(tmp_path: Path) -> None:
    message = config_error(write(tmp_path / "c.yaml", "server: {port: -1}\ngeneration: {max_queue: -1}\n"))
    assert "server.port" in message and "generation.max_queue" in message


def test_unreadable_config_file_is_a_config_error_SYS_REQ_006(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert str(missing) in config_error(missing)
    assert str(tmp_path) in config_error(tmp_path)  # a directory


@pytest.mark.parametrize("text", ["server: [port: 1\n", "server:\n  port: 1\n port: 2\n", "\tserver: 1"])
def test_invalid_yaml_is_a_config_error_SYS_REQ_006(tmp_path: Path, text: str) -> None:
    assert "YAML" in config_error(write(tmp_path / "c.yaml", text))


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_config_file_must_hold_a_mapping_SYS_REQ_006(tmp_path: Path, text: str) -> None:
    assert "mapping" in config_error(write(tmp_path / "c.yaml", text))


def test_empty_config_file_means_defaults_SYS_REQ_006(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path / "c.yaml", "")) == Settings()


@pytest.mark.parametrize("present", ["tls_cert_file", "tls_key_file"])
def test_tls_certificate_and_key_must_come_together_SYS_NFR_008(tmp_path: Path, present: str) -> None:
    message = config_error(write(tmp_path / "c.yaml", f"envoy: {{{present}: /etc/tls/file.pem}}\n"))
    assert "tls_cert_file" in message and "tls_key_file" in message


def test_tls_pair_from_file_and_environment_is_accepted_SYS_NFR_008(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path / "c.yaml", "envoy: {tls_cert_file: /etc/tls/cert.pem}\n")
    monkeypatch.setenv("PLUGGABLY_ENVOY__TLS_KEY_FILE", "/etc/tls/key.pem")
    settings = load_settings(config)
    assert settings.envoy.tls_cert_file == Path("/etc/tls/cert.pem")
    assert settings.envoy.tls_key_file == Path("/etc/tls/key.pem")


def test_unknown_key_in_environment_names_the_setting_SYS_REQ_006(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGGABLY_SERVER__PROT", "6000")
    assert "server.prot" in config_error()


def test_list_setting_from_environment_SYS_REQ_006(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGGABLY_MODELS__PRELOAD", '["a", "b"]')
    assert load_settings().models.preload == ("a", "b")


def test_prompt_logging_is_off_unless_turned_on_DATA_REQ_003(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().logging.log_prompts is False
    monkeypatch.setenv("PLUGGABLY_LOGGING__LOG_PROMPTS", "true")
    assert load_settings().logging.log_prompts is True


def test_misspelled_section_in_environment_stops_start_up_SYS_REQ_006(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGGABLY_SERVR__PORT", "6000")
    assert "PLUGGABLY_SERVR__PORT" in config_error()
