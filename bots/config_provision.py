"""Configuration of `yakuba provision`: the org chart from config and a staff list.

The departments, their rooms and leads are the configuration's ``departments``; this
section says how to read the staff list (column names, role words, department names),
what the provisioning may do on Synapse (the admin token, deactivating leavers) and which
power level each role gets.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from bots.config_errors import fail
from bots.config_types import DepartmentId, Model, RoleKey, RoomRef, checks
from bots.secrets import Secret

__all__ = [
    "DEFAULT_ROLE_WORDS",
    "ProvisionSettings",
    "SpaceSettings",
    "StaffColumns",
]

#: words of a personnel system's role column (役職) and the yakuba roles they give;
#: a word matches a cell that is the word or contains it (課長補佐 contains 課長)
DEFAULT_ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "部長": ("lead",),
    "次長": ("lead",),
    "課長": ("lead",),
    "室長": ("lead",),
    "所長": ("lead",),
    "館長": ("lead",),
    "係長": ("lead",),
    "防災": ("disaster_officer",),
    "危機管理": ("disaster_officer",),
    "広報": ("announcer",),
}

PowerLevel = Annotated[int, Field(ge=0, le=100)]


def normalise_word(value: str) -> str:
    """How headers, role words and department names are compared: NFKC (full-width
    letters and digits as ASCII), case-folded, without spaces, '_' and '-'."""
    text = unicodedata.normalize("NFKC", value).casefold()
    return "".join(ch for ch in text if not ch.isspace() and ch not in "_-")


class SpaceSettings(Model):
    #: the city's space, e.g. "#city:city.example.jp" (created if missing)
    alias: RoomRef
    name: str = Field(min_length=1)
    topic: str | None = None

    @field_validator("alias")
    @classmethod
    def _check_alias(cls, value: str, info: ValidationInfo) -> str:
        if not value.startswith("#"):
            raise fail(f"expected a room alias (#name:server), got {value!r}")
        server = checks(info).server_name
        if server is not None and value.split(":", 1)[1] != server:
            raise fail(f"the space must be on this homeserver ({server}), got {value!r}")
        return value


class StaffColumns(Model):
    """The staff list's header names. The English names (employee_number, name, kana,
    department, role, matrix_id) are always understood as well."""

    employee_number: str = "職員番号"
    name: str = "氏名"
    kana: str = "カナ"
    department: str = "所属"
    role: str = "役割"
    user_id: str = "MatrixID"


class ProvisionSettings(Model):
    #: a Synapse server admin's access token (admin API: accounts, room state, deactivation)
    admin_token: Secret
    #: the city's space holding every department room; left out, no space
    space: SpaceSettings | None = None
    #: department rooms are created end-to-end encrypted (and encryption turned on)
    encrypted: bool = True
    #: a room's name when not its department's name (`#soumu-kanri:…: 総務課 管理係`)
    room_names: dict[RoomRef, str] = Field(default_factory=dict)
    #: rooms that the holders of a role join and get their level in, besides their own
    #: department's (e.g. disaster_officer: ["#bousai-honbu:…"])
    role_rooms: dict[RoleKey, tuple[RoomRef, ...]] = Field(default_factory=dict)
    #: the power level each role gets in the rooms; default: `roles.<role>.power_level`,
    #: else 50 (admin 100)
    power_levels: dict[RoleKey, PowerLevel] = Field(default_factory=dict)
    #: leavers' accounts are deactivated through the admin API (they lose all access)
    deactivate_leavers: bool = False
    #: the staff list's text encoding; auto: UTF-8 (with or without BOM), else Shift_JIS
    encoding: Literal["auto", "utf-8", "cp932"] = "auto"
    columns: StaffColumns = StaffColumns()
    #: words of the role column and the roles they give (replaces the default list)
    role_words: dict[str, tuple[RoleKey, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_WORDS)
    )
    #: department names the staff list uses other than the id and name.ja / name.en
    department_names: dict[str, DepartmentId] = Field(default_factory=dict)

    @field_validator("department_names")
    @classmethod
    def _check_departments(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        known = checks(info).department_ids
        for name, department in value.items():
            if known and department not in known:
                listed = ", ".join(sorted(known))
                raise fail(
                    f"{name!r} names department {department!r}, which is not configured"
                    f" (departments: {listed})"
                )
        return value

    @field_validator("role_words")
    @classmethod
    def _check_words(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for word in value:
            if not normalise_word(word):
                raise fail("a role word is empty")
        return value

    @field_validator("columns")
    @classmethod
    def _check_columns(cls, value: StaffColumns) -> StaffColumns:
        names = [normalise_word(v) for v in value.model_dump().values()]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise fail(f"two columns have the same header {repeated[0]!r}")
        return value
