"""Grid-worker commands typed in chat or sent by task-card buttons (pure parsing)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Command(StrEnum):
    ACCEPT = "accept"
    PROGRESS = "progress"
    RESOLVE = "resolve"
    TRANSFER = "transfer"
    CONTACT = "contact"
    TASKS = "tasks"
    HELP = "help"
    HANDOFF = "handoff"  # hand the ticket to a department (移交 MH-… 城管)
    COHANDLE = "cohandle"  # add a department as co-handler (协办 MH-… 物业)
    MERGE = "merge"  # staff/leaders: merge a duplicate into another ticket
    CALLED = "called"  # 已回电: the resident was called back
    UNREACHABLE = "unreachable"  # 联系不上: the call-back was not answered
    NOTICE = "notice"  # staff/leaders: publish a notice to residents (通知 5幢 …)
    PATROL = "patrol"  # 随手拍: a worker files what they saw on patrol
    HELPER_VERIFY = "helper_verify"  # 请楼栋长确认: the building head confirms the fix
    HELPER_ASSIST = "helper_assist"  # 请楼栋长协助: the building head responds first
    SEND_BACK = "send_back"  # street staff: 退回 MH-… instruction (back to the community)
    FORWARD_CITY = "forward_city"  # street staff: 转12345 (confirmed in the console)


WORDS: dict[str, Command] = {
    "接单": Command.ACCEPT,
    "接": Command.ACCEPT,
    "accept": Command.ACCEPT,
    "进展": Command.PROGRESS,
    "进度": Command.PROGRESS,
    "progress": Command.PROGRESS,
    "办结": Command.RESOLVE,
    "完成": Command.RESOLVE,
    "已办结": Command.RESOLVE,
    "resolve": Command.RESOLVE,
    "转派": Command.TRANSFER,
    "转交": Command.TRANSFER,
    "transfer": Command.TRANSFER,
    "联系居民": Command.CONTACT,
    "contact": Command.CONTACT,
    "任务": Command.TASKS,
    "我的任务": Command.TASKS,
    "待办": Command.TASKS,
    "tasks": Command.TASKS,
    "帮助": Command.HELP,
    "help": Command.HELP,
    "指令": Command.HELP,
    "移交": Command.HANDOFF,
    "移交部门": Command.HANDOFF,
    "handoff": Command.HANDOFF,
    "协办": Command.COHANDLE,
    "cohandle": Command.COHANDLE,
    "合并": Command.MERGE,
    "merge": Command.MERGE,
    "已回电": Command.CALLED,
    "回电": Command.CALLED,
    "called": Command.CALLED,
    "联系不上": Command.UNREACHABLE,
    "未接通": Command.UNREACHABLE,
    "unreachable": Command.UNREACHABLE,
    "通知": Command.NOTICE,
    "发布通知": Command.NOTICE,
    "notice": Command.NOTICE,
    "随手拍": Command.PATROL,
    "巡查": Command.PATROL,
    "patrol": Command.PATROL,
    "请楼栋长确认": Command.HELPER_VERIFY,
    "楼栋长确认": Command.HELPER_VERIFY,
    "请楼长确认": Command.HELPER_VERIFY,
    "helper_verify": Command.HELPER_VERIFY,
    "请楼栋长协助": Command.HELPER_ASSIST,
    "楼栋长协助": Command.HELPER_ASSIST,
    "请楼长协助": Command.HELPER_ASSIST,
    "helper_assist": Command.HELPER_ASSIST,
    "退回": Command.SEND_BACK,
    "退回社区": Command.SEND_BACK,
    "send_back": Command.SEND_BACK,
    "转12345": Command.FORWARD_CITY,
    "转交12345": Command.FORWARD_CITY,
    "转市民热线": Command.FORWARD_CITY,
    "forward_city": Command.FORWARD_CITY,
}

ACTION_NAMES = {
    Command.ACCEPT: {"zh": "接单", "en": "accept"},
    Command.PROGRESS: {"zh": "进展", "en": "progress"},
    Command.RESOLVE: {"zh": "办结", "en": "resolve"},
    Command.TRANSFER: {"zh": "转派", "en": "transfer"},
    Command.CONTACT: {"zh": "联系居民", "en": "contact"},
    Command.HANDOFF: {"zh": "移交", "en": "hand off"},
    Command.COHANDLE: {"zh": "协办", "en": "co-handle"},
    Command.MERGE: {"zh": "合并", "en": "merge"},
    Command.CALLED: {"zh": "已回电", "en": "called"},
    Command.UNREACHABLE: {"zh": "联系不上", "en": "unreachable"},
    Command.HELPER_VERIFY: {"zh": "请楼栋长确认", "en": "ask the building head to confirm"},
    Command.HELPER_ASSIST: {"zh": "请楼栋长协助", "en": "ask the building head to help"},
    Command.SEND_BACK: {"zh": "退回", "en": "send back"},
    Command.FORWARD_CITY: {"zh": "转12345", "en": "forward to 12345"},
}

NEEDS_NOTE = frozenset(
    {
        Command.PROGRESS,
        Command.RESOLVE,
        Command.TRANSFER,
        Command.HANDOFF,
        Command.COHANDLE,
        Command.SEND_BACK,
    }
)

CALL_COMMANDS = (Command.CALLED, Command.UNREACHABLE)

_WORD_PATTERN = "|".join(sorted((re.escape(w) for w in WORDS), key=len, reverse=True))
_COMMAND = re.compile(
    rf"^\s*(?P<word>{_WORD_PATTERN})(?![a-z])\s*[:：,，]?\s*"
    r"(?P<number>MH-\d{8}-\d{4})?\s*[:：,，]?\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class WorkerCommand:
    command: Command
    number: str | None = None
    note: str = ""


def parse_command(text: str) -> WorkerCommand | None:
    """'办结 MH-20261122-0007 已修复' → WorkerCommand(RESOLVE, 'MH-…', '已修复'), else None."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    command = WORDS[match.group("word").lower()]
    after = text.strip()[len(match.group("word")) :][:1]
    if command == Command.NOTICE and after and not re.match(r"[\s:：,，]", after):
        return None  # "通知物业明天来修" is a sentence, "通知 5幢 …" a command
    number = match.group("number")
    rest = match.group("rest").strip()
    if command in (Command.TASKS, Command.HELP) and rest:
        return None
    if command in (
        Command.ACCEPT,
        Command.CONTACT,
        *CALL_COMMANDS,
        Command.HELPER_VERIFY,
        Command.FORWARD_CITY,
    ) and (rest and not number):
        # "接单" takes no note: "接到了居民电话" is not a command
        found = re.search(r"MH-\d{8}-\d{4}", rest, re.IGNORECASE)
        if found is None:
            return None
        number, rest = found.group(), ""
    return WorkerCommand(command, number.upper() if number else None, rest)


