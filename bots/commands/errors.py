"""Errors whose text goes to the user, in their language, from the catalog."""

from __future__ import annotations

from typing import Any


class CommandError(Exception):
    """A problem the user can fix; `key` names the catalog message sent to them."""

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class UsageError(CommandError):
    """Bad or missing arguments: the reply adds the command's usage."""


class PermissionDenied(CommandError):
    pass
