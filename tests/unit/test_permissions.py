"""Who may do what: full user IDs, config roles, power levels and department leads."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bots.commands.router import Role
from bots.config import Config, parse_config
from bots.permissions import Permissions

SERVER = "city.example.jp"
SOUMU_ROOM = "!soumuroom:city.example.jp"
BOUSAI_ROOM = "!bousairoom:city.example.jp"
OTHER_ROOM = "!other:city.example.jp"

TANAKA = "@tanaka:city.example.jp"  # lead of soumu (by alias), announcer
SATO = "@sato:city.example.jp"  # lead of bousai (by room ID)
BOSS = "@boss:city.example.jp"  # admin
GUEST = "@guest:partner.example.org"  # trusted remote announcer
STRANGER = "@stranger:evil.example.net"  # untrusted remote user
CLERK = "@clerk:city.example.jp"  # local user with no role


def config(tmp_path: Path, **overrides: Any) -> Config:
    data: dict[str, Any] = {
        "homeserver": {"url": "https://matrix.city.example.jp", "server_name": SERVER},
        "security": {"trusted_users": [GUEST]},
        "bots": {
            "tasks": {
                "user_id": "@tasks:city.example.jp",
                "password": "a-plain-password",
                "pickle_key": "0123456789abcdef",
                "features": ["tasks"],
            }
        },
        "departments": [
            {
                "id": "soumu",
                "name": {"ja": "総務課"},
                "rooms": ["#soumu:city.example.jp"],
                "leads": [TANAKA],
            },
            {
                "id": "bousai",
                "name": {"ja": "防災危機管理課"},
                "rooms": [BOUSAI_ROOM],
                "leads": [SATO],
            },
        ],
        "roles": {
            "lead": {"power_level": 50},
            "announcer": {"users": [TANAKA, GUEST]},
            "admin": {"users": [BOSS]},
        },
    }
    data.update(overrides)
    return parse_config(data, base_dir=tmp_path, env={})


class Power:
    """An injected power lookup: levels per (user, room), 0 by default."""

    def __init__(self, levels: dict[tuple[str, str], float] | None = None) -> None:
        self.levels = levels or {}
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, user_id: str, room_id: str) -> float:
        self.asked.append((user_id, room_id))
        return self.levels.get((user_id, room_id), 0)


async def room_names(room_id: str) -> frozenset[str]:
    aliases = {SOUMU_ROOM: "#soumu:city.example.jp", BOUSAI_ROOM: "#bousai:city.example.jp"}
    return frozenset({room_id, *([aliases[room_id]] if room_id in aliases else [])})


@pytest.fixture
def power() -> Power:
    return Power()


@pytest.fixture
def perms(tmp_path: Path, power: Power) -> Permissions:
    return Permissions(config(tmp_path), power, room_names)


def test_local_and_trusted_users_have_rights(perms: Permissions) -> None:
    assert perms.has_rights(CLERK)
    assert perms.has_rights(GUEST)


@pytest.mark.parametrize(
    "user_id",
    [STRANGER, "@clerk:city.example.jp.evil.net", "not-a-user", "@:city.example.jp", ""],
)
def test_other_users_have_no_rights(perms: Permissions, user_id: str) -> None:
    assert not perms.has_rights(user_id)


@pytest.mark.parametrize("role", list(Role))
async def test_untrusted_remote_user_has_no_role_even_with_power(
    tmp_path: Path, role: Role
) -> None:
    power = Power({(STRANGER, SOUMU_ROOM): 100})
    perms = Permissions(config(tmp_path), power, room_names)
    assert await perms.has_role(STRANGER, SOUMU_ROOM, role) is False


async def test_trusted_remote_user_holds_their_config_role(perms: Permissions) -> None:
    assert await perms.has_role(GUEST, OTHER_ROOM, Role.ANNOUNCER) is True
    assert await perms.has_role(GUEST, OTHER_ROOM, Role.ADMIN) is False


async def test_config_role_users_hold_it_in_every_room(perms: Permissions) -> None:
    for room in (SOUMU_ROOM, BOUSAI_ROOM, OTHER_ROOM):
        assert await perms.has_role(TANAKA, room, Role.ANNOUNCER) is True
    assert await perms.has_role(CLERK, OTHER_ROOM, Role.ANNOUNCER) is False
    assert await perms.has_role(TANAKA, OTHER_ROOM, Role.DISASTER_OFFICER) is False


@pytest.mark.parametrize("role", list(Role))
async def test_admin_holds_every_role(perms: Permissions, role: Role) -> None:
    assert await perms.has_role(BOSS, OTHER_ROOM, role) is True


async def test_power_level_threshold(tmp_path: Path) -> None:
    power = Power(
        {
            (CLERK, OTHER_ROOM): 50,
            (CLERK, SOUMU_ROOM): 49,
            ("@creator:city.example.jp", OTHER_ROOM): math.inf,
        }
    )
    perms = Permissions(config(tmp_path), power, room_names)
    assert await perms.has_role(CLERK, OTHER_ROOM, Role.LEAD) is True
    assert await perms.has_role(CLERK, SOUMU_ROOM, Role.LEAD) is False
    assert await perms.has_role("@creator:city.example.jp", OTHER_ROOM, Role.LEAD) is True
    assert (CLERK, OTHER_ROOM) in power.asked


async def test_power_does_not_grant_a_role_without_a_power_level(tmp_path: Path) -> None:
    # announcer lists users only; disaster_officer is not configured at all
    power = Power({(CLERK, OTHER_ROOM): 100})
    perms = Permissions(config(tmp_path), power, room_names)
    assert await perms.has_role(CLERK, OTHER_ROOM, Role.ANNOUNCER) is False
    assert await perms.has_role(CLERK, OTHER_ROOM, Role.DISASTER_OFFICER) is False
    assert await perms.has_role(CLERK, OTHER_ROOM, Role.ADMIN) is False


async def test_department_lead_holds_lead_in_their_rooms_only(perms: Permissions) -> None:
    # soumu's room is named by alias in the config, bousai's by room ID
    assert await perms.has_role(TANAKA, SOUMU_ROOM, Role.LEAD) is True
    assert await perms.has_role(SATO, BOUSAI_ROOM, Role.LEAD) is True
    assert await perms.has_role(TANAKA, BOUSAI_ROOM, Role.LEAD) is False
    assert await perms.has_role(SATO, SOUMU_ROOM, Role.LEAD) is False
    assert await perms.has_role(TANAKA, OTHER_ROOM, Role.LEAD) is False


async def test_department_lead_gets_no_other_role_from_it(perms: Permissions) -> None:
    assert await perms.has_role(SATO, BOUSAI_ROOM, Role.ANNOUNCER) is False
    assert await perms.has_role(SATO, BOUSAI_ROOM, Role.ADMIN) is False


async def test_display_names_are_never_enough(perms: Permissions) -> None:
    # a remote user whose localpart copies a local lead's gets nothing
    assert await perms.has_role("@tanaka:evil.example.net", SOUMU_ROOM, Role.LEAD) is False
    assert await perms.has_role("@tanaka:evil.example.net", SOUMU_ROOM, Role.ANNOUNCER) is False


def test_invitations_are_judged_by_the_inviters_server(tmp_path: Path) -> None:
    perms = Permissions(
        config(
            tmp_path,
            security={"allowed_homeservers": ["pref.example.jp"], "trusted_users": [GUEST]},
        ),
        Power(),
        room_names,
    )
    assert perms.may_invite(CLERK)  # our own homeserver is always allowed
    assert perms.may_invite("@kikikanri:pref.example.jp")
    assert not perms.may_invite(STRANGER)
    assert not perms.may_invite("@pref.example.jp")  # not a user ID at all
    # a look-alike server name is another server
    assert not perms.may_invite("@x:pref.example.jp.evil.example.net")
