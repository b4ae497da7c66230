"""Danger first, through the HTTP chat API with the trained model: phrasings of every hazard
from the danger set are filed as urgent at once with their advice; the grid worker's card says
why; negated mentions stay ordinary; command words inside a form do what they say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DANGER = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "data" / "danger.yml").read_text("utf-8")
)
ADVICE_WORDS = {
    "96333": "96333",
    "119": "119",
    "110": "110",
    "120": "120",
    "gas": "燃气公司",
    "power": "95598",
}


def sample() -> list[tuple[str, tuple[str, ...]]]:
    """Every sixth phrasing of each hazard group (all of them run in the pure tests)."""
    return [
        (text, tuple(group["advice"]))
        for group in DANGER["dangerous"]
        for text in group["texts"][::6]
    ]


async def urgent_tickets(app: Any) -> list[Any]:
    async with app.container.store.unit() as uow:
        return [tk for tk in await uow.tickets.search(limit=1000) if tk.priority == "urgent"]


async def test_phrasings_of_every_hazard_are_filed_urgent_at_once_with_their_advice(
    start_app: Any,
) -> None:
    cases = sample()
    assert len({group["hazard"] for group in DANGER["dangerous"]}) >= 9
    async with start_app() as app:
        missed: list[str] = []
        for i, (text, advice) in enumerate(cases):
            replies = await app.say(f"r-danger-{i}", text)
            first = replies[0]["text"]
            ok = (
                first.startswith("⚠️ 情况紧急")
                and all(ADVICE_WORDS[code] in first for code in advice)
                and any("已受理" in r["text"] or "MH-" in r["text"] for r in replies)
                and not any(r["text"].startswith("请问") for r in replies)
            )
            if not ok:
                missed.append(f"{text} -> {[r['text'][:40] for r in replies]}")
        assert missed == []
        assert len(await urgent_tickets(app)) == len(cases)


CARDS = [
    ("6幢电梯卡住了，里面有人", "96333", "有人被困"),
    ("6号楼有人触电了", "120", "有人触电"),
    ("6幢楼下有人打架，流了很多血", "110", "打架/持械/暴力"),
    ("6幢配电箱冒火花", "95598", "起火/冒烟/火花"),
    ("6幢很大的煤气味", "燃气公司", "燃气泄漏"),
]


async def test_the_grid_worker_card_says_why_it_is_urgent(start_app: Any) -> None:
    async with start_app() as app:
        for i, (text, advice, reason) in enumerate(CARDS):
            replies = await app.say(f"r-card-{i}", text)
            assert advice in replies[0]["text"]
            assert "紧急情况网格员会在10分钟内联系您" in "\n".join(r["text"] for r in replies)
            assert replies[-1]["text"] == "为了让网格员马上联系到您，请回复您的手机号。"
            cards = await app.inbox("worker-li", expect=1)
            card = next(m for m in cards if "【新任务】" in m["text"])
            assert "【紧急】" in card["text"]
            assert f"紧急原因：{reason}" in card["text"], card["text"]
            assert f"居民描述：{text}" in card["text"]


async def test_danger_typed_inside_a_form_files_urgent_and_keeps_what_was_said(
    start_app: Any,
) -> None:
    async with start_app() as app:
        first = await app.say("r-form", "电梯坏了")
        assert "哪一幢" in first[-1]["text"]
        replies = await app.say("r-form", "电梯停在半空，我妈在里面出不来")
        assert "96333" in replies[0]["text"]
        [ticket] = await urgent_tickets(app)
        assert ticket.category == "elevator"
        assert ticket.description == "电梯坏了；电梯停在半空，我妈在里面出不来"


async def test_negated_mentions_stay_ordinary(start_app: Any) -> None:
    async with start_app() as app:
        for i, text in enumerate(DANGER["negated"][::2]):
            replies = await app.say(f"r-neg-{i}", text)
            assert not any(r["text"].startswith("⚠️") for r in replies), text
        assert await urgent_tickets(app) == []


async def test_command_words_in_a_form_are_never_stored_as_answers(start_app: Any) -> None:
    async with start_app() as app:
        for i, word in enumerate(("转人工", "人工客服", "取消", "进度", "帮助")):
            user = f"r-cmd-{i}"
            await app.say(user, "6幢楼道灯坏了")
            replies = await app.say(user, word)
            text = "\n".join(r["text"] for r in replies)
            if word in ("转人工", "人工客服"):
                assert "请先留个手机号" in text
                done = await app.say(user, "13900001111")
                assert "会尽快打电话联系您" in "\n".join(r["text"] for r in done)
            elif word == "取消":
                assert "已取消" in text
            elif word == "进度":
                assert "工单" in text
            else:
                assert "报事" in text
        async with app.container.store.unit() as uow:
            tickets = await uow.tickets.search()
        assert all("人工" not in f"{tk.building_name}{tk.unit}{tk.room}" for tk in tickets)
