"""Provisioning the demo city on the local Synapse: accounts, a space, department rooms.

Idempotent: what exists is reused (accounts by name, rooms by alias), so `make up` can
run any number of times.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml

from bots.config import Config
from bots.demo.synapse import SynapseProcess
from bots.matrix.http import MatrixHttp, MatrixHttpError

log = logging.getLogger(__name__)

ENCRYPTION = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}


@dataclass(frozen=True)
class StaffAccount:
    user_id: str
    name: str
    department: str
    password: str


def secret_file(path: Path) -> str:
    """A generated secret kept in a file (0600), made on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def ensure_secret_files(config_path: Path) -> None:
    """Create every `{file: …}` secret the config names but that does not exist yet."""

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if set(node) == {"file"} and isinstance(node["file"], str):
                secret_file((config_path.parent / node["file"]).resolve())
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(config_path.read_text()) or {})


class DemoCity:
    def __init__(self, synapse: SynapseProcess, config: Config, secrets_dir: Path) -> None:
        self.synapse = synapse
        self.config = config
        self.secrets_dir = secrets_dir
        self.server = config.homeserver.server_name

    async def provision(self, city: dict[str, Any]) -> list[StaffAccount]:
        """`city` is the parsed demo-staff.yaml (space and staff)."""
        admin_login = await self.synapse.register(
            "yakuba-admin", secret_file(self.secrets_dir / "admin.password"), admin=True
        )
        async with aiohttp.ClientSession() as session:
            admin = MatrixHttp(self.synapse.url, admin_login["access_token"], session)
            admin_id = admin_login["user_id"]
            bot_ids = []
            for bot in self.config.bots.values():
                localpart = bot.user_id[1:].split(":", 1)[0]
                await self.synapse.register(
                    localpart, bot.password.get(), displayname=bot.display_name
                )
                await self.synapse.exempt_from_ratelimit(admin_login["access_token"], bot.user_id)
                bot_ids.append(bot.user_id)
            staff = []
            for person in city["staff"]:
                password = secret_file(self.secrets_dir / f"staff-{person['localpart']}.password")
                login = await self.synapse.register(
                    person["localpart"], password, displayname=person["name"]
                )
                staff.append(
                    StaffAccount(login["user_id"], person["name"], person["department"], password)
                )
            space_id = await self._ensure_room(
                admin,
                city["space"]["alias"],
                city["space"]["name"],
                [],
                {"creation_content": {"type": "m.space"}, "preset": "private_chat"},
                power={},
            )
            for department in self.config.departments:
                members = [s.user_id for s in staff if s.department == department.id]
                leads = {lead: 50 for lead in department.leads}
                for ref in department.rooms:
                    if not ref.startswith("#"):
                        continue
                    localpart = ref[1:].split(":", 1)[0]
                    bots_here = [b.user_id for b in self.config.bots.values() if ref in b.rooms]
                    room_id = await self._ensure_room(
                        admin,
                        localpart,
                        department.name.ja,
                        [ENCRYPTION],
                        {"preset": "private_chat"},
                        power={**leads, **{b: 50 for b in bots_here}},
                    )
                    await self._link(admin, space_id, room_id)
                    await self._invite_all(admin, room_id, [*members, *bots_here])
                    for person in staff:
                        if person.user_id in members:
                            await self._join_as(person, room_id)
            for person in staff:
                await self._invite_all(admin, space_id, [person.user_id])
                await self._join_as(person, space_id)
            log.info("Demo city ready (admin %s)", admin_id)
        return staff

    async def _ensure_room(
        self,
        admin: MatrixHttp,
        alias_localpart: str,
        name: str,
        initial_state: list[dict[str, Any]],
        extra: dict[str, Any],
        power: dict[str, int],
    ) -> str:
        alias = f"#{alias_localpart}:{self.server}"
        try:
            found = await admin.request("GET", f"/_matrix/client/v3/directory/room/{quote(alias)}")
            return str(found["room_id"])
        except MatrixHttpError as exc:
            if exc.status != 404:
                raise
        body: dict[str, Any] = {
            "name": name,
            "room_alias_name": alias_localpart,
            "initial_state": initial_state,
            **extra,
        }
        if power:
            body["power_level_content_override"] = {"users": power}
        created = await admin.request("POST", "/_matrix/client/v3/createRoom", body)
        log.info("Created %s (%s)", alias, name)
        return str(created["room_id"])

    async def _link(self, admin: MatrixHttp, space_id: str, room_id: str) -> None:
        child = f"/_matrix/client/v3/rooms/{quote(space_id)}/state/m.space.child/{quote(room_id)}"
        await admin.request("PUT", child, {"via": [self.server]})

    async def _invite_all(self, admin: MatrixHttp, room_id: str, users: list[str]) -> None:
        members = await admin.request("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/members")
        present = {
            e["state_key"]
            for e in members.get("chunk", [])
            if e.get("content", {}).get("membership") in ("join", "invite")
        }
        for user in users:
            if user not in present:
                await admin.request(
                    "POST", f"/_matrix/client/v3/rooms/{quote(room_id)}/invite", {"user_id": user}
                )

    async def _join_as(self, person: StaffAccount, room_id: str) -> None:
        """Accept the invitation for a demo staff member, so the rooms are ready to use."""
        localpart = person.user_id[1:].split(":", 1)[0]
        login = await self.synapse.login(localpart, person.password)
        async with aiohttp.ClientSession() as session:
            http = MatrixHttp(self.synapse.url, login["access_token"], session)
            await http.request("POST", f"/_matrix/client/v3/join/{quote(room_id)}", {})
            await http.request("POST", "/_matrix/client/v3/logout", {})
