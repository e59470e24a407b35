"""The yakuba configuration: one YAML file, validated with every error named by its path.

``load_config(path)`` reads the file, validates it against the models below, resolves
secrets and relative paths, and returns a frozen :class:`Config`.  Problems are raised
together as :class:`ConfigErrors`, each a :class:`ConfigError` whose path is written the way
an operator reads the YAML (``bots.tasks.rooms[2]``, ``roles.lead.users[0]``).

``config/yakuba.example.yaml`` documents every key.
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

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

# --------------------------------------------------------------------------- errors


class ConfigError(Exception):
    """One problem in the configuration, at ``path`` (``""`` for the file as a whole)."""

    def __init__(self, path: str, message: str, *, line: int | None = None) -> None:
        super().__init__(path, message)
        self.path = path
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigErrors(Exception):
    """All the problems found in one configuration file."""

    def __init__(self, errors: Iterable[ConfigError], source: str = "") -> None:
        self.errors = list(errors)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        head = (
            f"Error in configuration {self.source}:" if self.source else "Error in configuration:"
        )
        return "\n  ".join([head, *(str(e) for e in self.errors)])


def _fail(message: str) -> PydanticCustomError:
    # The message travels in the context: a template would treat "{env: NAME}" as a field.
    return PydanticCustomError("yakuba", "{message}", {"message": message})


# --------------------------------------------------------------------------- Matrix IDs

_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")
_PORT = r"(?::[0-9]{1,5})?"
_SERVER_NAME = re.compile(
    r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}"  # IPv4
    r"|\[[0-9A-Fa-f:.]{2,45}\]"  # [IPv6]
    r"|[0-9A-Za-z](?:[0-9A-Za-z-]{0,62})(?:\.[0-9A-Za-z](?:[0-9A-Za-z-]{0,62}))*\.?)" + _PORT  # DNS
)
_ALIAS_LOCALPART = re.compile(r"[^:\s\x00]+")
_ROOM_ID = re.compile(r"![^\s\x00]+")


def _check_server_name(server: str) -> str | None:
    """Return why ``server`` is not a Matrix server name, or None when it is one."""
    if not _SERVER_NAME.fullmatch(server):
        return "expected a host name, IPv4 address or [IPv6] address with an optional :port"
    _, sep, port = server.rpartition(":")
    if sep and not server.endswith("]") and port.isdigit() and not 0 < int(port) < 65536:
        return f"port {port} is out of range"
    return None


def parse_user_id(user_id: str) -> tuple[str, str]:
    """Split a full Matrix user ID into ``(localpart, server_name)``.

    Raises ``ValueError`` saying what is wrong when ``user_id`` is not ``@localpart:server``.
    """
    example = "a full user ID like @tanaka:city.example.jp"
    if not isinstance(user_id, str) or not user_id.startswith("@") or ":" not in user_id:
        raise ValueError(f"expected {example}, got {user_id!r}")
    if len(user_id) > 255:
        raise ValueError(f"a user ID is at most 255 characters, got {len(user_id)}")
    localpart, _, server = user_id[1:].partition(":")
    if not localpart:
        raise ValueError(f"expected {example}, got {user_id!r} (the part before ':' is empty)")
    if not _LOCALPART.fullmatch(localpart):
        if _LOCALPART.fullmatch(localpart.lower()):
            raise ValueError(
                f"user IDs are lowercase in Matrix: write {'@' + localpart.lower()}:{server}"
                f" instead of {user_id!r}"
            )
        raise ValueError(
            f"expected {example}, got {user_id!r} (the part before ':' may only contain"
            " a-z, 0-9 and . _ = - / +)"
        )
    problem = _check_server_name(server)
    if problem:
        raise ValueError(f"expected {example}, got {user_id!r} (server name: {problem})")
    return localpart, server


def server_of(user_id: str) -> str:
    """The server name of a full user ID (``@a:localhost:8448`` -> ``localhost:8448``)."""
    return parse_user_id(user_id)[1]


def is_user_id(value: object) -> bool:
    """True when ``value`` is a valid full Matrix user ID."""
    try:
        parse_user_id(value)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def is_room_ref(value: object) -> bool:
    """True for a room ID (``!opaque``, with or without ``:server``) or an alias (``#a:srv``)."""
    if not isinstance(value, str) or len(value) > 255:
        return False
    if value.startswith("!"):
        return bool(_ROOM_ID.fullmatch(value))
    if value.startswith("#"):
        localpart, sep, server = value[1:].partition(":")
        return bool(sep and _ALIAS_LOCALPART.fullmatch(localpart)) and (
            _check_server_name(server) is None
        )
    return False


# --------------------------------------------------------------------------- field types


def _user_id(value: str) -> str:
    try:
        parse_user_id(value)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return value


def _room_ref(value: str) -> str:
    if not is_room_ref(value):
        raise _fail(f"expected a room ID (!…) or alias (#…:server), got {value!r}")
    return value


def _server_name(value: str) -> str:
    problem = _check_server_name(value)
    if problem:
        raise _fail(f"{problem}, got {value!r}")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(
            f"unknown time zone {value!r}: expected an IANA name like 'Asia/Tokyo' or 'UTC'"
        ) from None
    return value


def _name_pattern(pattern: str, what: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise _fail(f"{what} must match {pattern}, got {value!r}")
        return value

    return AfterValidator(check)


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


UserId = Annotated[str, AfterValidator(_user_id)]
RoomRef = Annotated[str, AfterValidator(_room_ref)]
ServerName = Annotated[str, AfterValidator(_server_name)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
BotName = Annotated[str, _name_pattern(r"[a-z][a-z0-9_]*", "a bot name")]
DepartmentId = Annotated[str, _name_pattern(r"[a-z][a-z0-9_-]*", "a department id")]
Language = Literal["ja", "en"]
Feature = Literal["tasks", "announcements", "alerts"]
RoleName = Literal["lead", "announcer", "disaster_officer", "admin"]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)]

FEATURES: tuple[str, ...] = typing.get_args(Feature)
ROLE_NAMES: tuple[str, ...] = typing.get_args(RoleName)


def _role_name(value: str) -> str:
    if value not in ROLE_NAMES:
        raise _fail(f"unknown role {value!r} (known roles: {', '.join(ROLE_NAMES)})")
    return value


# A plain str key (checked against ROLE_NAMES) so that ``config.roles.get(name)`` type-checks.
RoleKey = Annotated[str, AfterValidator(_role_name)]

# --------------------------------------------------------------------------- validation context


@dataclass
class _Checks:
    """Facts known before validation that cross-field checks need (see ``parse_config``)."""

    base_dir: Path
    server_name: str | None = None
    trusted_users: frozenset[str] = frozenset()
    department_ids: set[str] = field(default_factory=set)


_CHECKS = "yakuba"


def _checks(info: ValidationInfo) -> _Checks:
    context = info.context if isinstance(info.context, Mapping) else {}
    found = context.get(_CHECKS)
    if isinstance(found, _Checks):
        return found
    base_dir = context.get(SECRET_BASE_DIR)
    return _Checks(base_dir=base_dir if isinstance(base_dir, Path) else Path.cwd())


def _check_rights_holder(user_id: str, info: ValidationInfo) -> str:
    """A remote user listed as a lead or role holder must also be in trusted_users."""
    checks = _checks(info)
    if checks.server_name is None:
        return user_id
    server = server_of(user_id)
    if server != checks.server_name and user_id not in checks.trusted_users:
        raise _fail(
            f"{user_id} is on another homeserver ({server}); users of other homeservers have"
            " no rights unless they are also listed in security.trusted_users"
        )
    return user_id


def _resolve_path(value: Path, base: Path) -> Path:
    value = value.expanduser()
    return (value if value.is_absolute() else base / value).resolve()


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
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


def _none_as_empty(value: object) -> object:
    return {} if value is None else value


class Homeserver(_Model):
    url: str
    server_name: ServerName

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _fail(f"expected an http:// or https:// URL, got {value!r}")
        if parts.query or parts.fragment:
            raise _fail(f"expected a URL without ?query or #fragment, got {value!r}")
        return value.rstrip("/")


class Store(_Model):
    type: Literal["sqlite"] = "sqlite"
    #: Relative paths are resolved against ``data_dir`` (see ``Config``).
    path: Path = Path("yakuba.db")


class Security(_Model):
    #: Server names whose users may invite the bots (the own server is always allowed).
    allowed_homeservers: tuple[ServerName, ...] = ()
    #: Users of other homeservers that get the rights of the roles they are listed in.
    trusted_users: tuple[UserId, ...] = ()


class Bot(_Model):
    user_id: UserId
    password: Secret
    pickle_key: Secret
    display_name: str | None = None
    rooms: tuple[RoomRef, ...] = ()
    features: tuple[Feature, ...] = ()

    @field_validator("user_id")
    @classmethod
    def _check_local(cls, value: str, info: ValidationInfo) -> str:
        server_name = _checks(info).server_name
        if server_name is not None and server_of(value) != server_name:
            raise _fail(
                f"a bot must be a user of this homeserver ({server_name}),"
                f" got {value!r} on {server_of(value)}"
            )
        return value

    @field_validator("pickle_key")
    @classmethod
    def _check_pickle_key(cls, value: Secret) -> Secret:
        if len(value.get()) < 16:
            raise _fail(
                f"the pickle key must be at least 16 characters long, got {len(value.get())}"
            )
        return value

    @field_validator("features")
    @classmethod
    def _check_features(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({f for f in value if value.count(f) > 1})
        if repeated:
            raise _fail(f"feature {repeated[0]!r} is listed more than once")
        return value


class DepartmentName(_Model):
    ja: str
    en: str | None = None

    def get(self, language: str) -> str:
        """The name in ``language``, falling back to Japanese."""
        return self.en if language == "en" and self.en else self.ja


class Department(_Model):
    id: DepartmentId
    name: DepartmentName
    rooms: tuple[RoomRef, ...] = ()
    leads: tuple[UserId, ...] = ()

    @field_validator("id")
    @classmethod
    def _check_unique(cls, value: str, info: ValidationInfo) -> str:
        seen = _checks(info).department_ids
        if value in seen:
            raise _fail(f"department id {value!r} is used more than once")
        seen.add(value)
        return value

    @field_validator("leads")
    @classmethod
    def _check_leads(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for user_id in value:
            _check_rights_holder(user_id, info)
        return value


class Role(_Model):
    #: Users holding the role in every room.
    users: tuple[UserId, ...] = ()
    #: Anyone with at least this power level in a room holds the role there; None: list only.
    power_level: int | None = None

    @field_validator("users")
    @classmethod
    def _check_users(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for user_id in value:
            _check_rights_holder(user_id, info)
        return value


class UserPrefs(_Model):
    language: Language | None = None
    timezone: TimeZoneName | None = None


class Logging(_Model):
    level: LogLevel = "INFO"


class Config(_Model):
    homeserver: Homeserver
    language: Language = "ja"
    timezone: TimeZoneName = "Asia/Tokyo"
    data_dir: Path = Field(default=Path("data"), validate_default=True)
    store: Store = Field(default=Store(), validate_default=True)
    security: Security = Security()
    bots: dict[BotName, Bot]
    departments: tuple[Department, ...] = ()
    roles: dict[RoleKey, Annotated[Role, BeforeValidator(_none_as_empty)]] = {}
    users: dict[UserId, Annotated[UserPrefs, BeforeValidator(_none_as_empty)]] = {}
    logging: Logging = Logging()

    @field_validator("data_dir")
    @classmethod
    def _resolve_data_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve_path(value, _checks(info).base_dir)

    @field_validator("store", mode="after")
    @classmethod
    def _resolve_store(cls, value: Store, info: ValidationInfo) -> Store:
        data_dir = info.data.get("data_dir")
        if not isinstance(data_dir, Path):  # data_dir itself is invalid, reported there
            return value
        return value.model_copy(update={"path": _resolve_path(value.path, data_dir)})

    @field_validator("bots")
    @classmethod
    def _check_bots(cls, value: dict[str, Bot]) -> dict[str, Bot]:
        if not value:
            raise _fail("at least one bot is required")
        owners: dict[str, str] = {}
        accounts: dict[str, str] = {}
        for name, bot in value.items():
            if bot.user_id in accounts:
                raise _fail(
                    f"bots {accounts[bot.user_id]!r} and {name!r} use the same account"
                    f" {bot.user_id}; each bot needs its own"
                )
            accounts[bot.user_id] = name
            for feature in bot.features:
                if feature in owners:
                    raise _fail(
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
            [
                ConfigError(
                    "", f"expected a mapping of keys at the top level, got {_describe(data)}"
                )
            ],
            source,
        )
    checks = _Checks(base_dir=base_dir)
    # The cross-field checks (bots on our server, remote role holders trusted) need these
    # before the whole model is validated; if they are invalid, validation reports them.
    homeserver = data.get("homeserver")
    if isinstance(homeserver, Mapping):
        server_name = homeserver.get("server_name")
        if isinstance(server_name, str) and _check_server_name(server_name) is None:
            checks.server_name = server_name
    security = data.get("security")
    if isinstance(security, Mapping) and isinstance(security.get("trusted_users"), list):
        checks.trusted_users = frozenset(u for u in security["trusted_users"] if isinstance(u, str))
    context = {SECRET_ENV: env, SECRET_BASE_DIR: base_dir, _CHECKS: checks}
    try:
        return Config.model_validate(data, context=context)
    except ValidationError as exc:
        # ``from None``: the pydantic error repeats the input values, secrets included.
        raise ConfigErrors([_translate(e) for e in exc.errors()], source) from None


# --------------------------------------------------------------------------- error messages


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return ()


def _walk(loc: tuple[int | str, ...]) -> tuple[list[int | str], type[BaseModel] | None, bool]:
    """Keep the entries of ``loc`` that are keys or indexes of the YAML.

    Returns those entries, the model holding the last entry (for unknown keys), and whether
    the error is about a mapping key rather than its value.  pydantic's own entries (union
    members, ``function-after[...]``, model class names) are dropped.
    """
    path: list[int | str] = []
    tp: Any = Config
    holder: type[BaseModel] | None = None
    is_key = False
    for item in loc:
        if item == "[key]":  # the error is about the mapping key just before
            is_key = True
            continue
        tp = _unwrap(tp)
        members = _members(tp)
        if members:
            named = [m for m in members if getattr(m, "__name__", str(m)) == item]
            if named:
                tp = named[0]
                continue
            tp = next((m for m in members if m is not type(None)), tp)
            tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if isinstance(item, str):
                holder = tp
                path.append(item)
                info = tp.model_fields.get(item)
                tp = info.annotation if info else None
        elif origin in (dict, Mapping):
            path.append(item)
            tp = typing.get_args(tp)[1]
        elif origin in (list, tuple) and isinstance(item, int):
            path.append(item)
            tp = typing.get_args(tp)[0]
        # anything else is an entry pydantic added inside a leaf type: drop it
    return path, holder, is_key


_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _format_path(path: Iterable[int | str]) -> str:
    out = ""
    for item in path:
        if isinstance(item, int):
            out += f"[{item}]"
        elif _SIMPLE_KEY.fullmatch(item):
            out += f".{item}" if out else item
        else:
            out += f'["{item}"]'
    return out


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "path_type": "a file path",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
}


def _translate(error: ErrorDetails) -> ConfigError:
    path, holder, is_key = _walk(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    secret = holder is not None and bool(path) and _field_is_secret(holder, path[-1])
    if kind == "yakuba":
        message = str(ctx.get("message", error["msg"]))
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "extra_forbidden":
        allowed = ", ".join(holder.model_fields) if holder else ""
        message = f"unknown key {path[-1]!r}" + (f" (allowed: {allowed})" if allowed else "")
    elif kind == "literal_error":
        message = f"expected one of {ctx.get('expected', '')}, got {_describe(value)}"
    elif kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
    elif kind in _EXPECTED:
        got = "a value of another type" if secret else _describe(value)
        message = f"expected {_EXPECTED[kind]}, got {got}"
    else:
        message = error["msg"]
        if not secret:
            message += f", got {_describe(value)}"
    if is_key and kind not in ("literal_error", "yakuba"):
        message = f"invalid key: {message}"
    return ConfigError(_format_path(path), message)


def _field_is_secret(model: type[BaseModel], name: int | str) -> bool:
    info = model.model_fields.get(name) if isinstance(name, str) else None
    return info is not None and _unwrap(info.annotation) is Secret
