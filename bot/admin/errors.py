"""Console errors: each carries the HTTP status and a message a person can act on."""

from __future__ import annotations

from typing import Any


class AdminProblem(Exception):  # noqa: N818 -- a problem to show, not a crash
    """A refused console or API action. Rendered as JSON ``{"error": ...}`` or an HTML page."""

    status = 400

    def __init__(self, message: str, *, detail: Any = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if status is not None:
            self.status = status


class BadInput(AdminProblem):
    status = 422


class Unauthenticated(AdminProblem):
    status = 401


class Forbidden(AdminProblem):
    status = 403


class Missing(AdminProblem):
    status = 404


class Conflict(AdminProblem):
    status = 409


class TooLarge(AdminProblem):
    status = 413


class Locked(AdminProblem):
    status = 423
