"""Configuration errors, and pydantic's errors turned into them (path + what was expected)."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails, PydanticCustomError

from bots.secrets import Secret


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


def fail(message: str) -> PydanticCustomError:
    # The message travels in the context: a template would treat "{env: NAME}" as a field.
    return PydanticCustomError("yakuba", "{message}", {"message": message})


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return ()


def _walk(
    loc: tuple[int | str, ...], root: type[BaseModel]
) -> tuple[list[int | str], type[BaseModel] | None, bool]:
    """Keep the entries of ``loc`` that are keys or indexes of the YAML.

    Returns those entries, the model holding the last entry (for unknown keys), and whether
    the error is about a mapping key rather than its value.  pydantic's own entries (union
    members, ``function-after[...]``, model class names) are dropped.
    """
    path: list[int | str] = []
    tp: Any = root
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


def describe(value: object) -> str:
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


def translate(error: ErrorDetails, root: type[BaseModel]) -> ConfigError:
    """One pydantic error as an operator reads it: the YAML path and what was expected."""
    path, holder, is_key = _walk(error["loc"], root)
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
        message = f"expected one of {ctx.get('expected', '')}, got {describe(value)}"
    elif kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
    elif kind in _EXPECTED:
        got = "a value of another type" if secret else describe(value)
        message = f"expected {_EXPECTED[kind]}, got {got}"
    else:
        message = error["msg"]
        if not secret:
            message += f", got {describe(value)}"
    if is_key and kind not in ("literal_error", "yakuba"):
        message = f"invalid key: {message}"
    return ConfigError(_format_path(path), message)


def _field_is_secret(model: type[BaseModel], name: int | str) -> bool:
    info = model.model_fields.get(name) if isinstance(name, str) else None
    return info is not None and _unwrap(info.annotation) is Secret
