"""Who may do what: by full user ID, room power levels and config roles.

Users of other homeservers have no rights at all unless `security.trusted_users` lists
them. Power levels come from the room (v12 creators count as unlimited, see
`bots.matrix.powerlevels`); display names are never consulted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bots.commands.router import Role
from bots.config import Config
from bots.ids import server_of

#: (user_id, room_id) -> the user's power level in that room
PowerLookup = Callable[[str, str], Awaitable[float]]
#: room_id -> the room IDs and aliases by which config may name it
RoomNames = Callable[[str], Awaitable[frozenset[str]]]


class Permissions:
    def __init__(self, config: Config, power: PowerLookup, room_names: RoomNames) -> None:
        self._config = config
        self._power = power
        self._room_names = room_names

    def has_rights(self, user_id: str) -> bool:
        """Local users, and remote users whom config trusts by full ID."""
        try:
            server = server_of(user_id)
        except ValueError:
            return False
        return (
            server == self._config.homeserver.server_name
            or user_id in self._config.security.trusted_users
        )

    def may_invite(self, inviter: str) -> bool:
        """Bots join a room only when invited by a user of an allowed homeserver (judged by
        the inviter's user ID: room IDs of room version 12 carry no server name)."""
        try:
            return server_of(inviter) in self._config.inviter_servers
        except ValueError:
            return False

    async def has_role(self, user_id: str, room_id: str, role: Role) -> bool:
        if not self.has_rights(user_id):
            return False
        roles = self._config.roles
        admin = roles.get(Role.ADMIN.value)
        if admin is not None and user_id in admin.users:
            return True
        granted = roles.get(role.value)
        if granted is not None and user_id in granted.users:
            return True
        if role is Role.LEAD and await self._leads_department_of(user_id, room_id):
            return True
        if granted is not None and granted.power_level is not None:
            return await self._power(user_id, room_id) >= granted.power_level
        return False

    async def _leads_department_of(self, user_id: str, room_id: str) -> bool:
        departments = [d for d in self._config.departments if user_id in d.leads]
        if not departments:
            return False
        names = await self._room_names(room_id)
        return any(ref in names for d in departments for ref in d.rooms)
