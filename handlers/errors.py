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
