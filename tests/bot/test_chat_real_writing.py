"""How residents really write, through the HTTP chat API with the trained model: the address
first, letters, answers after a clarification — the resident's words reach the ticket, and
nobody with a problem is turned away."""

from __future__ import annotations

from typing import Any

OUT_OF_SCOPE = "不在社区报事的服务范围内"
NOT_UNDERSTOOD = "抱歉，我没太明白"


def joined(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r["text"] for r in replies)


def payloads(replies: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for r in replies for b in r["buttons"]]


async def test_residents_words_reach_the_form_however_they_write(start_app: Any) -> None:
    async with start_app() as app:
        # the address first: the problem is kept, not asked for again
        text = "3号楼2单元501门口有辆车堵住了消防通道，车牌浙A12345"
        replies = await app.say("r-addr", text)
        assert "请问遇到了什么问题" not in joined(replies)
        if "flow:report_parking" in payloads(replies):
            replies = await app.say("r-addr", button="flow:report_parking")
        for _ in range(4):
            if "confirm" in payloads(replies):
                break
            replies = await app.say("r-addr", button="skip")
        assert f"问题：{text}" in joined(replies)
        assert "违规停车" in joined(replies)
        # letters: a polite opening, several sentences, a sign-off
        letter = (
            "尊敬的领导：您好！我是阳光花园社区5幢的居民。我们单元楼道的灯坏了一个多月了，"
            "晚上老人上下楼很不方便，希望尽快派人修一下。此致 敬礼"
        )
        replies = await app.say("r-letter", letter)
        said = joined(replies)
        assert OUT_OF_SCOPE not in said and NOT_UNDERSTOOD not in said
        # a letter's opening alone is asked back, not refused
        opening = "尊敬的领导：您好！我是某某家园小区的一名普通业主。"
        replies = await app.say("r-opening", opening)
        said = joined(replies)
        assert OUT_OF_SCOPE not in said and NOT_UNDERSTOOD not in said
        assert "flow:report_other" in payloads(replies)


async def test_after_a_clarification_the_card_shows_everything_the_resident_said(
    start_app: Any,
) -> None:
    async with start_app() as app:
        first = await app.say("r-clar", "家里有点问题")
        assert any(p.startswith("flow:") for p in payloads(first)), first
        asked = await app.say("r-clar", button="flow:report_utilities")
        assert "哪一幢" in joined(asked)
        replies = await app.say("r-clar", "2号楼3单元 家里停水一整天了")
        for _ in range(4):
            if "confirm" in payloads(replies):
                break
            replies = await app.say("r-clar", button="skip")
        card = joined(replies)
        assert "家里有点问题；2号楼3单元 家里停水一整天了" in card
        filed = await app.say("r-clar", button="confirm")
        assert "水电气" in joined(filed)
