"""The client commands' failures: exit codes, and the gateway's `google.rpc.Status` as readable lines.

Exit codes (docs/cli.md): 0 done; 1 the gateway refused or the operation failed; 2 bad usage or a request the
gateway rejected as invalid; 3 the gateway could not be reached (or did not answer in time); 130 interrupted.
Nothing here imports gRPC: `pluggably.cli.connection` does, once the command knows it needs the network.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from google.rpc import code_pb2, error_details_pb2, status_pb2

OK = 0
FAILED = 1
USAGE = 2
UNREACHABLE = 3
INTERRUPTED = 130


@dataclass(frozen=True)
class StatusReport:
    """The readable parts of a `google.rpc.Status`."""

    code: int
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: tuple[tuple[str, str], ...] = ()
    quota_violations: tuple[tuple[str, str], ...] = ()
    retry_delay_s: float | None = None


class CliError(Exception):
    """A failure the CLI reports as one message (plus optional lines) and an exit code."""

    def __init__(self, message: str, exit_code: int = FAILED, *, lines: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.lines = lines
        self.report: StatusReport | None = None  # the gateway's Status, when it sent one


def read_status(status: status_pb2.Status) -> StatusReport:
    reason, metadata, fields, quotas, retry = "", {}, [], [], None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [(v.field, v.description) for v in bad.field_violations]
        elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
            quota = error_details_pb2.QuotaFailure()
            detail.Unpack(quota)
            quotas += [(v.subject, v.description) for v in quota.violations]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry_info = error_details_pb2.RetryInfo()
            detail.Unpack(retry_info)
            retry = retry_info.retry_delay.ToTimedelta().total_seconds()
    return StatusReport(status.code, status.message, reason, metadata, tuple(fields), tuple(quotas), retry)


def code_name(code: int) -> str:
    return code_pb2.Code.Name(code) if code in code_pb2.Code.values() else str(code)


def exit_code_for(code: int) -> int:
    return USAGE if code == code_pb2.INVALID_ARGUMENT else FAILED


def status_lines(report: StatusReport, field_names: dict[str, str] | None = None) -> list[str]:
    """The message with its code, then one line per field or quota violation, then the retry delay.
    `field_names` names request fields as the command line does (`model_id` -> `--id`)."""
    names = field_names or {}
    message = report.message
    listed = "; ".join(f"{name}: {description}" for name, description in report.field_violations)
    if listed and message.endswith(": " + listed):  # the violations follow, one a line
        message = message.removesuffix(": " + listed)
    lines = [f"{message} [{code_name(report.code)}]"]
    for name, description in report.field_violations:
        option = names.get(max((f for f in names if _within(name, f)), key=len, default=""), "")
        lines.append(f"  {name}{f' ({option})' if option else ''}: {description}")
    lines += [f"  {subject}: {description}" for subject, description in report.quota_violations]
    if report.retry_delay_s is not None:
        lines.append(f"  retry after {report.retry_delay_s:g} s")
    return lines


def _within(name: str, field: str) -> bool:
    """Whether the field path `name` is `field` or inside it (`source.url` is inside `source`)."""
    return name == field or name.startswith((f"{field}.", f"{field}["))


def status_error(report: StatusReport, field_names: dict[str, str] | None = None, prefix: str = "") -> CliError:
    head, *rest = status_lines(report, field_names)
    error = CliError(prefix + head, exit_code_for(report.code), lines=tuple(rest))
    error.report = report
    return error


def report_error(error: CliError, stream: TextIO | None = None) -> int:
    """Prints the error to stderr; returns its exit code."""
    stream = stream or sys.stderr
    print(f"pluggably: {error.message}", file=stream)
    for line in error.lines:
        print(line, file=stream)
    return error.exit_code
