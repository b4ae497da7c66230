"""Small SVG charts rendered on the server: no JavaScript, no CDN, text escaped.

Inline in the page, so the labels use the page's (local) CJK font.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#1f6feb", "#c0392b", "#1a7f37", "#bf8700", "#8250df", "#0a7ea4", "#cf222e")


def _text(x: float, y: float, value: str, *, anchor: str = "start", size: int = 12,
          color: str = "#1f2933", weight: str = "normal") -> str:  # fmt: skip
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{color}" font-weight="{weight}">{escape(value)}</text>'
    )


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 560,
    color: str = PALETTE[0],
    unit: str = "",
) -> str:
    """Horizontal bars, largest first as given; an empty chart says so."""
    row, label_w, top = 26, 150, 8
    height = max(60, top * 2 + row * max(len(items), 1))
    body: list[str] = []
    if not items:
        body.append(_text(width / 2, height / 2, "暂无数据", anchor="middle", color="#6b7785"))
        return _svg(width, height, body, title)
    peak = max(v for _, v in items) or 1
    span = width - label_w - 60
    for i, (label, value) in enumerate(items):
        y = top + i * row
        bar = span * value / peak
        short = label if len(label) <= 10 else label[:9] + "…"
        body.append(_text(label_w - 8, y + 17, short, anchor="end"))
        body.append(
            f'<rect x="{label_w}" y="{y + 4:.1f}" width="{max(bar, 1):.1f}" height="{row - 8}" '
            f'rx="3" fill="{color}"><title>{escape(label)}：{value:g}{escape(unit)}</title></rect>'
        )
        body.append(_text(label_w + bar + 6, y + 17, f"{value:g}{unit}", color="#6b7785"))
    return _svg(width, height, body, title)


def column_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 560,
    height: int = 200,
    colors: Sequence[str] = PALETTE,
) -> str:
    """Vertical columns (e.g. 1–5 stars)."""
    body: list[str] = []
    base, top = height - 28, 16
    if not items or not any(v for _, v in items):
        body.append(_text(width / 2, height / 2, "暂无数据", anchor="middle", color="#6b7785"))
        return _svg(width, height, body, title)
    peak = max(v for _, v in items) or 1
    slot = (width - 40) / len(items)
    for i, (label, value) in enumerate(items):
        x = 20 + i * slot + slot * 0.2
        h = (base - top) * value / peak
        color = colors[i % len(colors)]
        body.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{max(h, 1):.1f}" rx="3" fill="{color}">'
            f"<title>{escape(label)}：{value:g}</title></rect>"
        )
        body.append(_text(x + slot * 0.3, base - h - 4, f"{value:g}", anchor="middle", size=11))
        body.append(_text(x + slot * 0.3, height - 10, label, anchor="middle"))
    body.append(f'<line x1="16" y1="{base}" x2="{width - 16}" y2="{base}" stroke="#dde3ea"/>')
    return _svg(width, height, body, title)


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    width: int = 1120,
    height: int = 240,
) -> str:
    """One line per series over the same x labels (days), with a legend."""
    left, right, top, bottom = 40, 16, 28, 30
    body: list[str] = []
    values = [v for _, vs in series for v in vs]
    # a whole number of tickets per grid line: the top is a multiple of 4, at least 4
    peak = float(max(4, math.ceil(max(values, default=0) / 4) * 4))
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(labels), 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        return x, top + plot_h * (1 - v / peak)

    for k in range(5):
        level = peak * k / 4
        _, y = xy(0, level)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#eef2f6"/>'
        )
        body.append(_text(left - 6, y + 4, f"{level:.0f}", anchor="end", size=10, color="#6b7785"))
    step = max(1, n // 10)
    for i, label in enumerate(labels):
        if i % step == 0 or i == n - 1:
            x, _ = xy(i, 0)
            body.append(_text(x, height - 10, label, anchor="middle", size=10, color="#6b7785"))
    for index, (name, vs) in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(vs)))
        body.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, v in enumerate(vs):
            x, y = xy(i, v)
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(labels[i])} {escape(name)}：{v:g}</title></circle>"
            )
        lx = left + index * 110
        body.append(f'<rect x="{lx}" y="6" width="12" height="12" rx="2" fill="{color}"/>')
        body.append(_text(lx + 18, 16, name))
    return _svg(width, height, body, title)
