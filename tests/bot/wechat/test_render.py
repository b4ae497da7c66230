"""How messages look on WeChat (pure): numbered buttons, words, joining, splitting, templates."""

from __future__ import annotations

import pytest
import xmltodict
from wechatpy.replies import TextReply

from bot.channels.wechat import dedupe_key, xml_text
from bot.notify.wechat import template_data
from bot.wechat.render import Choices, join, numbered, options_line, render, split
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


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def test_replies_that_fit_stay_one_text_exactly_as_joined() -> None:
    replies = [
        Outbound("我的工单：…", rating_buttons("MH-20261122-0001", "zh")),
        Outbound("接着刚才的报事：\n\n第二段"),
        Outbound("请问是哪一幢？", (Button("3幢", "building:3"), SKIP, CANCEL)),
    ]
    texts, options = split(replies)
    assert texts == [join(replies).text]
    assert options == join(replies).options == {"1": "building:3"}
    assert split([Outbound("丁" * 666)]) == (["丁" * 666], {})


def test_too_long_replies_are_cut_between_messages_then_lines_under_the_limits() -> None:
    replies = [Outbound("甲" * 300), Outbound("乙" * 300), Outbound("丙" * 300)]
    texts, _ = split(replies, first_max=2000, max_bytes=2000)
    assert texts == ["甲" * 300 + "\n\n" + "乙" * 300, "丙" * 300]
    listing = "\n".join(f"MH-20261122-{i:04d} 3幢 电梯异响，已派单" for i in range(83))
    texts, _ = split([Outbound(listing)], first_max=2000, max_bytes=1500)
    assert size(texts[0]) <= 2000 and all(size(t) <= 1500 for t in texts[1:])
    assert "\n".join(texts).split("\n") == listing.split("\n")  # whole lines, in order


def test_a_line_too_long_is_cut_after_a_sentence_then_a_clause_then_anywhere() -> None:
    sentences = "".join(f"第{i}句话说的是楼道里的情况，很长很长。" for i in range(120))
    texts, _ = split([Outbound(sentences)], max_bytes=2000)
    assert len(texts) > 1 and all(size(t) <= 2000 for t in texts)
    assert all(t.endswith("。") for t in texts) and "".join(texts) == sentences
    clauses = "，".join("楼道堆物" for _ in range(400))
    texts, _ = split([Outbound(clauses)], max_bytes=2000)
    assert all(size(t) <= 2000 for t in texts) and "".join(texts) == clauses
    assert all(t.endswith("，") for t in texts[:-1])
    solid = "长" * 2000  # no break at all: cut at a whole character
    texts, _ = split([Outbound(solid)], max_bytes=2000)
    assert "".join(texts) == solid and all(size(t) <= 2000 for t in texts)


def test_the_numbered_list_stays_whole_at_the_end_with_the_question_it_answers() -> None:
    confirm = Outbound(
        "请核对您的报事：\n描述：" + "楼道灯坏了一直没人修，" * 100 + "\n以上信息对吗？",
        (Button("确认提交", "confirm"), Button("修改", "edit"), CANCEL),
    )
    texts, options = split([confirm], first_max=2000, max_bytes=2000)
    assert len(texts) >= 2 and all(size(t) <= 2000 for t in texts)
    assert "以上信息对吗？\n\n回复数字选择：\n【1】确认提交\n【2】修改" in texts[-1]
    assert texts[-1].endswith("回复“取消”可随时放弃")
    assert all("【1】" not in t for t in texts[:-1])
    assert options == {"1": "confirm", "2": "edit"}
    # a list that does not fit after the text takes the question along, never stands alone
    full = Outbound("甲" * 650 + "\n以上信息对吗？", confirm.buttons)
    texts, _ = split([full], first_max=2000, max_bytes=2000)
    assert texts[0] == "甲" * 650
    assert texts[1].startswith("以上信息对吗？\n\n回复数字选择：\n【1】确认提交")


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
