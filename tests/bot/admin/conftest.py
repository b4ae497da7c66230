"""Console tests: the real-browser test's requirement switch.

``MINHU_REQUIRE_BROWSER=1`` (set by .ci/run) turns a skipped ``browser`` test into a failure,
so CI cannot go green without the browser test having run (like MINHU_REQUIRE_SERVICES).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest


def browser_required() -> bool:
    return os.environ.get("MINHU_REQUIRE_BROWSER", "").strip().lower() in {"1", "true", "yes", "on"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        report.skipped
        and browser_required()
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("browser") is not None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"MINHU_REQUIRE_BROWSER=1 forbids skipping a browser test: {reason}"
    return report
