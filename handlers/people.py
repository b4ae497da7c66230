"""The people around a building (issue 14, item 6) and residents reached off chat (item 4):
pure rules. Building heads (楼栋长), unit heads (单元长) and party-member volunteers
(党员志愿者); what a resident may see of them; the questions that ask for them ("我的网格员");
link codes; the helper CSV.

What a resident may see (``who_answer``): the grid worker's and grid leader's name and work
phone in full — the seeds post them on every building's 网格公示牌, they are public service
numbers; a building head's or volunteer's name and their phone masked (138****5678): they
are neighbours, not staff, and their own number is theirs to give.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from nlu.pii import mask, phone_digits


class HelperRole(StrEnum):
    BUILDING_HEAD = "building_head"
    UNIT_HEAD = "unit_head"
    PARTY_VOLUNTEER = "party_volunteer"


ROLE_LABELS: dict[HelperRole, dict[str, str]] = {
    HelperRole.BUILDING_HEAD: {"zh": "楼栋长", "en": "building head"},
    HelperRole.UNIT_HEAD: {"zh": "单元长", "en": "unit head"},
    HelperRole.PARTY_VOLUNTEER: {"zh": "党员志愿者", "en": "party-member volunteer"},
}
_ROLE_WORDS = {
    "楼栋长": HelperRole.BUILDING_HEAD,
    "楼长": HelperRole.BUILDING_HEAD,
    "单元长": HelperRole.UNIT_HEAD,
    "党员志愿者": HelperRole.PARTY_VOLUNTEER,
    "志愿者": HelperRole.PARTY_VOLUNTEER,
}
# who is asked first on a ticket: the building head, then the unit's head, then volunteers
ORDER = {HelperRole.BUILDING_HEAD: 0, HelperRole.UNIT_HEAD: 1, HelperRole.PARTY_VOLUNTEER: 2}


def role_of(value: str) -> HelperRole:
    """``building_head`` or 楼栋长 (楼长 …) → the role.

    Raises:
        ValueError: with the choices, in Chinese.
    """
    value = value.strip()
    for role in HelperRole:
        if value == role.value:
            return role
    if value in _ROLE_WORDS:
        return _ROLE_WORDS[value]
    raise ValueError(f"未知的角色“{value}”，可选：楼栋长、单元长、党员志愿者")


def role_label(role: str, locale: str = "zh") -> str:
    try:
        labels = ROLE_LABELS[HelperRole(role)]
    except ValueError:
        return role
    return labels.get(locale) or labels["zh"]


MOBILE = re.compile(r"1[3-9]\d{9}")


def mobile(raw: str) -> str | None:
    """A mainland mobile number (the only kind that gets text messages), digits only."""
    digits = phone_digits(raw)
    return digits if MOBILE.fullmatch(digits) else None


def masked_phone(phone: str) -> str:
    """138****5678 (``nlu.pii.mask``); anything else with digits hidden whole."""
    if not phone:
        return ""
    masked = mask(phone, ("phone",))
    if masked != phone:
        return masked
    return "***" if any(ch.isdigit() for ch in phone) else phone


# --- "我的网格员": who looks after my building ---------------------------------------------

_WHO = re.compile(r"(网格员|网格长|楼栋长|楼长|单元长|志愿者)")
_ASK = re.compile(r"(是谁|叫什么|谁是|电话|手机|号码|联系方式|怎么联系|如何联系|找谁|哪位)")
_NOT_A_QUESTION = re.compile(r"(不|没|投诉|太慢|态度|骂|差劲)")
_MINE = re.compile(
    r"^\s*(我的|我们的?|我家的?|本楼的?)?(网格员|网格长|楼栋长|楼长|单元长)[?？。!！\s]*$"
)


def asks_for_people(text: str) -> bool:
    """ "我的网格员", "我们楼栋长是谁", "网格员电话" — not "网格员一直不来修" (a complaint)."""
    text = text.strip()
    if not text or len(text) > 40:
        return False
    if _MINE.match(text):
        return True
    if _NOT_A_QUESTION.search(text):  # "网格员电话打不通" is a complaint, not a question
        return False
    return bool(_WHO.search(text) and _ASK.search(text))


_BUILDING = re.compile(r"([A-Za-z]区)?\s*([0-9０-９一二三四五六七八九十百两]+)\s*(号楼|幢|栋|号)")


def building_mention(text: str) -> str | None:
    """ "6幢的楼栋长是谁" → "6幢" (to resolve against the registry), else None."""
    match = _BUILDING.search(text)
    return match.group(0).strip() if match else None


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a resident may be told about."""

    role: str  # grid_worker | grid_leader | building_head | unit_head | party_volunteer
    name: str
    phone: str = ""
    unit: str = ""


