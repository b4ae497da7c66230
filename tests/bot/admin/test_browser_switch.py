"""MINHU_REQUIRE_BROWSER turns a skipped browser test into a failure (CI sets it)."""

from __future__ import annotations

import pytest

SKIPPING = """
import pytest

@pytest.mark.browser
def test_needs_a_browser():
    pytest.skip("no chromium here")

def test_other_skip():
    pytest.skip("unrelated")
"""


def run(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "markers =\n    browser: drives chromium\n"
    )
    pytester.makepyfile(SKIPPING)
    return pytester.runpytest("-p", "tests.bot.admin.conftest", "-p", "no:cacheprovider")


def test_a_skipped_browser_test_fails_when_the_browser_is_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINHU_REQUIRE_BROWSER", "1")
    result = run(pytester)
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*MINHU_REQUIRE_BROWSER=1 forbids skipping a browser test*"])


def test_a_browser_test_may_skip_when_not_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MINHU_REQUIRE_BROWSER", raising=False)
    run(pytester).assert_outcomes(skipped=2)
