"""Who may do what: the one permission model of the chat, the console, the APIs and Open311.

Pure policy over a *subject* (who asks: role, community, grid, own ids) and a *target* (a
ticket, a community, or nothing in particular), with the grid tree passed in. A decision
takes two steps:

1. ``scope_of`` — how the target relates to the subject:

   - ``own``: the ticket is assigned to them, reported by them or handed to their department;
   - ``own_grid``: in their grid or below it (a leader with no grid leads the whole
     community; community staff have no grid, so their whole community is their area);
   - ``own_community``: elsewhere in their community;
   - ``own_street``: in a community of the subject's street (street staff: every community
     of their street; they belong to no community of their own);
   - ``other_community``: in another community (or in none);
   - ``global``: tied to no community (accounts, the audit log, the shared training data,
     the active model, creating a community).

2. ``POLICY[role][action]`` — the scopes at which the role may do the action.

``may(subject, action, target, grids)`` is the two together. The table (also in the README's
security section; ``tests/handlers/test_permissions.py`` spells out every cell):

=================  ========  ======  ======  =====  ======  ==========  =====  ======
action             resident  worker  leader  staff  street  department  admin  public
=================  ========  ======  ======  =====  ======  ==========  =====  ======
view               o         o       og      ogc    os      o           all    —
handle             —         o       og      ogc    os      —           all    —
note               —         o       og      ogc    os      —           all    —
recategorize       —         o       og      ogc    os      —           all    —
escalate           —         o       og      ogc    os      —           all    —
department_reply   —         o       og      ogc    os      o           all    —
reassign           —         —       og      ogc    os      —           all    —
close / cancel     —         —       og      ogc    os      —           all    —
merge              —         —       og      ogc    os      —           all    —
supervise          —         —       og      ogc    os      —           all    —
send_back          —         —       —       —      os      —           all    —
forward_city       —         —       —       —      os      —           all    —
rate / supplement  o         —       —       —      —       —           —      —
read_public        all       all     all     all    all     all         all    all
manage_registry    —         —       —       c      —       —           all    —
bind_identity      —         —       —       c      —       —           all    —
review             —         —       —       c      —       —           all    —
answer             —         —       —       c      —       —           all    —
publish_notice     —         —       g       gc     s       —           all    —
teach              —         —       —       *      —       —           all    —
create_community,  —         —       —       —      —       —           all    —
import_training,
activate_model,
manage_accounts,
read_audit,
manage_deliveries
=================  ========  ======  ======  =====  ======  ==========  =====  ======

(o own, g own grid, c own community, s own street, x other community, * global;
"all" = ogcsx*.) ``send_back`` (退回社区) and ``forward_city`` (转12345) are the street's: a
ticket the community referred up goes back down with an instruction, or on to the city.
``handle`` is a worker's work on a task: accept, progress, resolve, transfer, read the
resident's phone, hand to or add a department. ``bind_identity`` is judged at the community
of the person whose chat account would become a worker's: a resident of another community
cannot be bound by staff.
``publish_notice`` is judged at the place the notice goes to (``PlaceTarget``): a building or
grid lies in the subject's grid (``g``) or elsewhere in their community (``c``); a whole
community is a ``CommunityTarget``; a street-wide notice is a ``StreetTarget`` (``s`` for
street staff of that street; nobody else but an admin).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from storage.models import GridWorker, Ticket

GridTree = Mapping[int, int | None]  # grid id → parent grid id


class Role(StrEnum):
    RESIDENT = "resident"
    GRID_WORKER = "grid_worker"
    GRID_LEADER = "grid_leader"
    COMMUNITY_STAFF = "community_staff"
    STREET_STAFF = "street_staff"  # 街道: every community of their street (issue 14)
    DEPARTMENT = "department"
    ADMIN = "admin"
    PUBLIC = "public"  # anyone reading the Open311 feed


class Action(StrEnum):
    # tickets
    VIEW = "view"
    HANDLE = "handle"
    NOTE = "note"
    RECATEGORIZE = "recategorize"
    ESCALATE = "escalate"
    DEPARTMENT_REPLY = "department_reply"
    REASSIGN = "reassign"
    CLOSE = "close"
    CANCEL = "cancel"
    MERGE = "merge"
    SUPERVISE = "supervise"
    SEND_BACK = "send_back"  # the street returns a referred ticket to the community (退回社区)
    FORWARD_CITY = "forward_city"  # the street hands a ticket to the city's 12345 hotline
    RATE = "rate"
    SUPPLEMENT = "supplement"
    READ_PUBLIC = "read_public"
    # a community's registry and review inbox
    MANAGE_REGISTRY = "manage_registry"
    BIND_IDENTITY = "bind_identity"
    REVIEW = "review"
    ANSWER = "answer"  # talk with a resident who asked for a person (the handoff inbox)
    PUBLISH_NOTICE = "publish_notice"  # a notice to the residents of a place (issue 14)
    # tied to no community
    TEACH = "teach"
    CREATE_COMMUNITY = "create_community"
    IMPORT_TRAINING = "import_training"
    ACTIVATE_MODEL = "activate_model"
    MANAGE_ACCOUNTS = "manage_accounts"
    READ_AUDIT = "read_audit"
    MANAGE_DELIVERIES = "manage_deliveries"  # the dead-letter view: read and send again


class Scope(StrEnum):
    OWN = "own"
    OWN_GRID = "own_grid"
    OWN_COMMUNITY = "own_community"
    OWN_STREET = "own_street"
    OTHER_COMMUNITY = "other_community"
    GLOBAL = "global"


A, S = Action, Scope
_NONE: frozenset[Scope] = frozenset()
_OWN = frozenset({S.OWN})
_GRID = frozenset({S.OWN, S.OWN_GRID})
_COMMUNITY = frozenset({S.OWN, S.OWN_GRID, S.OWN_COMMUNITY})
_STREET = frozenset({S.OWN, S.OWN_STREET})
_EVERYWHERE = frozenset(Scope)

# what supervisors (leaders in their grid, staff in their community) do to tickets
_SUPERVISION = (
    A.VIEW,
    A.HANDLE,
    A.NOTE,
    A.RECATEGORIZE,
    A.ESCALATE,
    A.DEPARTMENT_REPLY,
    A.REASSIGN,
    A.CLOSE,
    A.CANCEL,
    A.MERGE,
    A.SUPERVISE,
)


def _rules(scopes: frozenset[Scope], actions: Iterable[Action]) -> dict[Action, frozenset[Scope]]:
    return dict.fromkeys(actions, scopes)


POLICY: dict[Role, dict[Action, frozenset[Scope]]] = {
    Role.RESIDENT: {
        **_rules(_OWN, (A.VIEW, A.RATE, A.SUPPLEMENT)),
        A.READ_PUBLIC: _EVERYWHERE,
    },
    Role.GRID_WORKER: {
        **_rules(_OWN, (A.VIEW, A.HANDLE, A.NOTE, A.RECATEGORIZE, A.ESCALATE, A.DEPARTMENT_REPLY)),
        A.READ_PUBLIC: _EVERYWHERE,
    },
    Role.GRID_LEADER: {
        **_rules(_GRID, _SUPERVISION),
        A.PUBLISH_NOTICE: frozenset({S.OWN_GRID}),
        A.READ_PUBLIC: _EVERYWHERE,
    },
    Role.COMMUNITY_STAFF: {
        **_rules(_COMMUNITY, _SUPERVISION),
        **_rules(
            frozenset({S.OWN_COMMUNITY}),
            (A.MANAGE_REGISTRY, A.BIND_IDENTITY, A.REVIEW, A.ANSWER),
        ),
        A.PUBLISH_NOTICE: frozenset({S.OWN_GRID, S.OWN_COMMUNITY}),
        A.TEACH: frozenset({S.GLOBAL}),
        A.READ_PUBLIC: _EVERYWHERE,
    },
    Role.STREET_STAFF: {
        **_rules(_STREET, (*_SUPERVISION, A.SEND_BACK, A.FORWARD_CITY)),
        A.PUBLISH_NOTICE: frozenset({S.OWN_STREET}),
        A.READ_PUBLIC: _EVERYWHERE,
    },
    Role.DEPARTMENT: {
        **_rules(_OWN, (A.VIEW, A.DEPARTMENT_REPLY)),
        A.READ_PUBLIC: _EVERYWHERE,
    },
    Role.ADMIN: _rules(_EVERYWHERE, (a for a in Action if a not in (A.RATE, A.SUPPLEMENT))),
    Role.PUBLIC: {A.READ_PUBLIC: _EVERYWHERE},
}


@dataclass(frozen=True, slots=True)
class Subject:
    """Who asks. ``grid_id`` is a leader's (or worker's) grid; ``None`` with a community
    means the whole community is their area. Street staff have no community: their area is
    ``street_communities``, the communities of street ``street_id``."""

    role: Role
    community_id: int | None = None
    grid_id: int | None = None
    worker_id: int | None = None
    resident_id: int | None = None
    department_id: int | None = None
    street_id: int | None = None
    street_communities: frozenset[int] = frozenset()

    @classmethod
    def of_worker(cls, worker: GridWorker, street_communities: Iterable[int] = ()) -> Subject:
        """A registry worker acting in the chat (their registry role counts).

        ``street_communities``: for street staff, the communities of their street.
        """
        try:
            role = Role(worker.role)
        except ValueError:
            role = Role.GRID_WORKER  # an unknown role gets the least a worker may do
        if role == Role.STREET_STAFF:
            if worker.street_id is None:
                return cls(Role.GRID_WORKER, worker.community_id, worker_id=worker.id)
            return cls(
                role,
                None,
                None,
                worker_id=worker.id,
                street_id=worker.street_id,
                street_communities=frozenset(street_communities),
            )
        if role not in (Role.GRID_WORKER, Role.GRID_LEADER, Role.COMMUNITY_STAFF):
            role = Role.GRID_WORKER
        return cls(role, worker.community_id, worker.grid_id, worker_id=worker.id)

    @classmethod
    def resident(cls, resident_id: int | None, community_id: int | None = None) -> Subject:
        return cls(Role.RESIDENT, community_id, resident_id=resident_id)

    @classmethod
    def department(cls, department_id: int | None, community_id: int | None = None) -> Subject:
        return cls(Role.DEPARTMENT, community_id, department_id=department_id)


ADMIN = Subject(Role.ADMIN)
PUBLIC = Subject(Role.PUBLIC)


@dataclass(frozen=True, slots=True)
class TicketTarget:
    """What the model needs to know about a ticket."""

    community_id: int | None
    grid_id: int | None
    assignee_id: int | None = None
    resident_id: int | None = None
    departments: frozenset[int] = frozenset()  # departments it was handed to

    @classmethod
    def of(cls, ticket: Ticket, departments: Iterable[int] = ()) -> TicketTarget:
        return cls(
            ticket.community_id,
            ticket.grid_id,
            ticket.assignee_id,
            ticket.resident_id,
            frozenset(departments),
        )


@dataclass(frozen=True, slots=True)
class CommunityTarget:
    """Something of one community: its registry, a review item, a person to bind."""

    community_id: int | None


@dataclass(frozen=True, slots=True)
class StreetTarget:
    """A whole street (a street-wide notice)."""

    street_id: int | None


@dataclass(frozen=True, slots=True)
class PlaceTarget:
    """A place in a community: a building or a grid (the grid it lies in)."""

    community_id: int | None
    grid_id: int | None


Target = (
    TicketTarget | CommunityTarget | PlaceTarget | StreetTarget | None
)  # None: tied to no community


def allowed(role: Role, action: Action, scope: Scope) -> bool:
    """The table: may this role do this action at this scope?"""
    return scope in POLICY.get(role, {}).get(action, _NONE)


def descends(grid_id: int | None, ancestor: int, grids: GridTree) -> bool:
    """Is the grid the ancestor itself or below it?"""
    seen: set[int] = set()
    current = grid_id
    while current is not None and current not in seen:
        if current == ancestor:
            return True
        seen.add(current)
        current = grids.get(current)
    return False


def in_area(subject: Subject, grid_id: int | None, grids: GridTree) -> bool:
    """Is the grid the subject's grid or below it (any grid, for a subject with none)?"""
    return subject.grid_id is None or descends(grid_id, subject.grid_id, grids)


