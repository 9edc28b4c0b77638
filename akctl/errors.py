"""akctl's one error type: a message and the exit code of DESIGN.md section 7."""

from __future__ import annotations

# Exit codes by the API's error codes.
EXIT_CODES: dict[str, int] = {
    "invalid_argument": 40,
    "invalid_manifest": 40,
    "build_failed": 40,
    "unauthenticated": 41,
    "failed_precondition": 42,
    "forbidden": 43,
    "not_found": 44,
}


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = 1, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hint = hint

    @classmethod
    def from_code(cls, code: str, message: str) -> CliError:
        return cls(message, EXIT_CODES.get(code, 1))
