"""A resident withdraws (撤销) their own report before it is resolved (I/O).

The ticket is cancelled by the ``withdraw`` move (every clock stops), the worker holding it
is told so they stop, and neighbours following it hear that the report was withdrawn (their
own problem may remain, so they are invited to report it themselves).
"""

from __future__ import annotations

from handlers.flows import category_label
from handlers.i18n import t
from handlers.lifecycle import Actor, Move, next_status
from handlers.messages import Outbound
from handlers.notices import facts_location
from handlers.tickets.moves import Moves
from handlers.tickets.notify import Notifications
from storage.interfaces import UnitOfWork
from storage.models import Ticket


class Withdrawal:
    """Withdraws a resident's own report.

    Args:
        moves: applies the move.
        notify: tells the worker and the followers.
    """

    def __init__(self, moves: Moves, notify: Notifications) -> None:
        self.moves = moves
        self.notify = notify

    async def withdraw(self, uow: UnitOfWork, ticket: Ticket, actor: Actor, reason: str) -> None:
        """Cancel the ticket for its reporter. Raises ``InvalidTransition`` once resolved."""
        next_status(ticket.status, Move.WITHDRAW)
        await self.moves.apply(
            uow, ticket, Move.WITHDRAW, actor, note=reason or "居民撤销", data={"by": "resident"}
        )
        if ticket.assignee_id:
            await self.notify.push_to_worker(
                uow,
                ticket.assignee_id,
                Outbound(
                    text=t(
                        "worker.withdrawn",
                        "zh",
                        number=ticket.number,
                        category=category_label(ticket.category),
                        location=facts_location(ticket),
                        reason=t("withdraw.reason", "zh", reason=reason) if reason else "",
                    ).strip(),
                    kind="worker_notice",
                    data={"number": ticket.number},
                ),
                ticket,
            )
        await self.notify.push_resident(uow, ticket, "withdrawn", reporter=False)
