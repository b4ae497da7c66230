"""The permission model: every (role × action × scope), and scopes in a real grid tree."""

from __future__ import annotations

import itertools

import pytest

from handlers.permissions import (
    ADMIN,
    PUBLIC,
    Action,
    CommunityTarget,
    PlaceTarget,
    Role,
    Scope,
    StreetTarget,
    Subject,
    TicketTarget,
    TicketVisibility,
    allowed,
    communities_for,
    may,
    scope_of,
    subtree,
    supervises,
    visible_tickets,
)
from storage.models import GridWorker

# o own · g own grid · c own community · s own street · x other community
# * tied to no community · - never
SPEC = """
action            resident worker leader staff  street department admin  public
view              o        o      og     ogc    os     o          ogcsx* -
handle            -        o      og     ogc    os     -          ogcsx* -
note              -        o      og     ogc    os     -          ogcsx* -
recategorize      -        o      og     ogc    os     -          ogcsx* -
escalate          -        o      og     ogc    os     -          ogcsx* -
department_reply  -        o      og     ogc    os     o          ogcsx* -
reassign          -        -      og     ogc    os     -          ogcsx* -
close             -        -      og     ogc    os     -          ogcsx* -
cancel            -        -      og     ogc    os     -          ogcsx* -
merge             -        -      og     ogc    os     -          ogcsx* -
supervise         -        -      og     ogc    os     -          ogcsx* -
send_back         -        -      -      -      os     -          ogcsx* -
forward_city      -        -      -      -      os     -          ogcsx* -
rate              o        -      -      -      -      -          -      -
supplement        o        -      -      -      -      -          -      -
read_public       ogcsx*   ogcsx* ogcsx* ogcsx* ogcsx* ogcsx*     ogcsx* ogcsx*
manage_registry   -        -      -      c      -      -          ogcsx* -
bind_identity     -        -      -      c      -      -          ogcsx* -
review            -        -      -      c      -      -          ogcsx* -
answer            -        -      -      c      -      -          ogcsx* -
publish_notice    -        -      g      gc     s      -          ogcsx* -
teach             -        -      -      *      -      -          ogcsx* -
create_community  -        -      -      -      -      -          ogcsx* -
import_training   -        -      -      -      -      -          ogcsx* -
activate_model    -        -      -      -      -      -          ogcsx* -
manage_accounts   -        -      -      -      -      -          ogcsx* -
read_audit        -        -      -      -      -      -          ogcsx* -
manage_deliveries -        -      -      -      -      -          ogcsx* -
"""
ROLES = {
    "resident": Role.RESIDENT,
    "worker": Role.GRID_WORKER,
    "leader": Role.GRID_LEADER,
    "staff": Role.COMMUNITY_STAFF,
    "street": Role.STREET_STAFF,
    "department": Role.DEPARTMENT,
    "admin": Role.ADMIN,
    "public": Role.PUBLIC,
}
LETTERS = {
    "o": Scope.OWN,
    "g": Scope.OWN_GRID,
    "c": Scope.OWN_COMMUNITY,
    "s": Scope.OWN_STREET,
    "x": Scope.OTHER_COMMUNITY,
    "*": Scope.GLOBAL,
}


def _spec() -> dict[tuple[Role, Action, Scope], bool]:
    lines = [line.split() for line in SPEC.strip().splitlines()]
    header, rows = lines[0][1:], lines[1:]
    out: dict[tuple[Role, Action, Scope], bool] = {}
    for row in rows:
        action = Action(row[0])
        for column, cell in zip(header, row[1:], strict=True):
            for letter, scope in LETTERS.items():
                out[(ROLES[column], action, scope)] = letter in cell
    return out


EXPECTED = _spec()


def test_the_spec_covers_every_role_action_and_scope() -> None:
    assert set(EXPECTED) == set(itertools.product(Role, Action, Scope))


@pytest.mark.parametrize(
    ("role", "action", "scope"),
    list(itertools.product(Role, Action, Scope)),
    ids=lambda v: str(v),
)
def test_the_table_allows_exactly_what_the_spec_says(
    role: Role, action: Action, scope: Scope
) -> None:
    assert allowed(role, action, scope) is EXPECTED[(role, action, scope)]


