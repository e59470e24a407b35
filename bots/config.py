"""The yakuba configuration: one YAML file, validated with every error named by its path.

``load_config(path)`` reads the file, validates it against the models below, resolves
secrets and relative paths, and returns a frozen :class:`Config`.  Problems are raised
together as :class:`ConfigErrors`, each a :class:`ConfigError` whose path is written the way
an operator reads the YAML (``bots.tasks.rooms[2]``, ``roles.lead.users[0]``).

``config/yakuba.example.yaml`` documents every key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bots.config_alerts import AlertSettings
from bots.config_announcements import AnnouncementSettings
from bots.config_bridge import AppserviceSettings, Hook, Outbound, System
from bots.config_errors import ConfigError, ConfigErrors, describe, fail, translate
from bots.config_provision import ProvisionSettings
from bots.config_rollcall import (
    RollCallSettings,
    StaffingSettings,
    check_rollcall,
    check_staffing,
)
from bots.config_types import (
    CHECKS,
    FEATURES,
    ROLE_NAMES,
    BotName,
    Checks,
    DepartmentId,
    Duration,
    Feature,
    Language,
    LocalText,
    LogLevel,
    Model,
    RoleKey,
    RoomRef,
    ServerName,
    TimeZoneName,
    UserId,
    check_rights_holder,
    checks,
    crontab,
    none_as_empty,
    off_as_none,
    resolve_path,
)
from bots.ids import is_room_ref, is_user_id, parse_user_id, server_name_problem, server_of
from bots.secrets import SECRET_BASE_DIR, SECRET_ENV, Secret

__all__ = [
    "FEATURES",
    "ROLE_NAMES",
    "Bot",
    "Config",
    "ConfigError",
    "ConfigErrors",
    "Department",
    "DepartmentName",
    "Homeserver",
    "Language",
    "Logging",
    "Role",
    "Security",
    "Store",
    "UserPrefs",
    "is_room_ref",
    "is_user_id",
    "load_config",
    "parse_config",
    "parse_user_id",
    "server_of",
]


class Homeserver(Model):
    url: str
    server_name: ServerName

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise fail(f"expected an http:// or https:// URL, got {value!r}")
        if parts.query or parts.fragment:
            raise fail(f"expected a URL without ?query or #fragment, got {value!r}")
        return value.rstrip("/")


class Store(Model):
    #: ``sqlite``: a file (``path``); ``postgresql``: a database on a server (``dsn``)
    type: Literal["sqlite", "postgresql"] = "sqlite"
    #: SQLite's file. Relative paths are resolved against ``data_dir`` (see ``Config``).
    path: Path = Path("yakuba.db")
    #: PostgreSQL's connection string (a libpq URI or ``key=value`` list). A secret: it
    #: carries the password, so write it as ``{env: NAME}`` or ``{file: PATH}``.
    dsn: Secret | None = Field(default=None, validate_default=True)

    @field_validator("dsn")
    @classmethod
    def _check_dsn(cls, value: Secret | None, info: ValidationInfo) -> Secret | None:
        kind = info.data.get("type")
        if kind == "postgresql" and value is None:
            raise fail(
                "a postgresql store needs a dsn, e.g. {env: YAKUBA_DSN} with"
                " postgresql://yakuba:PASSWORD@db.city.lg.jp/yakuba in that variable"
            )
        if kind == "sqlite" and value is not None:
            raise fail("dsn is for type: postgresql; a sqlite store is the file in 'path'")
        if value is not None:
            import psycopg  # only for a PostgreSQL store
            from psycopg.conninfo import conninfo_to_dict

            try:
                conninfo_to_dict(value.get())
            except psycopg.ProgrammingError:
                # libpq's message would quote the string, password included
                raise fail(
                    "expected a PostgreSQL connection string (postgresql://USER@HOST/DATABASE"
                    " or 'host=HOST dbname=DATABASE user=USER'); the value is not shown"
                ) from None
        return value


class Security(Model):
    #: Server names whose users may invite the bots (the own server is always allowed).
    allowed_homeservers: tuple[ServerName, ...] = ()
    #: Users of other homeservers that get the rights of the roles they are listed in.
    trusted_users: tuple[UserId, ...] = ()


class Bot(Model):
    user_id: UserId
    password: Secret
    pickle_key: Secret
    display_name: str | None = None
    rooms: tuple[RoomRef, ...] = ()
    features: tuple[Feature, ...] = ()

    @field_validator("user_id")
    @classmethod
    def _check_local(cls, value: str, info: ValidationInfo) -> str:
        server_name = checks(info).server_name
        if server_name is not None and server_of(value) != server_name:
            raise fail(
                f"a bot must be a user of this homeserver ({server_name}),"
                f" got {value!r} on {server_of(value)}"
            )
        return value

    @field_validator("pickle_key")
    @classmethod
    def _check_pickle_key(cls, value: Secret) -> Secret:
        if len(value.get()) < 16:
            raise fail(
                f"the pickle key must be at least 16 characters long, got {len(value.get())}"
            )
        return value

    @field_validator("features")
    @classmethod
    def _check_features(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({f for f in value if value.count(f) > 1})
        if repeated:
            raise fail(f"feature {repeated[0]!r} is listed more than once")
        return value


#: a department's name in Japanese (required) and English
DepartmentName = LocalText


class Department(Model):
    id: DepartmentId
    name: DepartmentName
    rooms: tuple[RoomRef, ...] = ()
    leads: tuple[UserId, ...] = ()
    #: the roll-call roster: everyone asked after an earthquake
    staff: tuple[UserId, ...] = ()

    @field_validator("id")
    @classmethod
    def _check_unique(cls, value: str, info: ValidationInfo) -> str:
        seen = checks(info).department_ids
        if value in seen:
            raise fail(f"department id {value!r} is used more than once")
        seen.add(value)
        return value

    @field_validator("leads")
    @classmethod
    def _check_leads(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for user_id in value:
            check_rights_holder(user_id, info)
        return value


class Role(Model):
    #: Users holding the role in every room.
    users: tuple[UserId, ...] = ()
    #: Anyone with at least this power level in a room holds the role there; None: list only.
    power_level: int | None = None

    @field_validator("users")
    @classmethod
    def _check_users(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for user_id in value:
            check_rights_holder(user_id, info)
        return value


class UserPrefs(Model):
    language: Language | None = None
    timezone: TimeZoneName | None = None


class Logging(Model):
    level: LogLevel = "INFO"


class TasksSettings(Model):
    """Task reminders and the daily digest."""

    reminders_before: tuple[Duration, ...] = (timedelta(days=1), timedelta(hours=1))
    overdue_after: Duration = timedelta(hours=1)
    #: crontab line of the daily digest; `off` (or false) for none
    digest: Annotated[
        Annotated[str, AfterValidator(crontab)] | None, BeforeValidator(off_as_none)
    ] = "45 8 * * mon-fri"
    skip_holidays: bool = True
    year_end_closure: bool = True
    closed_days: tuple[date, ...] = ()
    open_days: tuple[date, ...] = ()
    max_title_length: int = Field(default=200, ge=10, le=2000)


class Config(Model):
    homeserver: Homeserver
    language: Language = "ja"
    timezone: TimeZoneName = "Asia/Tokyo"
    data_dir: Path = Field(default=Path("data"), validate_default=True)
    store: Store = Field(default=Store(), validate_default=True)
    security: Security = Security()
    bots: dict[BotName, Bot]
    departments: tuple[Department, ...] = ()
    roles: dict[RoleKey, Annotated[Role, BeforeValidator(none_as_empty)]] = Field(
        default_factory=dict
    )
    users: dict[UserId, Annotated[UserPrefs, BeforeValidator(none_as_empty)]] = Field(
        default_factory=dict
    )
    logging: Logging = Logging()
    tasks: TasksSettings = TasksSettings()
    announcements: AnnouncementSettings = AnnouncementSettings()
    alerts: AlertSettings = AlertSettings()
    #: the application service; left out, yakuba runs the bots only
    appservice: AppserviceSettings | None = None
    systems: tuple[System, ...] = ()
    hooks: tuple[Hook, ...] = ()
    outbound: Outbound = Outbound()
    # last, so that their checks see the departments, bots, alerts and endpoints
    rollcall: RollCallSettings = RollCallSettings()
    staffing: StaffingSettings = StaffingSettings()
    #: `yakuba provision`: the org chart and the staff list (after the departments)
    provisioning: ProvisionSettings | None = None

    @field_validator("systems", "hooks")
    @classmethod
    def _unique_ids(cls, value: tuple[System, ...] | tuple[Hook, ...]) -> Any:
        ids = [item.id for item in value]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise fail(f"id {repeated[0]!r} is used more than once")
        return value

    @field_validator("rollcall")
    @classmethod
    def _check_rollcall(cls, value: RollCallSettings, info: ValidationInfo) -> RollCallSettings:
        return check_rollcall(value, info.data)

    @field_validator("staffing")
    @classmethod
    def _check_staffing(cls, value: StaffingSettings, info: ValidationInfo) -> StaffingSettings:
        return check_staffing(value, info.data)

    @field_validator("data_dir")
    @classmethod
    def _resolve_data_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return resolve_path(value, checks(info).base_dir)

    @field_validator("store", mode="after")
    @classmethod
    def _resolve_store(cls, value: Store, info: ValidationInfo) -> Store:
        data_dir = info.data.get("data_dir")
        if not isinstance(data_dir, Path):  # data_dir itself is invalid, reported there
            return value
        return value.model_copy(update={"path": resolve_path(value.path, data_dir)})

    @field_validator("bots")
    @classmethod
    def _check_bots(cls, value: dict[str, Bot]) -> dict[str, Bot]:
        if not value:
            raise fail("at least one bot is required")
        owners: dict[str, str] = {}
        accounts: dict[str, str] = {}
        for name, bot in value.items():
            if bot.user_id in accounts:
                raise fail(
                    f"bots {accounts[bot.user_id]!r} and {name!r} use the same account"
                    f" {bot.user_id}; each bot needs its own"
                )
            accounts[bot.user_id] = name
            for feature in bot.features:
                if feature in owners:
                    raise fail(
                        f"feature {feature!r} is served by both {owners[feature]!r} and"
                        f" {name!r}; each feature belongs to one bot"
                    )
                owners[feature] = name
        return value

    # -- lookups

    @property
    def inviter_servers(self) -> frozenset[str]:
        """Server names whose users may invite the bots: our own plus allowed_homeservers."""
        return frozenset((self.homeserver.server_name, *self.security.allowed_homeservers))

    @property
    def zone(self) -> ZoneInfo:
        """The default time zone."""
        return ZoneInfo(self.timezone)

    def bot(self, name: str) -> Bot:
        """The bot called ``name``; ``KeyError`` naming the configured bots if none."""
        try:
            return self.bots[name]
        except KeyError:
            known = ", ".join(self.bots)
            raise KeyError(f"no bot {name!r} in the configuration (configured: {known})") from None

    def bot_for_feature(self, feature: str) -> tuple[str, Bot] | None:
        """``(name, bot)`` of the bot serving ``feature``, or None when no bot does."""
        for name, bot in self.bots.items():
            if feature in bot.features:
                return name, bot
        return None

    def role(self, name: str) -> Role:
        """The configured role, or an empty one (no users, no power level) if not configured."""
        return self.roles.get(name, _NO_ROLE)

    def department(self, department_id: str) -> Department | None:
        for department in self.departments:
            if department.id == department_id:
                return department
        return None

    def is_local_user(self, user_id: str) -> bool:
        return is_user_id(user_id) and server_of(user_id) == self.homeserver.server_name

    def language_for(self, user_id: str) -> str:
        prefs = self.users.get(user_id)
        return prefs.language if prefs and prefs.language else self.language

    def timezone_for(self, user_id: str) -> ZoneInfo:
        prefs = self.users.get(user_id)
        return ZoneInfo(prefs.timezone if prefs and prefs.timezone else self.timezone)


_NO_ROLE = Role()

# --------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key written twice in one mapping.

    Plain ``safe_load`` keeps the last one silently, which hides copy-paste mistakes.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *anchor" may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: construct_mapping reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"key {key!r} appears twice (first at line {seen[key].start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and resolve the YAML configuration at ``path``.

    ``env`` defaults to ``os.environ``.  Raises :class:`ConfigErrors` listing every problem.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigErrors(
            [ConfigError("", f"cannot read the file: {exc.strerror or exc}")], source
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigErrors(
            [ConfigError("", f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")],
            source,
        ) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise ConfigErrors([_yaml_error(exc)], source) from None
    except yaml.YAMLError as exc:
        raise ConfigErrors([ConfigError("", f"invalid YAML: {exc}")], source) from None
    return parse_config(
        data,
        base_dir=path.resolve().parent,
        env=os.environ if env is None else env,
        source=source,
    )


def _yaml_error(exc: yaml.MarkedYAMLError) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if mark is None:
        return ConfigError("", f"invalid YAML: {problem}")
    line, column = mark.line + 1, mark.column + 1
    return ConfigError("", f"invalid YAML at line {line}, column {column}: {problem}", line=line)


def parse_config(
    data: object, *, base_dir: Path, env: Mapping[str, str], source: str = ""
) -> Config:
    """Validate already-parsed YAML ``data``; relative paths are resolved against ``base_dir``.

    Raises :class:`ConfigErrors` (with ``source`` as the file name) listing every problem.
    """
    if data is None:
        raise ConfigErrors(
            [ConfigError("", "the file is empty; expected a mapping of keys")], source
        )
    if not isinstance(data, Mapping):
        raise ConfigErrors(
            [ConfigError("", f"expected a mapping of keys at the top level, got {describe(data)}")],
            source,
        )
    checks = Checks(base_dir=base_dir)
    # The cross-field checks (bots on our server, remote role holders trusted) need these
    # before the whole model is validated; if they are invalid, validation reports them.
    homeserver = data.get("homeserver")
    if isinstance(homeserver, Mapping):
        server_name = homeserver.get("server_name")
        if isinstance(server_name, str) and server_name_problem(server_name) is None:
            checks.server_name = server_name
    security = data.get("security")
    if isinstance(security, Mapping) and isinstance(security.get("trusted_users"), list):
        checks.trusted_users = frozenset(u for u in security["trusted_users"] if isinstance(u, str))
    systems = data.get("systems", [])
    if isinstance(systems, list):
        checks.system_ids = frozenset(
            str(s["id"]) for s in systems if isinstance(s, Mapping) and "id" in s
        )
    context = {SECRET_ENV: env, SECRET_BASE_DIR: base_dir, CHECKS: checks}
    try:
        return Config.model_validate(data, context=context)
    except ValidationError as exc:
        # ``from None``: the pydantic error repeats the input values, secrets included.
        raise ConfigErrors([translate(e, Config) for e in exc.errors()], source) from None
