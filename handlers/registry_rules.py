"""The registry's rules (pure): what a community, grid, building or worker must look like,
names that would be ambiguous, and the CSV format staff import and export.

Shared by the console's forms, the JSON API and CSV imports, so one rule answers all three.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from handlers.errors import InvalidInput
from storage.models import Building

MAX_CSV_ROWS = 5000
WORKER_ROLES = {"grid_worker": "网格员", "grid_leader": "网格长", "community_staff": "社区工作人员"}
ROLE_BY_LABEL = {label: role for role, label in WORKER_ROLES.items()}
_ALIAS_SPLIT = re.compile(r"[;；,，、|\n]+")
_PHONE = re.compile(r"^[0-9+\- ]{0,30}$")
CHANNEL = re.compile(r"^[a-z]{2,20}$")
USER_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")
_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def split_aliases(value: str | Sequence[str]) -> list[str]:
    parts = _ALIAS_SPLIT.split(value) if isinstance(value, str) else list(value)
    out: list[str] = []
    for part in parts:
        alias = part.strip()
        if alias and alias not in out:
            out.append(alias)
    return out


class CommunityIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    street: str = Field(default="", max_length=100)
    hotline: str = Field(default="", max_length=40)


class GridIn(BaseModel):
    community_id: int
    name: str = Field(min_length=1, max_length=100)
    parent_id: int | None = None
    level: Literal["grid", "micro_grid"] = "grid"


class BuildingIn(BaseModel):
    community_id: int
    name: str = Field(min_length=1, max_length=100)
    grid_id: int | None = None
    aliases: list[str] = Field(default_factory=list, max_length=30)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases(cls, value: Any) -> Any:
        if isinstance(value, str | list):
            aliases = split_aliases(value)
            if any(len(a) > 50 for a in aliases):
                raise ValueError("an alias is longer than 50 characters")
            return aliases
        return value

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name is empty")
        return value


class ChannelRef(BaseModel):
    channel: str = Field(pattern=CHANNEL.pattern)
    user_id: str = Field(pattern=USER_ID.pattern)


class WorkerIn(BaseModel):
    community_id: int
    name: str = Field(min_length=1, max_length=50)
    role: Literal["grid_worker", "grid_leader", "community_staff"] = "grid_worker"
    grid_id: int | None = None
    phone: str = Field(default="", pattern=_PHONE.pattern)
    on_duty: bool = True
    active: bool = True
    channels: list[ChannelRef] = Field(default_factory=list, max_length=10)

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name is empty")
        return value


class WorkerPatch(BaseModel):
    on_duty: bool | None = None
    active: bool | None = None


def name_clash(
    buildings: Sequence[Building], name: str, aliases: Sequence[str], exclude: int | None
) -> str | None:
    """Why a building name/alias would be ambiguous among the community's buildings."""
    for other in buildings:
        if other.id == exclude:
            continue
        taken = {other.name, *(other.aliases or [])}
        if name in taken:
            return f"楼栋名“{name}”与“{other.name}”重复"
        for alias in aliases:
            if alias in taken:
                return f"别名“{alias}”已被“{other.name}”使用"
    return None


# --- CSV ----------------------------------------------------------------------------------------

BUILDING_COLUMNS: dict[str, tuple[str, ...]] = {
    "community": ("社区", "community"),
    "name": ("楼栋", "name", "building"),
    "grid": ("网格", "grid"),
    "aliases": ("别名", "aliases"),
    "latitude": ("纬度", "latitude", "lat"),
    "longitude": ("经度", "longitude", "lng", "lon"),
}
WORKER_COLUMNS: dict[str, tuple[str, ...]] = {
    "community": ("社区", "community"),
    "name": ("姓名", "name"),
    "role": ("角色", "role"),
    "grid": ("网格", "grid"),
    "phone": ("电话", "phone"),
    "on_duty": ("在岗", "on_duty"),
    "active": ("启用", "active"),
    "channels": ("渠道", "channels"),
}
_YES = {"是", "在岗", "yes", "y", "true", "1", "启用", ""}
_NO = {"否", "不在岗", "no", "n", "false", "0", "停用"}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # the line in the file (the header is line 1)
    message: str


class ImportFailed(InvalidInput):
    """A CSV import with bad rows: nothing was written; ``detail`` lists every row error."""


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (what Excel on Chinese Windows writes)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("无法识别文件编码，请保存为 UTF-8 CSV")


def csv_rows(text: str, columns: dict[str, tuple[str, ...]]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("文件是空的") from None
    index: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip().lower()
        for key, names in columns.items():
            if name in names:
                index[key] = i
    if "name" not in index:
        wanted = "、".join(names[0] for names in columns.values())
        raise InvalidInput(f"缺少表头，需要的列：{wanted}")
    out: list[tuple[int, dict[str, str]]] = []
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(out) >= MAX_CSV_ROWS:
            raise InvalidInput(f"一次最多导入 {MAX_CSV_ROWS} 行")
        out.append(
            (line, {k: undefuse(values[i]) if i < len(values) else "" for k, i in index.items()})
        )
    if not out:
        raise InvalidInput("文件里没有数据行")
    return out


def undefuse(value: str) -> str:
    """Undo the quote our export puts before a formula-like cell."""
    value = value.strip()
    if value[:2] in ("'=", "'+", "'-", "'@"):
        return value[1:]
    return value


def flag(value: str, line: int, label: str, errors: list[RowError]) -> bool:
    lowered = value.strip().lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    errors.append(RowError(line, f"“{label}”应为 是/否，而不是“{value}”"))
    return True


def validation_text(error: ValidationError) -> str:
    return "；".join(
        f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}" for e in error.errors()
    )


def line_of(error: RowError) -> int:
    return error.row


def ambiguities(final: list[tuple[int | None, str, list[str]]]) -> list[RowError]:
    """Rows whose name or alias would also name another building of the community.

    ``final`` is (CSV line or None for an untouched building, name, aliases).
    """
    owners: dict[str, list[int]] = {}
    for index, (_, name, aliases) in enumerate(final):
        for token in {name, *aliases}:
            owners.setdefault(token, []).append(index)
    out: list[RowError] = []
    for index, (line, name, aliases) in enumerate(final):
        if line is None:
            continue
        for token in [name, *aliases]:
            others = [i for i in owners[token] if i != index]
            if others:
                other = final[others[0]][1]
                what = "楼栋名" if token == name else "别名"
                out.append(RowError(line, f"{what}“{token}”与楼栋“{other}”重复"))
                break
    return out


def parse_channels(value: str, line: int, errors: list[RowError]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for part in split_aliases(value):
        channel, sep, user_id = part.partition(":")
        if not sep or not CHANNEL.match(channel.strip()) or not USER_ID.match(user_id.strip()):
            errors.append(RowError(line, f"渠道“{part}”格式应为 渠道:账号，如 web:worker-zhang"))
            continue
        out.append({"channel": channel.strip(), "user_id": user_id.strip()})
    return out


def csv_cell(value: object) -> str:
    """Defuse spreadsheet formulas (=, +, -, @ at the start), but leave numbers alone."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@") and not _NUMBER.match(text):
        return "'" + text
    return text