def area_of(
    subject: Subject, community_id: int | None, grid_id: int | None, grids: GridTree
) -> Scope:
    """Where a place (community, grid) lies for the subject, whoever's ticket it is."""
    if subject.community_id is not None and community_id == subject.community_id:
        return S.OWN_GRID if in_area(subject, grid_id, grids) else S.OWN_COMMUNITY
    if community_id is not None and community_id in subject.street_communities:
        return S.OWN_STREET
    return S.OTHER_COMMUNITY


def is_own(subject: Subject, ticket: TicketTarget) -> bool:
    """Assigned to them, reported by them, or handed to their department."""
    return (
        (subject.worker_id is not None and ticket.assignee_id == subject.worker_id)
        or (subject.resident_id is not None and ticket.resident_id == subject.resident_id)
        or (subject.department_id is not None and subject.department_id in ticket.departments)
    )


def scope_of(subject: Subject, target: Target, grids: GridTree) -> Scope:
    """How the target relates to the subject (see the module docstring)."""
    if target is None:
        return S.GLOBAL
    if isinstance(target, PlaceTarget):
        return area_of(subject, target.community_id, target.grid_id, grids)
    if isinstance(target, StreetTarget):
        if subject.street_id is not None and target.street_id == subject.street_id:
            return S.OWN_STREET
        return S.OTHER_COMMUNITY
    if isinstance(target, CommunityTarget):
        if subject.community_id is not None and target.community_id == subject.community_id:
            return S.OWN_COMMUNITY
        if target.community_id is not None and target.community_id in subject.street_communities:
            return S.OWN_STREET
        return S.OTHER_COMMUNITY
    if is_own(subject, target):
        return S.OWN
    return area_of(subject, target.community_id, target.grid_id, grids)


