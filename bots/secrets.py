"""Secrets in the configuration: passwords, pickle keys, tokens.

A secret is written in YAML in one of three forms::

    password: hunter2                        # plain (fine for tests, not for production)
    password: {env: YAKUBA_TASKS_PASSWORD}   # read from an environment variable
    password: {file: secrets/tasks.password} # read from a file (relative to the config file)

and validated into a :class:`Secret`, whose ``repr``/``str`` never show the value, so it
does not leak into logs, tracebacks or error messages.  The environment and the folder
that relative files are resolved against come from the pydantic validation context
(``model_validate(data, context={SECRET_ENV: ..., SECRET_BASE_DIR: ...})``); without a
context, ``os.environ`` and the current directory are used.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler, ValidationInfo
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["SECRET_BASE_DIR", "SECRET_ENV", "Secret", "resolve_secret"]

#: Validation-context key holding the ``Mapping[str, str]`` environment.
SECRET_ENV = "env"
#: Validation-context key holding the ``Path`` relative secret files are resolved against.
SECRET_BASE_DIR = "base_dir"

_FORMS = "a string, {env: NAME} or {file: PATH}"


class Secret:
    """A secret value that hides itself from ``repr`` and ``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """Return the secret value. Pass it on; never log it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling would write the value in clear; nothing in yakuba should need it.
        raise TypeError("Secret values cannot be pickled")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda _secret: "***", when_used="always"
            ),
        )


def resolve_secret(value: object, *, env: Mapping[str, str], base_dir: Path) -> Secret:
    """Resolve one YAML secret value into a :class:`Secret`.

    Raises ``ValueError`` with a message meant for operators (it never contains the value).
    """
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        if not value:
            raise ValueError("the secret is empty")
        return Secret(value)
    if isinstance(value, Mapping):
        keys = set(value)
        if keys == {"env"}:
            return _from_env(value["env"], env)
        if keys == {"file"}:
            return _from_file(value["file"], base_dir)
        shown = ", ".join(repr(str(k)) for k in sorted(keys, key=str)) or "none"
        raise ValueError(f"expected {_FORMS}, got a mapping with keys {shown}")
    raise ValueError(f"expected {_FORMS}, got {_kind(value)}")


def _from_env(name: object, env: Mapping[str, str]) -> Secret:
    if not isinstance(name, str) or not name:
        raise ValueError(f"expected an environment variable name after 'env:', got {name!r}")
    if name not in env:
        raise ValueError(f"environment variable {name} is not set")
    value = env[name]
    if not value:
        raise ValueError(f"environment variable {name} is empty")
    return Secret(value)


def _from_file(name: object, base_dir: Path) -> Secret:
    if not isinstance(name, str) or not name:
        raise ValueError(f"expected a file path after 'file:', got {name!r}")
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(f"cannot read secret file '{path}': {reason}") from None
    except UnicodeDecodeError:
        raise ValueError(f"secret file '{path}' is not UTF-8 text") from None
    value = text.rstrip("\r\n")
    if not value:
        raise ValueError(f"secret file '{path}' is empty")
    return Secret(value)


def _kind(value: object) -> str:
    # Describe the type only: the value might be the secret itself.
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _validate(value: object, info: ValidationInfo) -> Secret:
    context = info.context if isinstance(info.context, Mapping) else {}
    env = context.get(SECRET_ENV)
    if not isinstance(env, Mapping):
        env = os.environ
    base_dir = context.get(SECRET_BASE_DIR)
    if not isinstance(base_dir, Path):
        base_dir = Path.cwd()
    try:
        return resolve_secret(value, env=env, base_dir=base_dir)
    except ValueError as exc:
        raise PydanticCustomError("yakuba", "{message}", {"message": str(exc)}) from None
