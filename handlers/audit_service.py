"""The audit log (I/O): every staff write records who, when, what, and a before/after summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.accounts import Principal
from storage.interfaces import UnitOfWork
from storage.models import AuditLog


async def record(
    uow: UnitOfWork,
    actor: Principal | None,
    action: str,
    *,
    now: datetime,
    target_type: str = "",
    target_id: object = "",
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str = "",
    username: str = "",
) -> None:
    """Append an audit entry in the caller's transaction (it commits with the change)."""
    await uow.admin.add_audit(
        AuditLog(
            at=now,
            user_id=actor.user_id if actor else None,
            username=(actor.username if actor else username)[:64],
            action=action[:60],
            target_type=target_type[:40],
            target_id=str(target_id)[:100],
            summary=summary[:2000],
            before=_jsonable(before or {}),
            after=_jsonable(after or {}),
            ip=ip[:64],
        )
    )


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        elif isinstance(value, list | tuple):
            out[key] = [str(v) if not isinstance(v, str | int | float) else v for v in value]
        else:
            out[key] = str(value)
    return out
