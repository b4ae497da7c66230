"""Departments and parties a ticket can be handed to, and what their contacts type (pure).

A grid worker hands a ticket to the department that owns the matter (``移交 MH-… 城管``) or
asks one to help (``协办 MH-… 物业``); the department's contact answers in their own messenger
(``回复 MH-… 已派执法队员到场`` / ``完成 MH-… 车辆已拖离``) and the answer reaches the timeline,
the grid worker and the resident. The grid worker stays accountable until resolution.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class DepartmentKind(StrEnum):
    CITY_MANAGEMENT = "city_management"  # 城管
    TRAFFIC = "traffic"  # 交管
    PROPERTY = "property"  # 物业
    OWNERS_COMMITTEE = "owners_committee"  # 业委会
    CONTRACTOR = "contractor"  # 施工方
    OTHER = "other"


# what people call the usual parties, whatever the registry names them
KIND_WORDS: dict[DepartmentKind, tuple[str, ...]] = {
    DepartmentKind.CITY_MANAGEMENT: ("城管", "城管局", "城管执法", "综合执法", "执法队"),
    DepartmentKind.TRAFFIC: ("交管", "交警", "交通管理", "交警大队", "交管部门"),
    DepartmentKind.PROPERTY: ("物业", "物业公司", "物业管理处", "物业服务中心", "物管"),
    DepartmentKind.OWNERS_COMMITTEE: ("业委会", "业主委员会"),
    DepartmentKind.CONTRACTOR: ("施工方", "施工单位", "施工队"),
}

_PUNCT = re.compile(r"[\s。，,.!！？?、：:]+")


@dataclass(frozen=True, slots=True)
class DepartmentRef:
    id: int
    name: str
    kind: str = DepartmentKind.OTHER
    aliases: tuple[str, ...] = ()
    community_id: int | None = None

    def names(self) -> tuple[str, ...]:
        try:
            words = KIND_WORDS.get(DepartmentKind(self.kind), ())
        except ValueError:
            words = ()
        return (self.name, *self.aliases, *words)


def _key(text: str) -> str:
    return _PUNCT.sub("", text).lower()


def resolve_department(
    text: str, departments: Sequence[DepartmentRef], *, community_id: int | None = None
) -> DepartmentRef | None:
    """The department a worker names ('城管', '交警大队', '物业公司'), preferring the
    ticket's own community over street-wide ones; None when nothing matches."""
    key = _key(text)
    if not key:
        return None
    ordered = sorted(departments, key=lambda d: (d.community_id != community_id, d.id))
    for department in ordered:
        if key in {_key(n) for n in (department.name, *department.aliases)}:
            return department
    for department in ordered:
        if key in {_key(n) for n in department.names()}:
            return department
    for department in ordered:  # '请城管来处理' contains a name
        if any(_key(n) and _key(n) in key for n in department.names()):
            return department
    return None


def suggested(
    departments: Sequence[DepartmentRef], hints: Sequence[str], *, community_id: int | None
) -> list[DepartmentRef]:
    """Departments to offer as buttons: the category's usual parties first."""
    first = [
        d
        for hint in hints
        if (d := resolve_department(hint, departments, community_id=community_id))
    ]
    rest = [d for d in departments if d not in first]
    seen: list[DepartmentRef] = []
    for d in [*first, *rest]:
        if d not in seen:
            seen.append(d)
    return seen


# --- what a department's contact types -------------------------------------------------------


class DeptCommand(StrEnum):
    REPLY = "reply"
    DONE = "done"
    TASKS = "tasks"
    HELP = "help"


WORDS: dict[str, DeptCommand] = {
    "回复": DeptCommand.REPLY,
    "反馈": DeptCommand.REPLY,
    "进展": DeptCommand.REPLY,
    "处理情况": DeptCommand.REPLY,
    "reply": DeptCommand.REPLY,
    "完成": DeptCommand.DONE,
    "办结": DeptCommand.DONE,
    "已处理": DeptCommand.DONE,
    "已完成": DeptCommand.DONE,
    "done": DeptCommand.DONE,
    "任务": DeptCommand.TASKS,
    "待办": DeptCommand.TASKS,
    "tasks": DeptCommand.TASKS,
    "帮助": DeptCommand.HELP,
    "help": DeptCommand.HELP,
}

_WORD_PATTERN = "|".join(sorted((re.escape(w) for w in WORDS), key=len, reverse=True))
_COMMAND = re.compile(
    rf"^\s*(?P<word>{_WORD_PATTERN})(?![a-z])(?P<sep>\s*[:：,，]?\s*)"
    r"(?P<number>MH-\d{8}-\d{4})?\s*[:：,，]?\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_NUMBER = re.compile(r"MH-\d{8}-\d{4}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DepartmentInput:
    command: DeptCommand
    number: str | None = None
    note: str = ""


def parse_department_text(text: str) -> DepartmentInput:
    """A contact's message: a command, or (anything else) a reply to their ticket.

    '完成 MH-20261122-0007 车辆已拖离' → DONE; '已派人到场' → REPLY with that note; a ticket
    number anywhere in plain text names the ticket.
    """
    match = _COMMAND.match(text.strip())
    if match is not None:
        command = WORDS[match.group("word").lower()]
        number = match.group("number")
        rest = match.group("rest").strip()
        if command in (DeptCommand.TASKS, DeptCommand.HELP) and not rest:
            return DepartmentInput(command)
        if command not in (DeptCommand.TASKS, DeptCommand.HELP):
            if number is None and rest and not match.group("sep"):
                rest = text.strip()  # '进展顺利' is a sentence, not a command word plus a note
            return DepartmentInput(command, number.upper() if number else None, rest)
    found = _NUMBER.search(text)
    note = _NUMBER.sub("", text).strip(" ：:，,") if found else text.strip()
    return DepartmentInput(DeptCommand.REPLY, found.group().upper() if found else None, note)


def parse_department_button(payload: str) -> DepartmentInput | None:
    """Card buttons: 'dept_reply:MH-…', 'dept_done:MH-…', 'dept_tasks'."""
    head, _, number = payload.partition(":")
    command = {
        "dept_reply": DeptCommand.REPLY,
        "dept_done": DeptCommand.DONE,
        "dept_tasks": DeptCommand.TASKS,
    }.get(head)
    if command is None:
        return None
    if number and not _NUMBER.fullmatch(number):
        return None
    return DepartmentInput(command, number.upper() or None)
