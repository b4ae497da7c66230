"""Worker commands typed in chat and sent by task-card buttons."""

from __future__ import annotations

import pytest

from handlers.worker import (
    Command,
    WorkerCommand,
    free_text_command,
    parse_button,
    parse_command,
)

N = "MH-20261122-0007"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("接单", WorkerCommand(Command.ACCEPT)),
        (f"接单 {N}", WorkerCommand(Command.ACCEPT, N)),
        (f"接单{N.lower()}", WorkerCommand(Command.ACCEPT, N)),
        ("进展 已联系物业", WorkerCommand(Command.PROGRESS, None, "已联系物业")),
        (f"进展：{N}，明天上午维修", WorkerCommand(Command.PROGRESS, N, "明天上午维修")),
        (f"办结 {N} 已修复", WorkerCommand(Command.RESOLVE, N, "已修复")),
        (f"转派 {N} 第二网格", WorkerCommand(Command.TRANSFER, N, "第二网格")),
        ("任务", WorkerCommand(Command.TASKS)),
        ("帮助", WorkerCommand(Command.HELP)),
        (f"accept {N}", WorkerCommand(Command.ACCEPT, N)),
        ("resolve fixed the lock", WorkerCommand(Command.RESOLVE, None, "fixed the lock")),
    ],
)
def test_commands_parse_when_typed(text: str, expected: WorkerCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["你好", "接到居民电话了", "accepted", "任务很多啊", "", "MH-1"])
def test_chatter_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (f"accept:{N}", WorkerCommand(Command.ACCEPT, N)),
        (f"transfer:{N}:第二网格", WorkerCommand(Command.TRANSFER, N, "第二网格")),
        ("tasks", WorkerCommand(Command.TASKS)),
        ("accept:DROP TABLE", None),
        ("explode:MH-20261122-0007", None),
    ],
)
def test_buttons_parse_and_forged_ones_are_refused(
    payload: str, expected: WorkerCommand | None
) -> None:
    assert parse_button(payload) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("收到，马上去看", Command.ACCEPT),
        ("好的", Command.ACCEPT),
        ("OK", Command.ACCEPT),
        ("我来处理", Command.ACCEPT),
        ("好的我下午过去看看", Command.PROGRESS),
        ("已联系物业，明天上午来修", Command.PROGRESS),
        ("还没修好，等配件", Command.PROGRESS),  # negated "done" is not done
        ("搞定了，换了个灯泡", Command.RESOLVE),
        ("修好了", Command.RESOLVE),
        ("车已经挪走了", Command.RESOLVE),
        ("管道已疏通，现在排水正常", Command.RESOLVE),
        ("今天天气不错", None),
        ("这个不归我管", Command.TRANSFER),
        ("派错了，这不是我的网格", Command.TRANSFER),
        ("这栋楼应该是别的网格", Command.TRANSFER),
        ("我不管了", None),
        ("没法处理", None),
        ("帮我订个外卖", None),
        ("修" * 300, None),  # a wall of text is not guessed at
    ],
)
def test_a_workers_free_sentence_is_read_as_accept_progress_or_resolve(
    text: str, expected: Command | None
) -> None:
    assert free_text_command(text) == expected
