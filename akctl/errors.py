"""akctl's one error type: a message and the exit code of DESIGN.md section 7.

Exit codes: 0 success, 1 anything else, 2 usage (click's: unknown option, missing
argument), 40 invalid argument or manifest, 41 unauthenticated, 42 failed
precondition, 43 forbidden, 44 not found, 130 interrupted.
"""

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

USAGE_EXIT = 2
# The code a --json error names, by exit code (for errors that did not come from the API).
CODES_BY_EXIT: dict[int, str] = {
    1: "error", USAGE_EXIT: "usage", 40: "invalid_argument", 41: "unauthenticated",
    42: "failed_precondition", 43: "forbidden", 44: "not_found", 130: "aborted",
}  # fmt: skip


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = 1, hint: str = "", code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hint = hint
        self.code = code or CODES_BY_EXIT.get(exit_code, "error")

    @classmethod
    def from_code(cls, code: str, message: str) -> CliError:
        return cls(message, EXIT_CODES.get(code, 1), code=code)
