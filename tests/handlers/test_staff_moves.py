"""The one add_note and the one close, through the by-number staff API (the console's own
path is tests/bot/admin/test_tickets.py): who may, what it does, who is told."""

from __future__ import annotations

import pytest

from handlers.errors import InvalidTransition, PermissionDenied
from handlers.lifecycle import Actor
from storage.models import GridWorker
from storage.repositories import SqlStore
from tests.handlers.lifecycle_support import Desk, desk, events_of, file_ticket, outbox_texts


async def worker(d: Desk, name: str) -> GridWorker:
    async with d.store.unit() as uow:
        return next(w for w in await uow.registry.workers() if w.name == name)


async def test_close_resolves_and_closes_a_ticket_being_worked_on_and_tells_the_worker(
    sql_store: SqlStore,
) -> None:
    d = await desk(sql_store)
    number = await file_ticket(d)
    zhang = await worker(d, "张伟")
    async with d.store.unit() as uow:
        ticket = await uow.tickets.by_number(number, for_update=True)
        assert ticket is not None
        await d.tickets.accept(uow, ticket, zhang, Actor.worker(zhang.id, zhang.name))
    liu = await worker(d, "刘洋")  # community staff
    closed = await d.tickets.close(number, actor=Actor.worker(liu.id, liu.name), reason="已修复")
    assert closed.status == "closed" and closed.resolved_at and closed.closed_at
    assert [e.kind for e in await events_of(sql_store, number)][-2:] == ["resolve", "close"]
    assert any("已由刘洋关闭：已修复" in m for m in await outbox_texts(sql_store, "worker-zhang"))
    assert any("已由社区关闭" in m for m in await outbox_texts(sql_store, "resident-1"))


async def test_the_assignee_may_note_but_not_close_their_own_ticket(sql_store: SqlStore) -> None:
    d = await desk(sql_store)
    number = await file_ticket(d)
    zhang = await worker(d, "张伟")
    before = len(await outbox_texts(sql_store, "worker-zhang"))
    await d.tickets.add_note(number, "  已联系维保  ", actor=Actor.worker(zhang.id, zhang.name))
    note = (await events_of(sql_store, number))[-1]
    assert (note.kind, note.note, note.data) == ("note", "已联系维保", {"told_resident": False})
    # the worker wrote it: nothing comes back to them
    assert len(await outbox_texts(sql_store, "worker-zhang")) == before
    with pytest.raises(PermissionDenied):
        await d.tickets.close(number, actor=Actor.worker(zhang.id, zhang.name), reason="好了")
    with pytest.raises(PermissionDenied):
        await d.tickets.add_note(number, "   ", actor=Actor.admin("liu"))


async def test_a_staff_note_reaches_the_assignee_and_on_request_the_resident(
    sql_store: SqlStore,
) -> None:
    d = await desk(sql_store)
    number = await file_ticket(d)
    await d.tickets.add_note(number, "请先联系物业", actor=Actor.admin("liu"), tell_resident=True)
    assert any("【社区备注】" in m and "请先联系物业" in m
               for m in await outbox_texts(sql_store, "worker-zhang"))  # fmt: skip
    assert any("请先联系物业" in m for m in await outbox_texts(sql_store, "resident-1"))


async def test_close_by_number_leaves_an_unaccepted_ticket_to_cancel(sql_store: SqlStore) -> None:
    d = await desk(sql_store)
    number = await file_ticket(d)
    with pytest.raises(InvalidTransition, match="cancel it"):
        await d.tickets.close(number, actor=Actor.admin("liu"), reason="误报")
    cancelled = await d.tickets.cancel(number, actor=Actor.admin("liu"), reason="误报")
    assert cancelled.status == "cancelled"