def may(subject: Subject, action: Action, target: Target, grids: GridTree) -> bool:
    """May the subject do the action to the target?"""
    return allowed(subject.role, action, scope_of(subject, target, grids))


def supervises(subject: Subject, ticket: TicketTarget, grids: GridTree) -> bool:
    """Is the ticket in the subject's area to supervise (whoever it is assigned to)?"""
    return allowed(
        subject.role, A.SUPERVISE, area_of(subject, ticket.community_id, ticket.grid_id, grids)
    )


def communities_for(subject: Subject, action: Action) -> tuple[int, ...] | None:
    """The communities in which the subject may do a community-level action (None: all)."""
    if allowed(subject.role, action, S.OTHER_COMMUNITY):
        return None
    if allowed(subject.role, action, S.OWN_COMMUNITY) and subject.community_id is not None:
        return (subject.community_id,)
    if allowed(subject.role, action, S.OWN_STREET):
        return tuple(sorted(subject.street_communities))
    return ()


@dataclass(frozen=True, slots=True)
class TicketVisibility:
    """Which tickets a subject may list: ``None`` fields do not restrict; an empty tuple
    matches nothing."""

    community_ids: tuple[int, ...] | None
    grid_ids: tuple[int, ...] | None = None
    assignee_id: int | None = None


