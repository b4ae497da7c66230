"""The README's role table is POLICY itself, row by row (so the two never drift apart)."""

from __future__ import annotations

from pathlib import Path

from handlers.permissions import POLICY, Action, Role, Scope

README = Path(__file__).resolve().parents[2] / "README.md"
LETTERS = {
    Scope.OWN: "o",
    Scope.OWN_GRID: "g",
    Scope.OWN_COMMUNITY: "c",
    Scope.OWN_STREET: "s",
    Scope.OTHER_COMMUNITY: "x",
    Scope.GLOBAL: "*",
}
ROLES = (
    Role.RESIDENT,
    Role.GRID_WORKER,
    Role.GRID_LEADER,
    Role.COMMUNITY_STAFF,
    Role.STREET_STAFF,
    Role.DEPARTMENT,
    Role.ADMIN,
    Role.PUBLIC,
)


def _cell(scopes: frozenset[Scope]) -> str:
    if scopes == frozenset(Scope):
        return "all"
    return "".join(letter for scope, letter in LETTERS.items() if scope in scopes) or "—"


def test_readme_security_table_matches_the_policy() -> None:
    text = README.read_text(encoding="utf-8")
    assert "| action | " + " | ".join(r.value for r in ROLES) + " |" in text
    for action in Action:
        cells = [_cell(POLICY[role].get(action, frozenset())) for role in ROLES]
        assert f"| {action.value} | " + " | ".join(cells) + " |" in text, action
