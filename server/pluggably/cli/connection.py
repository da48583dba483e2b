"""How the client commands reach the gateway over gRPC, and what a failed call means for the person typing."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.longrunning import operations_pb2_grpc
from grpc_status import rpc_status

from pluggably.cli.status import UNREACHABLE, USAGE, CliError, exit_code_for, read_status, status_error
from pluggably.v1 import model_service_pb2_grpc, operation_watch_service_pb2_grpc

# Hosts a server binds to that a client cannot connect to as such.
_ANY_HOST = {"", "0.0.0.0", "::", "[::]"}


@dataclass
class Connection:
    """One channel to the gateway and the stubs the commands use."""

    address: str
    channel: grpc.Channel
    timeout_s: float
    # The options as typed, to repeat them in the commands the CLI suggests: before and after the subcommand.
    global_flags: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.operations = operations_pb2_grpc.OperationsStub(self.channel)
        self.watch = operation_watch_service_pb2_grpc.OperationWatchServiceStub(self.channel)

    def command(self, *words: str) -> str:
        """A `pluggably ...` command line with this connection's options."""
        return shlex.join(["pluggably", *self.global_flags, *words, *self.flags])

    def close(self) -> None:
        self.channel.close()


def _format_address(host: str, port: int) -> str:
    host = "127.0.0.1" if host in _ANY_HOST else host
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def connect(server: str | None, *, config: Path | None, tls: bool, ca: Path | None, timeout_s: float) -> Connection:
    """Opens a channel to `server`, or to the address the settings give: plain, the gRPC server itself; TLS,
    Envoy's TLS listener, trusting the development certificate unless `ca` is given."""
    settings = None
    if server is None or (tls and ca is None):
        from pluggably.settings import ConfigError, load_settings

        try:
            settings = load_settings(config)
        except ConfigError as err:
            raise CliError(str(err), USAGE) from err
    global_flags = ["--config", str(config)] if config is not None else []
    flags = ["--server", server] if server is not None else []
    if server is not None:
        address = server
    else:
        assert settings is not None
        host, port = (
            (settings.envoy.host, settings.envoy.https_port) if tls else (settings.server.host, settings.server.port)
        )
        address = _format_address(host, port)
    if not tls:
        return Connection(address, grpc.insecure_channel(address), timeout_s, global_flags, flags)
    flags.append("--tls")
    if ca is not None:
        flags += ["--ca", str(ca)]
    elif settings is not None and settings.envoy.tls_cert_file is None:
        from pluggably.devcert import DEV_CERT_NAME

        dev_cert = settings.certs_dir / DEV_CERT_NAME
        ca = dev_cert if dev_cert.exists() else None
    try:
        roots = ca.read_bytes() if ca is not None else None
    except OSError as err:
        raise CliError(f"cannot read the CA file {ca}: {err.strerror}", USAGE) from err
    if roots is not None and b"-----BEGIN CERTIFICATE-----" not in roots:
        raise CliError(f"the CA file {ca} holds no PEM certificate", USAGE)
    channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=roots))
    return Connection(address, channel, timeout_s, global_flags, flags)


def rpc_error(err: grpc.RpcError, conn: Connection, field_names: dict[str, str] | None = None) -> CliError:
    """A failed call as a CliError: the gateway's Status, or a plain message when the gateway was not reached."""
    assert isinstance(err, grpc.Call)
    status = rpc_status.from_call(err)
    if status is not None:
        return status_error(read_status(status), field_names)
    # Not from the gateway (it always sends a Status): the transport failed, or a proxy answered.
    code, details = err.code(), err.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        cause = _transport_failure(details)
        advice = (
            "Check --tls and --ca against the listener's certificate."
            if re.search(r"handshake|SSL|certificate", cause, re.IGNORECASE)
            else "Start it with `make run` (or `pluggably serve`), or point --server at it."
        )
        return CliError(f"cannot reach the gateway at {conn.address} ({cause}). {advice}", UNREACHABLE)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CliError(
            f"the gateway at {conn.address} did not answer within {conn.timeout_s:g} s (raise --timeout)", UNREACHABLE
        )
    return CliError(f"{details or 'the call failed'} [{code.name}]", exit_code_for(code.value[0]))


def _transport_failure(details: str) -> str:
    """The cause in gRPC's transport message ("failed to connect to all addresses; last error: UNKNOWN:
    ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused" -> the last part)."""
    text = details.removeprefix("failed to connect to all addresses; last error: ")
    text = re.sub(r"^[A-Z_]+: (ipv4|ipv6|unix|dns):\S+: ", "", text)
    return text.removesuffix(": OK") or "no answer"