def parse_button(payload: str) -> WorkerCommand | None:
    """Task-card buttons: 'accept:MH-…', 'progress:MH-…', 'transfer:MH-…:<target>'."""
    head, _, rest = payload.partition(":")
    try:
        command = Command(head)
    except ValueError:
        return None
    number, _, target = rest.partition(":")
    if number and not re.fullmatch(r"MH-\d{8}-\d{4}", number, re.IGNORECASE):
        return None
    return WorkerCommand(command, number.upper() or None, target)


# --- free sentences: what a worker writes when they do not type a command ----------------------
# "收到，马上去看" accepts; "搞定了，换了个灯泡" resolves; "下午过去看看" is progress; "不归我管"
# shows where it can be transferred. Only these, only without a ticket number or command word;
# resolve/progress are confirmed first (their words go to the resident), a transfer is chosen.
_DONE = re.compile(
    r"搞定|处理好|修好|弄好|解决了|已解决|已处理|处理完|完成了|已完成|恢复了|已恢复|清理干净|"
    r"清理完|已清理|已修复|修复了|换好|已更换|换了(?:新的|个|一个)|清走了|拖走了|已拖走|挪走了|"
    r"已挪走|已疏通|疏通了|已关闭|关掉了|已制止|制止了|已调解|调解好"
)
_NOT_YET = re.compile(r"(?:没|未|还没|没有|不|无法|没法|不能)\S{0,3}$")
_UNDERWAY = re.compile(
    r"正在|在修|在处理|已联系|联系了|联系上|已通知|通知了|等(?:配件|材料|厂家|师傅|物业)|明天|后天|"
    r"下午|上午|晚上|晚点|稍后|待会|一会儿?|过去看|去看看|到现场|在现场|已到|到了|已上门|上门|"
    r"安排了|已安排|约了|已约"
)
_ACK = re.compile(
    r"^(?:收到|好的?|ok|行|明白|了解|知道了|马上|这就|立即|立刻|我去|我来|接了|已接|没问题|嗯)",
    re.IGNORECASE,
)
_NOT_MINE = re.compile(
    r"不归我|不是我(?:的|们)?(?:网格|片区|负责|这边|管)|不属于我|不在我(?:的|们)?(?:网格|片区)|"
    r"派错了?|分错了?|转给别人|应该[是由]?(?:别的|其他|另外的?)网格"
)
YES_WORDS = frozenset({"确认", "是", "是的", "对", "好", "好的", "可以", "嗯", "yes", "y", "ok"})
FREE_NOTE_LIMIT = 200


def free_text_command(text: str) -> Command | None:
    """What a worker's free sentence most likely asks, or None (then the commands are shown).

    Resolve needs words of a finished job not negated just before them ("还没修好" is not done);
    progress needs words of work under way or a time; accept is an acknowledgement at the start.
    """
    words = text.strip()
    if not words or len(words) > FREE_NOTE_LIMIT:
        return None
    for done in _DONE.finditer(words):
        clause = re.split(r"[，,。.!！?？;；]", words[: done.start()])[-1]
        if not _NOT_YET.search(clause):
            return Command.RESOLVE
    if _NOT_MINE.search(words):
        return Command.TRANSFER  # the choices are shown; nothing moves without a tap
    if _UNDERWAY.search(words):
        return Command.PROGRESS
    if _ACK.match(words):
        return Command.ACCEPT
    return None
