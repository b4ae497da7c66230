"""Reaching a building head or volunteer (I/O): their own chat, the one they wrote from
last. Shared by the helper service (asks on tickets) and the notice service (pass-on notes).

A text message is never used for them: what they are sent carries buttons (已恢复/未恢复)
or is a note to pass on that they should be able to answer or forward from their chat.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from handlers.codec import outbound_to_dict
from handlers.messages import Outbound
from handlers.people import ORDER, HelperRole
from storage.interfaces import UnitOfWork
from storage.models import BuildingHelper, ChannelIdentity

SMS = "sms"


async def chat_of(uow: UnitOfWork, resident_id: int | None) -> ChannelIdentity | None:
    """A resident's own chat (not SMS): reachable, written from last."""
    if resident_id is None:
        return None
    found = [
        i for i in await uow.people.identities_of(resident_id) if i.reachable and i.channel != SMS
    ]
    if not found:
        return None
    return max(found, key=_last_inbound)


async def send_to_helper(
    uow: UnitOfWork,
    helper: BuildingHelper,
    message: Outbound,
    *,
    now: datetime,
    ticket_id: int | None = None,
) -> bool:
    """Queue a message to the helper's chat; False when they have linked none."""
    identity = await chat_of(uow, helper.resident_id)
    if identity is None:
        return False
    await uow.outbox.enqueue(
        identity.channel, identity.user_id, outbound_to_dict(message), now=now, ticket_id=ticket_id
    )
    uow.queued += 1
    return True


def by_rank(helpers: Iterable[BuildingHelper], unit: str = "") -> list[BuildingHelper]:
    """Building head first, then the head of the ticket's unit, then volunteers."""

    def rank(h: BuildingHelper) -> tuple[int, int, int]:
        try:
            order = ORDER[HelperRole(h.role)]
        except ValueError:
            order = 9
        other_unit = 1 if h.role == HelperRole.UNIT_HEAD and unit and h.unit != unit else 0
        return (order, other_unit, h.id or 0)

    return sorted(helpers, key=rank)


def _last_inbound(identity: ChannelIdentity) -> tuple[float, int]:
    last = identity.last_inbound_at
    return (last.timestamp() if last else 0.0, identity.id or 0)
