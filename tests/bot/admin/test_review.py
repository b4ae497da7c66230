"""The review inbox: unsure messages, clarified and re-categorised tickets; one-click labels."""

from __future__ import annotations

from typing import Any

from tests.bot.admin.helpers import api_token, bearer, demo_ids, login, make_user, second_community

UNSURE = "楼下那一块好几天了也没人弄"  # the trained model is unsure (clarifies) on this one
LOST_CAT = "我的电话13812345678，帮我查一下明天的天气预报"  # out of scope
ATTACK = "<script>alert('x')</script>求助"


async def items_of(client: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/admin/review")
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_inbox_collects_unsure_clarified_and_recategorised_and_labels_them(
    start_app: Any,
) -> None:
    async with start_app() as app:
        c = app.container
        ids = await demo_ids(c)
        other = await second_community(c)
        await make_user(c, "ops", "admin")
        await make_user(c, "liu", "community_staff", community_id=ids["community"])
        await make_user(c, "moon", "community_staff", community_id=other.community_id)
        await make_user(c, "zhang", "grid_worker", worker_id=ids["workers"]["张伟"])
        ops, liu, moon, zhang = [
            bearer(app, await api_token(c, n)) for n in ("ops", "liu", "moon", "zhang")
        ]
        # a resident of the demo community: unsure, picks a category the NLU did not guess
        asked = await app.say("r-review", UNSURE)
        assert "我想确认一下" in asked[0]["text"]
        guessed = asked[0]["buttons"][0]["payload"]
        picked = next(
            b["payload"] for b in asked[0]["buttons"] if b["payload"] not in (guessed,)
            and b["payload"] != "flow:report_other"
        )  # fmt: skip
        replies = await app.say("r-review", button=picked)
        for _ in range(6):
            payloads = [b["payload"] for b in replies[-1]["buttons"]]
            if "confirm" in payloads:
                replies = await app.say("r-review", button="confirm")
                break
            if "哪一幢" in replies[-1]["text"]:
                replies = await app.say("r-review", "6幢")
            else:
                replies = await app.say("r-review", button="skip")
        assert "已受理" in replies[0]["text"]
        await app.say("r-review", LOST_CAT)
        await app.say("r-review", "13812345678")  # trivial: never in the inbox
        await app.say("r-outsider", ATTACK)  # a resident of no community yet
        # staff correct the category of an urgent report
        urgent = await app.say("r-review-2", "3幢电梯坏了，有人被困在里面")
        number = next(w for w in urgent[1]["text"].split() if w.startswith("MH-")).rstrip("（")
        number = number[: len("MH-20261122-0001")]
        moved = await liu.post(f"/api/v1/tickets/{number}/category", json={"category": "safety"})
        assert moved.status_code == 200

        items = await items_of(ops)
        kinds = {(i["kind"], i["text"]) for i in items}
        assert ("unsure", UNSURE) in kinds
        assert ("unsure", "我的电话138****5678，帮我查一下明天的天气预报") in kinds
        assert ("unsure", ATTACK) in kinds
        assert ("recategorised", "3幢电梯坏了，有人被困在里面") in kinds
        clarified = next(i for i in items if i["kind"] == "clarified")
        assert clarified["text"] == UNSURE and clarified["guess"] == guessed.removeprefix("flow:")
        assert clarified["suggestion"] == picked.removeprefix("flow:")
        assert not any("13812345678" in i["text"] for i in items)
        assert not any(i["text"] == "138****5678" for i in items)
        recat = next(i for i in items if i["kind"] == "recategorised")
        assert recat["suggestion"] == "report_safety" and recat["ticket"] == number

        staff_view = {i["text"] for i in await items_of(liu)}
        assert ATTACK not in staff_view and UNSURE in staff_view  # r-outsider has no community
        assert await items_of(moon) == []
        assert (await zhang.get("/api/v1/admin/review")).status_code == 403
        hidden = await moon.post(
            f"/api/v1/admin/review/ticket/{clarified['id']}/label", json={"intent": "report_noise"}
        )
        assert hidden.status_code == 404

        labelled = await liu.post(
            f"/api/v1/admin/review/ticket/{clarified['id']}/label",
            json={"intent": clarified["suggestion"]},
        )
        assert labelled.status_code == 200 and labelled.json()["added"] is True
        again = await liu.post(
            f"/api/v1/admin/review/ticket/{clarified['id']}/label",
            json={"intent": clarified["suggestion"]},
        )
        assert again.status_code == 409
        cat = next(i for i in items if i["text"].endswith("帮我查一下明天的天气预报"))
        await ops.post(
            f"/api/v1/admin/review/inbound/{cat['id']}/label", json={"intent": "out_of_scope"}
        )
        await ops.post(f"/api/v1/admin/review/ticket/{recat['id']}/dismiss")
        left = {(i["kind"], i["id"]) for i in await items_of(ops)}
        assert ("clarified", clarified["id"]) not in left
        assert ("unsure", cat["id"]) not in left and ("recategorised", recat["id"]) not in left
        detail = (await liu.get(f"/api/v1/admin/intents/{clarified['suggestion']}")).json()
        example = next(e for e in detail["examples"] if e["text"] == UNSURE)
        assert example["source"] == "review"
        # a resident's words stay with their community: another community's staff see our
        # own examples of the intent but not this one, on the page nor in the YAML export
        theirs = (await moon.get(f"/api/v1/admin/intents/{clarified['suggestion']}")).json()
        assert theirs["examples"] and UNSURE not in {e["text"] for e in theirs["examples"]}
        assert UNSURE not in (await moon.get("/api/v1/admin/nlu/export.yml")).text
        assert UNSURE in (await liu.get("/api/v1/admin/nlu/export.yml")).text
        assert UNSURE in (await ops.get("/api/v1/admin/nlu/export.yml")).text
        oos = (await ops.get("/api/v1/admin/intents/out_of_scope")).json()["examples"]
        assert any(e["text"] == "我的电话138****5678，帮我查一下明天的天气预报" for e in oos)
        bad = await ops.post(
            f"/api/v1/admin/review/inbound/{cat['id'] + 1000}/label", json={"intent": "greet"}
        )
        assert bad.status_code == 404
        audit = (await ops.get("/api/v1/admin/audit", params={"action": "review."})).json()
        assert [e["action"] for e in audit["entries"]] == [
            "review.dismiss", "review.label", "review.label",
        ]  # fmt: skip

        await login(app.client, "ops")
        page = await app.client.get("/admin/review")
        assert page.status_code == 200 and "识别不确定" in page.text
        assert "<script>alert" not in page.text and "&lt;script&gt;alert(" in page.text
        for client in (ops, liu, moon, zhang):
            await client.aclose()
