"""Errors of the dialogue and domain layer."""

from __future__ import annotations


class DialogueError(Exception):
    """Root of errors raised by handlers/."""


class InvalidTransition(DialogueError):  # noqa: N818 -- reads as a domain fact
    """A ticket move that the state machine does not allow; nothing was changed."""


class PermissionDenied(DialogueError):  # noqa: N818
    """The actor may not act on this ticket."""


class TicketNotFound(DialogueError):  # noqa: N818
    """No ticket with that number (or not visible to the actor)."""


class Refused(DialogueError):  # noqa: N818 -- a refusal to show, not a crash
    """A staff request refused, with a message (Chinese) the person can act on.

    The console and the APIs show ``message`` as is (and ``detail``, e.g. one error per CSV
    row); the shell picks the HTTP status from the subclass.
    """

    def __init__(self, message: str, *, detail: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(Refused):
    """The input is wrong: a bad name, a malformed file, a missing field."""


class NotAuthenticated(Refused):
    """No valid identity: wrong password, expired session or token."""


class NotAllowed(Refused):
    """The permission model refuses the person this action."""


class NotFound(Refused):
    """Nothing by that id, or nothing the person may see by it."""


class Conflict(Refused):
    """The request contradicts what is stored: a name taken, an item already decided."""


class Locked(Refused):
    """The account is locked after too many failed logins."""