STAFF_LABELS = {
    "grid_worker": {"zh": "网格员", "en": "grid worker"},
    "grid_leader": {"zh": "网格长", "en": "grid leader"},
}


def person_line(person: Person, locale: str) -> str:
    """One line of the answer, with the phone as a resident may see it."""
    if person.role in STAFF_LABELS:
        label = STAFF_LABELS[person.role].get(locale) or STAFF_LABELS[person.role]["zh"]
        phone = person.phone  # a work phone, posted on the building's 网格公示牌
    else:
        label = role_label(person.role, locale)
        if person.unit:
            label = f"{person.unit}{label}"
        phone = masked_phone(person.phone)
    sep = "：" if locale == "zh" else ": "
    tail = (f"，电话 {phone}" if locale == "zh" else f", phone {phone}") if phone else ""
    return f"· {label}{sep}{person.name}{tail}"


# --- link codes -------------------------------------------------------------------------------

_LINK = re.compile(r"^\s*(?:绑定|綁定|bind)\s*[:：]?\s*(\d{4})[\s-]?(\d{4})\s*$", re.IGNORECASE)


def link_code_in(text: str) -> str | None:
    """ "绑定 4829 1375" → "48291375"."""
    match = _LINK.match(text)
    return match.group(1) + match.group(2) if match else None


_PHONE_LINK = re.compile(
    r"^\s*(?:绑定|綁定|验证)(?:手机号?|电话|号码)\s*[:：]?\s*([+\d][\d\s-]{9,18})\s*$"
)


def phone_link_in(text: str) -> str | None:
    """ "绑定手机 139 1234 5678" → the mobile number whose tickets the writer claims."""
    match = _PHONE_LINK.match(text)
    return mobile(match.group(1)) if match else None


def new_link_code() -> str:
    """Eight random digits (typed from a paper receipt or a text message)."""
    return f"{secrets.randbelow(10**8):08d}"


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def code_text(code: str) -> str:
    return f"{code[:4]} {code[4:]}"


# --- the helper CSV -----------------------------------------------------------------------------

CSV_HEADER = ("姓名", "角色", "社区", "楼栋", "单元", "电话")
_HEADER_ALIASES = {
    "name": "姓名",
    "role": "角色",
    "community": "社区",
    "buildings": "楼栋",
    "building": "楼栋",
    "unit": "单元",
    "phone": "电话",
}


@dataclass(frozen=True, slots=True)
class HelperRow:
    line: int
    name: str
    role: HelperRole
    community: str
    buildings: tuple[str, ...]
    unit: str = ""
    phone: str = ""


@dataclass
class ParsedHelpers:
    rows: list[HelperRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_helpers_csv(text: str) -> ParsedHelpers:
    """``姓名,角色,社区,楼栋,单元,电话`` (or the English names); 楼栋 may list several
    separated by ``;``/``、``. Errors are per line, in Chinese; nothing is half-read."""
    out = ParsedHelpers()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        out.errors.append("文件是空的")
        return out
    names = [_HEADER_ALIASES.get(h.strip().lower(), h.strip()) for h in header]
    missing = [h for h in ("姓名", "角色", "社区", "楼栋") if h not in names]
    if missing:
        out.errors.append(f"第1行：缺少列 {'、'.join(missing)}（需要：{','.join(CSV_HEADER)}）")
        return out
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        cell = {n: (values[i].strip() if i < len(values) else "") for i, n in enumerate(names)}
        problems: list[str] = []
        name = cell.get("姓名", "")
        if not name or len(name) > 50:
            problems.append("姓名为空或过长")
        try:
            role = role_of(cell.get("角色", ""))
        except ValueError as e:
            problems.append(str(e))
            role = HelperRole.BUILDING_HEAD
        buildings = tuple(
            b.strip() for b in re.split(r"[;；、|]", cell.get("楼栋", "")) if b.strip()
        )
        if not buildings:
            problems.append("楼栋为空")
        phone = cell.get("电话", "")
        if phone and not re.fullmatch(r"[\d\s+()-]{5,20}", phone):
            problems.append(f"电话“{mask(phone)}”格式不对")
        unit = cell.get("单元", "")
        if role == HelperRole.UNIT_HEAD and not unit:
            problems.append("单元长需要填写单元")
        if not cell.get("社区"):
            problems.append("社区为空")
        if problems:
            out.errors.append(f"第{number}行：" + "；".join(problems))
            continue
        out.rows.append(
            HelperRow(
                number,
                name,
                role,
                cell["社区"],
                buildings,
                unit,
                phone_digits(phone) if phone else "",
            )
        )
    return out
