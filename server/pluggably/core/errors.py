"""The domain's one exception tree.

Every failure a caller can see is a `PluggablyError`. Each subclass names its
`google.rpc.ErrorInfo` reason; the transport layer (`pluggably.rpc.errors`)
maps each class to a status code and its detail messages, in one place. Nothing
here knows about gRPC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldViolation:
    """One bad request field: its path (e.g. `messages[0].role`) and why."""

    field: str
    description: str


@dataclass(frozen=True)
class QuotaViolation:
    """One exceeded limit: what it limits and by how much."""

    subject: str
    description: str


class PluggablyError(Exception):
    """Base of every error a caller can see. `reason` is the ErrorInfo reason."""

    reason = "INTERNAL"

    def __init__(self, message: str, *, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})


class ValidationError(PluggablyError):
    """The request is malformed or out of range; lists every bad field."""

    reason = "VALIDATION_ERROR"

    def __init__(self, violations: Sequence[FieldViolation], message: str | None = None) -> None:
        if not violations:
            raise ValueError("a ValidationError needs at least one violation")
        self.violations = tuple(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(message or f"invalid request: {summary}")

    @classmethod
    def single(cls, field: str, description: str) -> ValidationError:
        return cls([FieldViolation(field, description)])


class NotFoundError(PluggablyError):
    """A named resource does not exist."""

    reason = "NOT_FOUND"

    def __init__(self, resource: str, message: str | None = None) -> None:
        super().__init__(message or f"{resource} was not found", metadata={"resource": resource})
        self.resource = resource


class AlreadyExistsError(PluggablyError):
    """The resource to create exists already."""

    reason = "ALREADY_EXISTS"


class OperationCancelledError(PluggablyError):
    """A long-running operation was cancelled by a caller."""

    reason = "CANCELLED"


class FailedPreconditionError(PluggablyError):
    """The system is not in a state that allows the operation (e.g. a pinned model)."""

    reason = "FAILED_PRECONDITION"


class NoModelForModalityError(FailedPreconditionError):
    """No installed model can serve the request's modality; the message names the command that installs one."""

    reason = "NO_MODEL_FOR_MODALITY"


class EmptyMeshError(FailedPreconditionError):
    """The model produced a mesh with no surface (no vertices or faces): nothing worth storing."""

    reason = "EMPTY_MESH"


class PermissionDeniedError(PluggablyError):
    """The caller, or the gateway's own credentials, may not do this."""

    reason = "PERMISSION_DENIED"


class SignatureInvalidError(PermissionDeniedError):
    """A signed URL whose signature is missing, malformed, or not for this resource, expiry and method."""

    reason = "SIGNATURE_INVALID"


class UrlExpiredError(PermissionDeniedError):
    """A correctly signed URL past its expiry."""

    reason = "URL_EXPIRED"


class IntegrityError(PluggablyError):
    """Data failed its checks (size, hash): corrupt in transit or at the source."""

    reason = "INTEGRITY_CHECK_FAILED"


class FeatureNotSupportedError(PluggablyError):
    """The method, model or runtime cannot do what was asked (yet)."""

    reason = "FEATURE_NOT_SUPPORTED"


class BackendUnavailableError(PluggablyError):
    """A model could not be loaded or a provider failed; worth retrying later."""

    reason = "BACKEND_UNAVAILABLE"

    def __init__(self, message: str, *, retry_after_s: float = 5.0, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message, metadata=metadata)
        self.retry_after_s = retry_after_s


class OverloadedError(PluggablyError):
    """Every slot is busy and the wait queue is full or timed out."""

    reason = "OVERLOADED"

    def __init__(self, message: str, *, retry_after_s: float, metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message, metadata=metadata)
        self.retry_after_s = retry_after_s


class QuotaExceededError(PluggablyError):
    """A configured limit (disk budget, rate) would be exceeded."""

    reason = "QUOTA_EXCEEDED"

    def __init__(self, message: str, violations: Sequence[QuotaViolation]) -> None:
        super().__init__(message)
        self.violations = tuple(violations)

    @classmethod
    def listing(cls, what: str, violations: Sequence[QuotaViolation]) -> QuotaExceededError:
        """`what`, then every violation's description: "the download does not fit: ...; ..."."""
        return cls(f"{what}: " + "; ".join(v.description for v in violations), violations)


class RangeNotSatisfiableError(PluggablyError):
    """A byte range that lies outside the file."""

    reason = "RANGE_NOT_SATISFIABLE"


class DeadlineExceededError(PluggablyError):
    """The caller's deadline passed before the work finished."""

    reason = "DEADLINE_EXCEEDED"


class InternalError(PluggablyError):
    """A bug or an unexpected failure; details are in the server log only."""

    reason = "INTERNAL"


def error_to_json(error: PluggablyError) -> dict[str, Any]:
    """A domain error as plain data, for storing (e.g. a finished operation's outcome)."""
    value: dict[str, Any] = {"type": type(error).__name__, "message": error.message, "metadata": error.metadata}
    if isinstance(error, ValidationError):
        value["violations"] = [[v.field, v.description] for v in error.violations]
    elif isinstance(error, QuotaExceededError):
        value["violations"] = [[v.subject, v.description] for v in error.violations]
    elif isinstance(error, BackendUnavailableError | OverloadedError):
        value["retry_after_s"] = error.retry_after_s
    elif isinstance(error, NotFoundError):
        value["resource"] = error.resource
    return value


def error_from_json(value: dict[str, Any]) -> PluggablyError:
    """The inverse of `error_to_json`; an unknown type comes back as InternalError."""
    kind = {cls.__name__: cls for cls in _all_error_classes()}.get(value.get("type", ""), InternalError)
    message, metadata = str(value.get("message", "")), dict(value.get("metadata", {}))
    error: PluggablyError
    if kind is ValidationError:
        error = ValidationError([FieldViolation(*v) for v in value["violations"]], message)
    elif kind is QuotaExceededError:
        error = QuotaExceededError(message, [QuotaViolation(*v) for v in value["violations"]])
    elif kind is BackendUnavailableError or kind is OverloadedError:
        error = kind(message, retry_after_s=float(value.get("retry_after_s", 5.0)), metadata=metadata)
    elif kind is NotFoundError:
        error = NotFoundError(str(value.get("resource", "")), message)
    else:
        error = kind(message, metadata=metadata)
    error.metadata = metadata
    return error


def _all_error_classes() -> list[type[PluggablyError]]:
    found, pending = [], [PluggablyError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
