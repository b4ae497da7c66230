"""Console errors: the domain's refusals (``handlers.errors.Refused``) with their HTTP status.

Every rule of the console lives in ``handlers/`` and refuses with a ``Refused`` subclass; the
console renders it as JSON ``{"error": ...}`` or an HTML page with the status below. The
names the console code used before are kept as aliases.
"""

from __future__ import annotations

from handlers.errors import (
    Conflict,
    InvalidInput,
    Locked,
    NotAllowed,
    NotAuthenticated,
    NotFound,
    Refused,
)

AdminProblem = Refused
BadInput = InvalidInput
Unauthenticated = NotAuthenticated
Forbidden = NotAllowed
Missing = NotFound

__all__ = [
    "AdminProblem",
    "BadInput",
    "Conflict",
    "Forbidden",
    "Locked",
    "Missing",
    "TooLarge",
    "Unauthenticated",
    "status_of",
]


class TooLarge(Refused):
    """An upload over the size limit (an HTTP concern: the body is refused before parsing)."""


STATUS: dict[type[Refused], int] = {
    InvalidInput: 422,
    NotAuthenticated: 401,
    NotAllowed: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Locked: 423,
}


def status_of(problem: Refused) -> int:
    """The HTTP status of a refusal (400 for a kind without its own)."""
    for cls in type(problem).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400
