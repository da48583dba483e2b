"""Reading `google.rpc.Status` details, as gRPC and REST callers receive them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

_DETAIL_TYPES = {
    "ErrorInfo": error_details_pb2.ErrorInfo,
    "BadRequest": error_details_pb2.BadRequest,
    "RetryInfo": error_details_pb2.RetryInfo,
    "QuotaFailure": error_details_pb2.QuotaFailure,
}


@dataclass
class StatusDetails:
    """The parts of a status tests look at."""

    code: int
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: dict[str, str] = field(default_factory=dict)
    retry_delay_s: float | None = None
    quota_violations: dict[str, str] = field(default_factory=dict)


def from_status(status: status_pb2.Status) -> StatusDetails:
    result = StatusDetails(code=status.code, message=status.message)
    for detail in status.details:
        for name, message_type in _DETAIL_TYPES.items():
            if detail.Is(message_type.DESCRIPTOR):
                message = message_type()
                detail.Unpack(message)
                if name == "ErrorInfo":
                    result.reason, result.domain = message.reason, message.domain
                    result.metadata = dict(message.metadata)
                elif name == "BadRequest":
                    result.field_violations = {v.field: v.description for v in message.field_violations}
                elif name == "RetryInfo":
                    result.retry_delay_s = message.retry_delay.ToTimedelta().total_seconds()
                elif name == "QuotaFailure":
                    result.quota_violations = {v.subject: v.description for v in message.violations}
    return result


def from_rpc_error(error: grpc.aio.AioRpcError | grpc.RpcError) -> StatusDetails:
    status = rpc_status.from_call(error)
    assert status is not None, f"the error carries no google.rpc.Status details: {error}"
    return from_status(status)


def from_json(body: dict[str, Any]) -> StatusDetails:
    """The JSON Status body Envoy sends REST callers."""
    result = StatusDetails(code=body["code"], message=body.get("message", ""))
    for detail in body.get("details", []):
        kind = detail["@type"].rsplit(".", 1)[-1]
        if kind == "ErrorInfo":
            result.reason, result.domain = detail["reason"], detail.get("domain", "")
            result.metadata = detail.get("metadata", {})
        elif kind == "BadRequest":
            result.field_violations = {v["field"]: v["description"] for v in detail.get("fieldViolations", [])}
        elif kind == "RetryInfo":
            result.retry_delay_s = float(detail["retryDelay"].rstrip("s"))
        elif kind == "QuotaFailure":
            result.quota_violations = {v["subject"]: v["description"] for v in detail.get("violations", [])}
    return result
