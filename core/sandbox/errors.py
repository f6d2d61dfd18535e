"""The sandbox's error answer, shared by the backend, its request checks and the HTTP server."""

from __future__ import annotations


class ApiFailure(Exception):
    """An error answer of the API: HTTP status and Amazon's error body."""

    def __init__(self, status: int, reason_code: str, message: str) -> None:
        super().__init__(f"{status} {reason_code}: {message}")
        self.status = status
        self.reason_code = reason_code
        self.message = message
        self.recorded = False  # already in the call log

    def body(self) -> dict[str, str]:
        return {"reasonCode": self.reason_code, "message": self.message}