# --- scopes in a concrete registry -------------------------------------------------------------
#
# community 1: 第一网格 (10) ⊃ 第一网格A微网格 (11); 第二网格 (12). community 2: 明月一网格 (20).
GRIDS = {10: None, 11: 10, 12: None, 20: None}

WORKER = Subject(Role.GRID_WORKER, 1, 11, worker_id=5)
LEADER = Subject(Role.GRID_LEADER, 1, 10, worker_id=6)
WIDE_LEADER = Subject(Role.GRID_LEADER, 1, None, worker_id=7)  # leads the whole community
STAFF = Subject(Role.COMMUNITY_STAFF, 1, None, worker_id=8)
DEPARTMENT = Subject.department(3, 1)
RESIDENT = Subject.resident(9, 1)

MINE = TicketTarget(1, 11, assignee_id=5, resident_id=9, departments=frozenset({3}))
IN_MICRO = TicketTarget(1, 11, assignee_id=4)
IN_PARENT = TicketTarget(1, 10, assignee_id=4)
SIBLING = TicketTarget(1, 12, assignee_id=4)
NO_GRID = TicketTarget(1, None)
ELSEWHERE = TicketTarget(2, 20, assignee_id=40)
NOWHERE = TicketTarget(None, None)

S = Scope
SCOPES = [
    # subject, target, expected scope
    (WORKER, MINE, S.OWN),
    (WORKER, IN_MICRO, S.OWN_GRID),  # in their grid, but someone else's task
    (WORKER, IN_PARENT, S.OWN_COMMUNITY),  # the parent grid is not below theirs
    (WORKER, ELSEWHERE, S.OTHER_COMMUNITY),
    (LEADER, IN_MICRO, S.OWN_GRID),  # a micro-grid below the leader's grid
    (LEADER, IN_PARENT, S.OWN_GRID),
    (LEADER, SIBLING, S.OWN_COMMUNITY),
    (LEADER, NO_GRID, S.OWN_COMMUNITY),
    (LEADER, ELSEWHERE, S.OTHER_COMMUNITY),
    (WIDE_LEADER, SIBLING, S.OWN_GRID),
    (WIDE_LEADER, NO_GRID, S.OWN_GRID),
    (WIDE_LEADER, ELSEWHERE, S.OTHER_COMMUNITY),
    (STAFF, SIBLING, S.OWN_GRID),
    (STAFF, ELSEWHERE, S.OTHER_COMMUNITY),
    (STAFF, NOWHERE, S.OTHER_COMMUNITY),
    (DEPARTMENT, MINE, S.OWN),
    (DEPARTMENT, IN_MICRO, S.OWN_GRID),
    (RESIDENT, MINE, S.OWN),
    (RESIDENT, SIBLING, S.OWN_GRID),
    (ADMIN, ELSEWHERE, S.OTHER_COMMUNITY),
    (PUBLIC, MINE, S.OTHER_COMMUNITY),
    (STAFF, CommunityTarget(1), S.OWN_COMMUNITY),
    (STAFF, CommunityTarget(2), S.OTHER_COMMUNITY),
    (STAFF, CommunityTarget(None), S.OTHER_COMMUNITY),
    (STAFF, None, S.GLOBAL),
]


@pytest.mark.parametrize(("subject", "target", "scope"), SCOPES)
def test_scope_is_the_relation_of_the_target_to_the_subject(
    subject: Subject, target: TicketTarget | CommunityTarget | None, scope: Scope
) -> None:
    assert scope_of(subject, target, GRIDS) == scope