def visible_tickets(subject: Subject, grids: GridTree) -> TicketVisibility:
    """The list filter for ``view``: everywhere, a community, a grid subtree, or their own."""
    role = subject.role
    if allowed(role, A.VIEW, S.OTHER_COMMUNITY):
        return TicketVisibility(None)
    if allowed(role, A.VIEW, S.OWN_STREET):
        return TicketVisibility(tuple(sorted(subject.street_communities)))
    own_community = (subject.community_id,) if subject.community_id is not None else ()
    if allowed(role, A.VIEW, S.OWN_COMMUNITY):
        return TicketVisibility(own_community)
    if allowed(role, A.VIEW, S.OWN_GRID) and subject.grid_id is not None:
        return TicketVisibility(own_community, grid_ids=subtree(subject.grid_id, grids))
    if allowed(role, A.VIEW, S.OWN_GRID):  # a leader of the whole community
        return TicketVisibility(own_community)
    # own tickets only; a subject without a worker id sees nothing (-1 matches no ticket)
    return TicketVisibility(None, assignee_id=subject.worker_id or -1)


def subtree(grid_id: int, grids: GridTree) -> tuple[int, ...]:
    """A grid and every grid below it."""
    return (grid_id, *(g for g in grids if g != grid_id and descends(g, grid_id, grids)))
