"""Maps the domain's errors to `google.rpc.Status` (SYS-NFR-002), in one place.

Every status carries an `ErrorInfo` (reason, domain `pluggably.dev`, metadata),
plus `BadRequest` field violations for validation errors, `RetryInfo` where a
retry can help, and `QuotaFailure` for exceeded limits. Envoy turns the same
status into the JSON body REST callers get.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from pluggably.core import errors

ERROR_DOMAIN = "pluggably.dev"

_CODES: dict[type[errors.PluggablyError], grpc.StatusCode] = {
    errors.ValidationError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFoundError: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.OperationCancelledError: grpc.StatusCode.CANCELLED,
    errors.FeatureNotSupportedError: grpc.StatusCode.UNIMPLEMENTED,
    errors.IntegrityError: grpc.StatusCode.DATA_LOSS,
    errors.PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    errors.BackendUnavailableError: grpc.StatusCode.UNAVAILABLE,
    errors.OverloadedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.QuotaExceededError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.DeadlineExceededError: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.RangeNotSatisfiableError: grpc.StatusCode.OUT_OF_RANGE,
    errors.InternalError: grpc.StatusCode.INTERNAL,
}


def grpc_code(error: errors.PluggablyError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def _packed(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(int(seconds * 1000))
    return error_details_pb2.RetryInfo(retry_delay=delay)


def to_status(error: errors.PluggablyError) -> status_pb2.Status:
    """The `google.rpc.Status` for a domain error, with its detail messages."""
    code = grpc_code(error)
    details = [_packed(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata))]
    match error:
        case errors.ValidationError():
            details.append(
                _packed(
                    error_details_pb2.BadRequest(
                        field_violations=[
                            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                            for v in error.violations
                        ]
                    )
                )
            )
        case errors.BackendUnavailableError() | errors.OverloadedError():
            details.append(_packed(_retry_info(error.retry_after_s)))
        case errors.QuotaExceededError():
            details.append(
                _packed(
                    error_details_pb2.QuotaFailure(
                        violations=[
                            error_details_pb2.QuotaFailure.Violation(subject=v.subject, description=v.description)
                            for v in error.violations
                        ]
                    )
                )
            )
    return status_pb2.Status(code=code.value[0], message=error.message, details=details)


def status_for_unexpected(request_id: str | None) -> status_pb2.Status:
    """What a caller sees of a bug: no internals, just where to look in the logs."""
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error; the server log has details under request id {request_id}",
        details=[
            _packed(
                error_details_pb2.ErrorInfo(
                    reason="INTERNAL", domain=ERROR_DOMAIN, metadata={"request_id": request_id or ""}
                )
            )
        ],
    )
