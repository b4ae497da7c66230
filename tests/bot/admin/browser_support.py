"""Shared pieces of the console's browser tests: log in, screenshots, and a guard that fails
the test on any request leaving 127.0.0.1 (every asset must be served locally)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1"}


@dataclass
class Offline:
    """Records (and blocks) every request to another host than 127.0.0.1."""

    leaks: list[str] = field(default_factory=list)

    def watch(self, context: Any) -> None:
        def route(route: Any) -> None:
            url = route.request.url
            scheme = urlsplit(url).scheme
            if scheme in ("data", "blob", "about") or urlsplit(url).hostname in LOCAL_HOSTS:
                route.continue_()
                return
            self.leaks.append(url)
            route.abort()

        context.route("**/*", route)


def login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("nav.main")


def shooter(page: Any, folder: Path) -> Any:
    def shot(name: str, *, full: bool = True) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full)
        return path

    return shot


def overflow(page: Any) -> list[str]:
    """Elements wider than the viewport that are not inside a horizontal scroller."""
    result: list[str] = page.evaluate(
        """() => {
      const root = document.documentElement;
      const width = root.clientWidth;
      const bad = [];
      if (root.scrollWidth > width + 1) bad.push('page ' + root.scrollWidth);
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.right <= width + 1) continue;
        let p = el.parentElement, scrolled = false;
        while (p) {
          const s = getComputedStyle(p);
          if (['auto', 'scroll', 'hidden'].includes(s.overflowX)) { scrolled = true; break; }
          p = p.parentElement;
        }
        const name = el.tagName.toLowerCase() + '.' + el.className;
        if (!scrolled) bad.push(name + ' ' + Math.round(r.right));
      }
      return bad.slice(0, 10);
    }"""
    )
    return result
