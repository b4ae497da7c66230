"""Replies the dialogue and the notices share: menus, rating stars, places, duplicate offers."""

from __future__ import annotations

from handlers.i18n import t
from handlers.messages import Button, Outbound


def menu_buttons(locale: str) -> tuple[Button, ...]:
    """The main menu: report, my tickets, help."""
    return (
        Button(t("menu.report", locale), "report"),
        Button(t("menu.status", locale), "status"),
        Button(t("menu.help", locale), "help"),
    )


def rating_buttons(number: str, locale: str) -> tuple[Button, ...]:
    """Five to one stars for rating ticket ``number``."""
    stars = tuple(Button("★" * s, f"rate:{number}:{s}") for s in (5, 4, 3, 2, 1))
    return stars


def location_text(
    building_name: str, unit: str = "", room: str = "", note: str = "", locale: str = "zh"
) -> str:
    """A place as residents read it: 3幢2单元301（车库入口）."""
    parts = [building_name]
    if unit:
        parts.append(f"{unit}单元" if locale == "zh" else f" unit {unit}")
    if room:
        parts.append(room if locale == "zh" else f" room {room}")
    text = "".join(p for p in parts if p)
    if note:
        text = f"{text}（{note}）" if text else note
    return text or ("未知" if locale == "zh" else "unknown")


def duplicate_offer(number: str, status: str, own: bool, locale: str) -> Outbound:
    """The question for a repeated report: follow (or, one's own, add to) the open ticket?"""
    if own:
        return Outbound(
            text=t("dup.offer_own", locale, number=number, status=status),
            buttons=(
                Button(t("dup.button.add", locale), "dup:add"),
                Button(t("dup.button.new", locale), "dup:new"),
            ),
        )
    return Outbound(
        text=t("dup.offer", locale, number=number, status=status),
        buttons=(
            Button(t("dup.button.follow", locale), "dup:follow"),
            Button(t("dup.button.new", locale), "dup:new"),
        ),
        kind="duplicate_offer",
        data={"number": number},
    )
