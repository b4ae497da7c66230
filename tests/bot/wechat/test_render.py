"""How messages look on WeChat (pure): numbered buttons, words, joining, splitting, templates."""

from __future__ import annotations

import pytest
import xmltodict
from wechatpy.replies import TextReply

from bot.channels.wechat import dedupe_key, xml_text
from bot.notify.wechat import template_data
from bot.wechat.render import Choices, chunks, join, numbered, options_line, render, split_passive
from handlers.dialogue import rating_buttons
from handlers.messages import Button, Outbound
from storage.state import MemorySessionStore

SKIP, CANCEL = Button("跳过", "skip"), Button("取消", "cancel")
WORKER = (Button("接单", "accept:MH-20261122-0001"), Button("进展", "progress:MH-20261122-0001"))


@pytest.mark.parametrize(
    ("buttons", "expected"),
    [
        (WORKER, [("1", "accept:MH-20261122-0001"), ("2", "progress:MH-20261122-0001")]),
        (
            rating_buttons("MH-20261122-0001", "zh"),
            [(str(s), f"rate:MH-20261122-0001:{s}") for s in (5, 4, 3, 2, 1)],
        ),
        ((SKIP, CANCEL), []),
        (
            (Button("3幢", "building:3"), Button("13幢", "building:13"), CANCEL),
            [("1", "building:3"), ("2", "building:13")],
        ),
    ],
    ids=["worker", "rating-by-score", "skip-cancel-as-words", "choices-then-cancel"],
)
def test_numbers_stand_for_the_buttons_a_user_can_choose(
    buttons: tuple[Button, ...], expected: list[tuple[str, str]]
) -> None:
    assert [(n, b.payload) for n, b in numbered(buttons)] == expected


def test_a_message_renders_its_choices_as_numbers_and_skip_cancel_as_words() -> None:
    rendered = render(Outbound("请问是哪一幢？", (Button("3幢", "building:3"), SKIP, CANCEL)))
    assert rendered.text == (
        "请问是哪一幢？\n\n回复数字选择：\n【1】3幢\n回复“跳过”跳过这一项；回复“取消”可随时放弃"
    )
    assert rendered.options == {"1": "building:3"}
    # the prompt already says how to skip: not repeated
    said = render(Outbound("是几单元？不清楚可以回复“跳过”。", (SKIP, CANCEL)))
    assert said.text == "是几单元？不清楚可以回复“跳过”。\n回复“取消”可随时放弃"
    assert said.options == {}


def test_rating_lists_say_the_score_is_the_number() -> None:
    rendered = render(Outbound("请为这次处理打分：", rating_buttons("MH-20261122-0001", "zh")))
    assert "回复数字打分（5分最满意）" in rendered.text and "【5】★★★★★" in rendered.text
    assert rendered.options["1"] == "rate:MH-20261122-0001:1"


def test_several_replies_become_one_passive_reply_where_the_last_buttons_count() -> None:
    replies = [
        Outbound("我的工单：…", rating_buttons("MH-20261122-0001", "zh")),
        Outbound("接着刚才的报事："),
        Outbound("请问是哪一幢？", (Button("3幢", "building:3"), CANCEL)),
    ]
    rendered = join(replies)
    assert rendered.text.startswith("我的工单：…\n\n接着刚才的报事：\n\n请问是哪一幢？")
    assert "★" not in rendered.text
    assert rendered.options == {"1": "building:3"}


def test_a_reply_too_long_for_one_passive_answer_is_split_into_what_fits_and_the_rest() -> None:
    replies = [Outbound("甲" * 300), Outbound("乙" * 300), Outbound("丙" * 300)]
    head, rest = split_passive(replies, max_bytes=2000)
    assert head == replies[:2] and rest == replies[2:]
    assert split_passive([Outbound("丁" * 1000)], max_bytes=2000) == ([Outbound("丁" * 1000)], [])


def test_long_texts_are_cut_into_parts_under_the_byte_limit() -> None:
    text = "\n".join(f"第{i}行：" + "字" * 100 for i in range(30)) + "\n" + "长" * 2000
    parts = chunks(text, max_bytes=2000)
    assert all(len(p.encode("utf-8")) <= 2000 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_reply_text_cannot_break_out_of_wechatpys_cdata() -> None:
    hostile = "描述]]><Content>伪造</Content>\x00\x07结束"
    xml = TextReply(source="gh_a", target="o1", content=xml_text(hostile)).render()
    assert xmltodict.parse(xml)["xml"]["Content"] == "描述]]><Content>伪造</Content>结束"


def test_template_fields_follow_the_configured_mapping_and_truncate() -> None:
    data = template_data(
        {"thing1": "{description:.5}", "keyword1": "{number}", "remark": "{missing}", "bad": "{"},
        {"description": "楼道里堆满了纸箱杂物", "number": "MH-20261122-0001"},
    )
    assert data == {
        "thing1": {"value": "楼道里堆满"},
        "keyword1": {"value": "MH-20261122-0001"},
        "remark": {"value": ""},
        "bad": {"value": ""},
    }
    line = options_line(Outbound("x", WORKER))
    assert line == "回复数字：【1】接单 【2】进展"


async def test_choices_remember_the_last_list_per_user() -> None:
    choices = Choices(MemorySessionStore())
    await choices.remember("o1", {"1": "accept:MH-20261122-0001"})
    assert await choices.lookup("o1", " 1 ") == "accept:MH-20261122-0001"
    assert await choices.lookup("o1", "01") == "accept:MH-20261122-0001"
    assert await choices.lookup("o1", "2") is None
    assert await choices.lookup("o2", "1") is None
    assert await choices.lookup("o1", "1号楼") is None
    await choices.remember("o1", {})
    assert await choices.lookup("o1", "1") is None


def test_messages_dedupe_by_msgid_and_events_by_sender_time_and_event() -> None:
    assert dedupe_key({"MsgId": "24100000000000001", "FromUserName": "o1"}) == "24100000000000001"
    assert dedupe_key({"FromUserName": "o1", "CreateTime": "1763800000", "Event": "CLICK"}) == (
        "evt:o1:1763800000:click"
    )
    # two different menu taps within one second are two turns
    tap = {"FromUserName": "o1", "CreateTime": "1763800000", "Event": "CLICK"}
    assert dedupe_key({**tap, "EventKey": "status"}) != dedupe_key({**tap, "EventKey": "help"})
