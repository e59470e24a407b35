"""Building blocks of the configuration models: field types with their validators, the
frozen base model, and the validation context for cross-field checks."""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    model_validator,
)

from bots.config_errors import fail
from bots.ids import is_room_ref, parse_user_id, server_name_problem, server_of
from bots.secrets import SECRET_BASE_DIR

# --------------------------------------------------------------------------- field types


def user_id_value(value: str) -> str:
    try:
        parse_user_id(value)
    except ValueError as exc:
        raise fail(str(exc)) from None
    return value


def room_ref_value(value: str) -> str:
    if not is_room_ref(value):
        raise fail(f"expected a room ID (!…) or alias (#…:server), got {value!r}")
    return value


def server_name_value(value: str) -> str:
    problem = server_name_problem(value)
    if problem:
        raise fail(f"{problem}, got {value!r}")
    return value


def timezone_value(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(
            f"unknown time zone {value!r}: expected an IANA name like 'Asia/Tokyo' or 'UTC'"
        ) from None
    return value


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def duration(value: object) -> timedelta:
    """'1d', '2h', '30m', '10s', '1d12h' -> timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.fullmatch(str(value).strip()) if isinstance(value, str | int) else None
    if not match or not any(match.groups()):
        raise fail(f"expected a duration like '1d', '2h', '30m', '10s' or '1d12h', got {value!r}")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def crontab(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        raise fail(
            f"expected a crontab line 'minute hour day month weekday' like"
            f" '45 8 * * mon-fri', got {value!r} ({exc})"
        ) from None
    return value


def off_as_none(value: object) -> object:
    """`off` (YAML reads it as false) switches a feature off."""
    return None if value is False or value in ("off", "none") else value


def name_pattern(pattern: str, what: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise fail(f"{what} must match {pattern}, got {value!r}")
        return value

    return AfterValidator(check)


def upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


UserId = Annotated[str, AfterValidator(user_id_value)]
RoomRef = Annotated[str, AfterValidator(room_ref_value)]
ServerName = Annotated[str, AfterValidator(server_name_value)]
TimeZoneName = Annotated[str, AfterValidator(timezone_value)]
BotName = Annotated[str, name_pattern(r"[a-z][a-z0-9_]*", "a bot name")]
DepartmentId = Annotated[str, name_pattern(r"[a-z][a-z0-9_-]*", "a department id")]
Language = Literal["ja", "en"]
Feature = Literal["tasks", "announcements", "alerts", "rollcall"]
RoleName = Literal["lead", "announcer", "disaster_officer", "admin"]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(upper)]

FEATURES: tuple[str, ...] = typing.get_args(Feature)
ROLE_NAMES: tuple[str, ...] = typing.get_args(RoleName)


def role_name(value: str) -> str:
    if value not in ROLE_NAMES:
        raise fail(f"unknown role {value!r} (known roles: {', '.join(ROLE_NAMES)})")
    return value


# A plain str key (checked against ROLE_NAMES) so that ``config.roles.get(name)`` type-checks.
RoleKey = Annotated[str, AfterValidator(role_name)]

# --------------------------------------------------------------------------- validation context


@dataclass
class Checks:
    """Facts known before validation that cross-field checks need (see ``parse_config``)."""

    base_dir: Path
    server_name: str | None = None
    trusted_users: frozenset[str] = frozenset()
    department_ids: set[str] = field(default_factory=set)
    #: ids in `systems:` (None when that section is unreadable: reported there)
    system_ids: frozenset[str] | None = None


CHECKS = "yakuba"


def checks(info: ValidationInfo) -> Checks:
    context = info.context if isinstance(info.context, Mapping) else {}
    found = context.get(CHECKS)
    if isinstance(found, Checks):
        return found
    base_dir = context.get(SECRET_BASE_DIR)
    return Checks(base_dir=base_dir if isinstance(base_dir, Path) else Path.cwd())


def check_rights_holder(user_id: str, info: ValidationInfo) -> str:
    """A remote user listed as a lead or role holder must also be in trusted_users."""
    known = checks(info)
    if known.server_name is None:
        return user_id
    server = server_of(user_id)
    if server != known.server_name and user_id not in known.trusted_users:
        raise fail(
            f"{user_id} is on another homeserver ({server}); users of other homeservers have"
            " no rights unless they are also listed in security.trusted_users"
        )
    return user_id


def resolve_path(value: Path, base: Path) -> Path:
    value = value.expanduser()
    return (value if value.is_absolute() else base / value).resolve()


# --------------------------------------------------------------------------- models


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: object) -> object:
        # "security:" with every child commented out is null in YAML: treat an optional key
        # left empty like a key left out. Required keys stay and get a type error.
        if not isinstance(data, Mapping):
            return data
        fields = cls.model_fields
        return {
            key: value
            for key, value in data.items()
            if not (value is None and key in fields and not fields[key].is_required())
        }


def none_as_empty(value: object) -> object:
    return {} if value is None else value


Duration = Annotated[timedelta, BeforeValidator(duration)]


class LocalText(Model):
    """A text in Japanese (required) and English."""

    ja: str
    en: str | None = None

    def get(self, language: str) -> str:
        """The text in ``language``, falling back to Japanese."""
        return self.en if language == "en" and self.en else self.ja
