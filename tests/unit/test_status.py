"""Domain errors as google.rpc.Status: code, ErrorInfo and detail messages (SYS-NFR-002)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from pluggably.core import errors
from pluggably.core.errors import FieldViolation, QuotaViolation
from pluggably.rpc.status import status_for_unexpected, to_status
from tests.support.status import from_status

CASES: list[tuple[errors.PluggablyError, grpc.StatusCode, str]] = [
    (errors.ValidationError.single("temperature", "too hot"), grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_ERROR"),
    (errors.NotFoundError("models/nope"), grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    (errors.AlreadyExistsError("models/x exists"), grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
    (errors.FailedPreconditionError("model is missing"), grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION"),
    (errors.FeatureNotSupportedError("no mesh yet"), grpc.StatusCode.UNIMPLEMENTED, "FEATURE_NOT_SUPPORTED"),
    (errors.BackendUnavailableError("loading"), grpc.StatusCode.UNAVAILABLE, "BACKEND_UNAVAILABLE"),
    (errors.OverloadedError("busy", retry_after_s=2.5), grpc.StatusCode.RESOURCE_EXHAUSTED, "OVERLOADED"),
    (
        errors.QuotaExceededError("disk full", [QuotaViolation("disk", "needs 5 GB more")]),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "QUOTA_EXCEEDED",
    ),
    (errors.DeadlineExceededError("too slow"), grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"),
    (errors.InternalError("bug"), grpc.StatusCode.INTERNAL, "INTERNAL"),
    (errors.OperationCancelledError("cancelled by a caller"), grpc.StatusCode.CANCELLED, "CANCELLED"),
    (errors.IntegrityError("sha256 mismatch"), grpc.StatusCode.DATA_LOSS, "INTEGRITY_CHECK_FAILED"),
    (errors.PermissionDeniedError("gated repo"), grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"),
    (errors.RangeNotSatisfiableError("past the end"), grpc.StatusCode.OUT_OF_RANGE, "RANGE_NOT_SATISFIABLE"),
    # Subclasses keep their parent's code and name their own reason.
    (errors.NoModelForModalityError("none"), grpc.StatusCode.FAILED_PRECONDITION, "NO_MODEL_FOR_MODALITY"),
    (errors.EmptyMeshError("no surface"), grpc.StatusCode.FAILED_PRECONDITION, "EMPTY_MESH"),
    (errors.SignatureInvalidError("tampered"), grpc.StatusCode.PERMISSION_DENIED, "SIGNATURE_INVALID"),
    (errors.UrlExpiredError("too late"), grpc.StatusCode.PERMISSION_DENIED, "URL_EXPIRED"),
]


def detail_types(status: status_pb2.Status) -> list[str]:
    return [d.type_url.rsplit("/", 1)[-1] for d in status.details]


@pytest.mark.parametrize(("error", "code", "reason"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_each_error_maps_to_its_code_and_error_info_SYS_NFR_002(
    error: errors.PluggablyError, code: grpc.StatusCode, reason: str
) -> None:
    status = to_status(error)
    details = from_status(status)
    assert details.code == code.value[0]
    assert details.message == error.message
    assert details.reason == reason
    assert details.domain == "pluggably.dev"
    assert detail_types(status)[0] == "google.rpc.ErrorInfo"


def test_every_error_class_has_a_mapping_SYS_NFR_002() -> None:
    """A new subclass without its own code would silently become INTERNAL."""
    mapped = {type(error) for error, _, _ in CASES}
    assert set(errors.PluggablyError.__subclasses__()) <= mapped


def test_error_metadata_travels_in_error_info_SYS_NFR_002() -> None:
    error = errors.FeatureNotSupportedError("no", metadata={"model": "models/x", "runtime": "onnx"})
    assert from_status(to_status(error)).metadata == {"model": "models/x", "runtime": "onnx"}
    assert from_status(to_status(errors.NotFoundError("models/y"))).metadata == {"resource": "models/y"}


def test_validation_error_lists_every_field_violation_SYS_NFR_002() -> None:
    error = errors.ValidationError(
        [FieldViolation("messages[0].role", "bad role"), FieldViolation("top_p", "must be at most 1")]
    )
    status = to_status(error)
    assert detail_types(status) == ["google.rpc.ErrorInfo", "google.rpc.BadRequest"]
    assert from_status(status).field_violations == {"messages[0].role": "bad role", "top_p": "must be at most 1"}


@pytest.mark.parametrize(
    "error",
    [errors.BackendUnavailableError("loading", retry_after_s=30), errors.OverloadedError("busy", retry_after_s=1.5)],
)
def test_retryable_errors_carry_retry_info_SYS_NFR_002(error: errors.PluggablyError) -> None:
    status = to_status(error)
    assert "google.rpc.RetryInfo" in detail_types(status)
    assert from_status(status).retry_delay_s == pytest.approx(error.retry_after_s)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "error",
    [errors.ValidationError.single("x", "y"), errors.FailedPreconditionError("no"), errors.InternalError("bug")],
)
def test_errors_that_a_retry_cannot_fix_carry_no_retry_info_SYS_NFR_002(error: errors.PluggablyError) -> None:
    assert "google.rpc.RetryInfo" not in detail_types(to_status(error))


def test_quota_error_carries_quota_failure_SYS_NFR_002() -> None:
    error = errors.QuotaExceededError(
        "over budget", [QuotaViolation("disk", "needs 5 GB more"), QuotaViolation("models", "at most 10")]
    )
    status = to_status(error)
    assert detail_types(status) == ["google.rpc.ErrorInfo", "google.rpc.QuotaFailure"]
    quota = error_details_pb2.QuotaFailure()
    assert status.details[1].Unpack(quota)
    assert [(v.subject, v.description) for v in quota.violations] == [
        ("disk", "needs 5 GB more"),
        ("models", "at most 10"),
    ]


def test_unexpected_errors_leak_no_exception_text_SYS_NFR_002() -> None:
    """The caller sees only the request id to quote: no exception type, text or traceback."""
    status = status_for_unexpected("req-42")
    details = from_status(status)
    assert details.code == code_pb2.INTERNAL
    assert details.reason == "INTERNAL"
    assert details.domain == "pluggably.dev"
    assert "req-42" in details.message  # where to look in the server log
    assert details.metadata == {"request_id": "req-42"}
    assert detail_types(status) == ["google.rpc.ErrorInfo"]  # no DebugInfo with a stack trace
    # The same text for every failure, but for the id.
    assert status_for_unexpected("other-id").message == status.message.replace("req-42", "other-id")


def test_unexpected_error_without_request_id_SYS_NFR_002() -> None:
    details = from_status(status_for_unexpected(None))
    assert details.code == code_pb2.INTERNAL
    assert details.metadata == {"request_id": ""}


@pytest.mark.parametrize(("error", "code", "reason"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_errors_survive_a_round_trip_through_json_SYS_NFR_002(error, code, reason) -> None:
    """Finished operations store their error; read back, it must give the same status."""
    again = errors.error_from_json(errors.error_to_json(error))
    assert type(again) is type(error)
    assert to_status(again) == to_status(error)