@pytest.mark.parametrize(
    ("subject", "action", "target", "expected"),
    [
        # the chat's task commands (what may_act answered)
        (WORKER, Action.HANDLE, MINE, True),
        (WORKER, Action.HANDLE, IN_MICRO, False),
        (LEADER, Action.HANDLE, IN_MICRO, True),
        (LEADER, Action.HANDLE, SIBLING, False),
        (LEADER, Action.HANDLE, NO_GRID, False),
        (WIDE_LEADER, Action.HANDLE, NO_GRID, True),
        (STAFF, Action.HANDLE, SIBLING, True),
        (STAFF, Action.HANDLE, ELSEWHERE, False),
        # staff moves: the assignee may note, not close
        (WORKER, Action.NOTE, MINE, True),
        (WORKER, Action.CLOSE, MINE, False),
        (LEADER, Action.MERGE, IN_PARENT, True),
        (STAFF, Action.REASSIGN, ELSEWHERE, False),
        (ADMIN, Action.CLOSE, ELSEWHERE, True),
        # a department answers only on tickets handed to it
        (DEPARTMENT, Action.DEPARTMENT_REPLY, MINE, True),
        (DEPARTMENT, Action.DEPARTMENT_REPLY, IN_MICRO, False),
        # a resident rates their own report only
        (RESIDENT, Action.RATE, MINE, True),
        (RESIDENT, Action.RATE, SIBLING, False),
        # the public reads the Open311 projection of anything, and nothing else
        (PUBLIC, Action.READ_PUBLIC, ELSEWHERE, True),
        (PUBLIC, Action.VIEW, ELSEWHERE, False),
        # registry and binding: staff in their own community only
        (STAFF, Action.MANAGE_REGISTRY, CommunityTarget(1), True),
        (STAFF, Action.MANAGE_REGISTRY, CommunityTarget(2), False),
        (STAFF, Action.BIND_IDENTITY, CommunityTarget(2), False),
        (ADMIN, Action.BIND_IDENTITY, CommunityTarget(2), True),
        (STAFF, Action.TEACH, None, True),
        (STAFF, Action.ACTIVATE_MODEL, None, False),
        # notices go to a place: a leader in their grid, staff in their community
        (LEADER, Action.PUBLISH_NOTICE, PlaceTarget(1, 12), False),
        (LEADER, Action.PUBLISH_NOTICE, PlaceTarget(1, IN_MICRO.grid_id), True),
        (LEADER, Action.PUBLISH_NOTICE, CommunityTarget(1), False),
        (STAFF, Action.PUBLISH_NOTICE, PlaceTarget(1, 12), True),
        (STAFF, Action.PUBLISH_NOTICE, CommunityTarget(1), True),
        (STAFF, Action.PUBLISH_NOTICE, PlaceTarget(2, 20), False),
        (STAFF, Action.PUBLISH_NOTICE, None, False),  # a street-wide notice
        (ADMIN, Action.PUBLISH_NOTICE, None, True),
        (WORKER, Action.PUBLISH_NOTICE, PlaceTarget(1, IN_MICRO.grid_id), False),
    ],
)
def test_may_combines_scope_and_table(
    subject: Subject,
    action: Action,
    target: TicketTarget | CommunityTarget | PlaceTarget | None,
    expected: bool,
) -> None:
    assert may(subject, action, target, GRIDS) is expected


def test_supervision_ignores_who_the_ticket_is_assigned_to() -> None:
    leaders_own = TicketTarget(1, 11, assignee_id=6)
    assert supervises(LEADER, leaders_own, GRIDS)
    assert not supervises(LEADER, SIBLING, GRIDS)
    assert supervises(STAFF, SIBLING, GRIDS)
    assert not supervises(WORKER, IN_MICRO, GRIDS)
    assert not supervises(STAFF, ELSEWHERE, GRIDS)


def test_a_registry_worker_acts_with_their_registry_role() -> None:
    leader = GridWorker(id=6, name="陈静", role="grid_leader", community_id=1, grid_id=10)
    assert Subject.of_worker(leader) == LEADER
    odd = GridWorker(id=5, name="x", role="volunteer", community_id=1, grid_id=11)
    assert Subject.of_worker(odd).role == Role.GRID_WORKER


