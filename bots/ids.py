"""Matrix identifiers: user IDs, server names, room IDs and aliases (spec grammar)."""

from __future__ import annotations

import re

_LOCALPART = re.compile(r"[a-z0-9._=\-/+]+")
_PORT = r"(?::[0-9]{1,5})?"
_SERVER_NAME = re.compile(
    r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}"  # IPv4
    r"|\[[0-9A-Fa-f:.]{2,45}\]"  # [IPv6]
    r"|[0-9A-Za-z](?:[0-9A-Za-z-]{0,62})(?:\.[0-9A-Za-z](?:[0-9A-Za-z-]{0,62}))*\.?)" + _PORT  # DNS
)
_ALIAS_LOCALPART = re.compile(r"[^:\s\x00]+")
_ROOM_ID = re.compile(r"![^\s\x00]+")


def server_name_problem(server: str) -> str | None:
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
    problem = server_name_problem(server)
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
            server_name_problem(server) is None
        )
    return False
