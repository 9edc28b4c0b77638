"""The one error hierarchy of akd.

Every error that crosses a boundary (HTTP, CLI) is an ``AkdError`` with an HTTP
status, a stable code and a message that says what happened and how to fix it::

    AkdError                      500 internal
    ├── InvalidArgument           400 invalid_argument    (akctl exit 40)
    │   ├── ManifestError         400 invalid_manifest
    │   └── BuildError            400 build_failed
    ├── Unauthenticated           401 unauthenticated     (akctl exit 41)
    ├── FailedPrecondition        412 failed_precondition (akctl exit 42)
    ├── Forbidden                 403 forbidden           (akctl exit 43)
    ├── NotFound                  404 not_found           (akctl exit 44)
    ├── RequestTimeout            408 request_timeout     (slow request head or body)
    ├── PayloadTooLarge           413 payload_too_large
    ├── ResourceExhausted         429 resource_exhausted  (event quota; with Retry-After)
    ├── BadGateway                502 bad_gateway         (sync webhook: no session)
    ├── Unavailable               503 unavailable
    └── GatewayTimeout            504 gateway_timeout     (sync webhook: no outcome in time)
"""

from __future__ import annotations

from typing import Any


class AkdError(Exception):
    """Base of every error akd reports to a user."""

    status: int = 500
    code: str = "internal"
    # Extra HTTP response headers (e.g. Retry-After); None for most errors.
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The wire shape: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidArgument(AkdError):
    status = 400
    code = "invalid_argument"


class ManifestError(InvalidArgument):
    """A manifest problem, located by file, line and key path."""

    code = "invalid_manifest"

    def __init__(self, message: str, *, file: str = "", line: int | None = None, key: str = "") -> None:
        where = file
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        prefix = ": ".join(p for p in (where, key) if p)
        super().__init__(
            f"{prefix}: {message}" if prefix else message,
            details={"file": file, "line": line, "key": key},
        )
        self.file = file
        self.line = line
        self.key = key


class BuildError(InvalidArgument):
    """A project file problem, located by file, line and column."""

    code = "build_failed"

    def __init__(
        self, message: str, *, file: str = "", line: int | None = None, column: int | None = None, text: str = ""
    ) -> None:
        where = file
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        full = f"{where}: {message}" if where else message
        if text:
            full += f"\n    {text.rstrip()}"
        super().__init__(full, details={"file": file, "line": line, "column": column})


class Unauthenticated(AkdError):
    status = 401
    code = "unauthenticated"


class Forbidden(AkdError):
    status = 403
    code = "forbidden"


class NotFound(AkdError):
    status = 404
    code = "not_found"


class FailedPrecondition(AkdError):
    status = 412
    code = "failed_precondition"


class RequestTimeout(AkdError):
    """The request head or body did not arrive in time (raised by the HTTP layer, akd.api.limits)."""

    status = 408
    code = "request_timeout"


class PayloadTooLarge(AkdError):
    status = 413
    code = "payload_too_large"


class ResourceExhausted(AkdError):
    """A quota is used up for now; ``retry_after`` seconds from now there is room again."""

    status = 429
    code = "resource_exhausted"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class Unavailable(AkdError):
    status = 503
    code = "unavailable"


class BadGateway(AkdError):
    status = 502
    code = "bad_gateway"


class GatewayTimeout(AkdError):
    status = 504
    code = "gateway_timeout"


# akctl exit codes by error code (DESIGN.md section 7).
EXIT_CODES: dict[str, int] = {
    "invalid_argument": 40,
    "invalid_manifest": 40,
    "build_failed": 40,
    "unauthenticated": 41,
    "failed_precondition": 42,
    "forbidden": 43,
    "not_found": 44,
}