@pytest.mark.parametrize(
    ("subject", "visibility"),
    [
        (ADMIN, TicketVisibility(None)),
        (STAFF, TicketVisibility((1,))),
        (Subject(Role.COMMUNITY_STAFF), TicketVisibility(())),
        (LEADER, TicketVisibility((1,), grid_ids=(10, 11))),
        (WIDE_LEADER, TicketVisibility((1,))),
        (WORKER, TicketVisibility(None, assignee_id=5)),
        (Subject(Role.GRID_WORKER, 1), TicketVisibility(None, assignee_id=-1)),
        (PUBLIC, TicketVisibility(None, assignee_id=-1)),
    ],
)
def test_ticket_lists_are_filtered_to_what_the_subject_may_view(
    subject: Subject, visibility: TicketVisibility
) -> None:
    assert visible_tickets(subject, GRIDS) == visibility


def test_community_level_actions_name_the_communities_they_reach() -> None:
    assert communities_for(ADMIN, Action.MANAGE_REGISTRY) is None
    assert communities_for(STAFF, Action.REVIEW) == (1,)
    assert communities_for(WORKER, Action.MANAGE_REGISTRY) == ()
    assert communities_for(Subject(Role.COMMUNITY_STAFF), Action.REVIEW) == ()


def test_a_subtree_is_the_grid_and_everything_below_it() -> None:
    assert set(subtree(10, GRIDS)) == {10, 11}
    assert subtree(11, GRIDS) == (11,)
    assert subtree(12, {**GRIDS, 13: 12, 14: 13}) == (12, 13, 14)


# --- the street level: street staff of street 7 (communities 1 and 2), not of community 3 ------

STREET = Subject(Role.STREET_STAFF, street_id=7, street_communities=frozenset({1, 2}), worker_id=70)


@pytest.mark.parametrize(
    ("target", "scope"),
    [
        (IN_MICRO, S.OWN_STREET),
        (ELSEWHERE, S.OWN_STREET),
        (TicketTarget(3, None), S.OTHER_COMMUNITY),
        (TicketTarget(3, None, assignee_id=70), S.OWN),
        (NOWHERE, S.OTHER_COMMUNITY),
        (CommunityTarget(2), S.OWN_STREET),
        (CommunityTarget(3), S.OTHER_COMMUNITY),
        (PlaceTarget(1, 12), S.OWN_STREET),
        (StreetTarget(7), S.OWN_STREET),
        (StreetTarget(8), S.OTHER_COMMUNITY),
        (None, S.GLOBAL),
    ],
)
def test_street_staff_reach_every_community_of_their_street_and_no_other(
    target: TicketTarget | CommunityTarget | PlaceTarget | StreetTarget | None, scope: Scope
) -> None:
    assert scope_of(STREET, target, GRIDS) == scope


def test_only_the_street_sends_back_and_forwards_to_12345() -> None:
    assert may(STREET, Action.SEND_BACK, IN_MICRO, GRIDS)
    assert may(STREET, Action.FORWARD_CITY, ELSEWHERE, GRIDS)
    assert not may(STREET, Action.FORWARD_CITY, TicketTarget(3, None), GRIDS)
    assert not may(STAFF, Action.SEND_BACK, IN_MICRO, GRIDS)
    assert may(STAFF, Action.ESCALATE, IN_MICRO, GRIDS)  # the community refers up
    assert may(STREET, Action.PUBLISH_NOTICE, StreetTarget(7), GRIDS)
    assert not may(STAFF, Action.PUBLISH_NOTICE, StreetTarget(7), GRIDS)
    assert not may(STREET, Action.MANAGE_REGISTRY, CommunityTarget(1), GRIDS)


def test_street_staff_list_the_tickets_of_their_street() -> None:
    assert visible_tickets(STREET, GRIDS) == TicketVisibility((1, 2))
    assert communities_for(STREET, Action.VIEW) == (1, 2)
    assert communities_for(STREET, Action.MANAGE_REGISTRY) == ()


def test_a_street_staff_worker_without_a_street_is_a_plain_worker() -> None:
    zhou = GridWorker(id=70, name="周敏", role="street_staff", community_id=1, street_id=7)
    assert Subject.of_worker(zhou, (1, 2)) == STREET
    lost = GridWorker(id=71, name="x", role="street_staff", community_id=1)
    assert Subject.of_worker(lost).role == Role.GRID_WORKER
