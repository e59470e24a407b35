"""`yakuba provision` on the real Synapse: a city provisioned from a staff list of 33
people (Shift_JIS, Japanese headers), run again with no change, then a second list (UTF-8
with BOM) with a move, a new hire and a leaver; the dry run printed before each run is
what that run then does."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import yaml

from appservice import provision_cli
from bots.audit import AuditLog
from bots.config import Config
from bots.demo.synapse import SynapseProcess
from bots.matrix.http import MatrixHttp, MatrixHttpError
from bots.provision import runner
from bots.provision.model import (
    Deactivate,
    Invite,
    Kick,
    Notify,
    RosterAdd,
    RosterRemove,
    RosterUpdate,
    SetPower,
)
from bots.provision.org import list_format
from bots.provision.roster import StaffStore
from bots.provision.staffcsv import read_staff_list
from bots.provision.synapse_admin import SynapseAdmin
from bots.secrets import Secret
from bots.store import open_database
from tests.integration.harness import register_bots, unique, write_config

HEADER_JA = "職員番号,氏名,カナ,所属,役割,MatrixID"
HEADER_EN = "employee_number,name,kana,department,role,matrix_id"
DEPARTMENTS = (("soumu", "総務課"), ("kensetsu", "建設課"), ("bousai", "防災危機管理課"))


@dataclass
class City:
    config: Config
    prefix: str
    server: str
    http: MatrixHttp
    staff: dict[int, tuple[str, str, str, str]]  # n -> (user, name, department, role)

    def user(self, n: int) -> str:
        return f"@{self.prefix}s{n:02d}:{self.server}"

    def alias(self, name: str) -> str:
        return f"#{self.prefix}{name}:{self.server}"

    @property
    def rooms(self) -> list[str]:
        return [self.alias(n) for n in ("soumu", "kensetsu", "doboku", "bousai", "saigai")]

    async def room_id(self, alias: str) -> str:
        found = await self.http.request("GET", f"/_matrix/client/v3/directory/room/{quote(alias)}")
        return str(found["room_id"])

    async def state(self, alias: str) -> dict[tuple[str, str], dict[str, Any]]:
        room_id = await self.room_id(alias)
        found = await self.http.request("GET", f"/_synapse/admin/v1/rooms/{quote(room_id)}/state")
        return {(e["type"], e["state_key"]): e["content"] for e in found["state"]}

    async def snapshot(self) -> dict[str, Any]:
        """Everything provisioning may change: the rooms' state and the accounts."""
        rooms = {alias: await self.state(alias) for alias in [*self.rooms, self.alias("city")]}
        users = {}
        for n in self.staff:
            found = await self.http.request(
                "GET", f"/_synapse/admin/v2/users/{quote(self.user(n))}"
            )
            users[n] = found["deactivated"]
        return {"rooms": rooms, "users": users}

    def csv(self, rows: dict[int, tuple[str, str, str, str]], header: str = HEADER_JA) -> str:
        lines = [header]
        for n, (user, name, department, role) in sorted(rows.items()):
            kana = f"ショクイン {n}"
            lines.append(f"{n:05d},{name},{kana},{department},{role},{user}")
        return "\r\n".join(lines) + "\r\n"


def args(staff: Path, dry_run: bool) -> argparse.Namespace:
    return argparse.Namespace(staff=staff, dry_run=dry_run, lang="ja", allow_many_leavers=False)


async def provision(
    city: City, staff: Path, dry_run: bool
) -> tuple[int, list[str], list[str], str]:
    """The exit code, the plan's lines, the result's lines (without their marks), and
    all that was printed."""
    out, err = io.StringIO(), io.StringIO()
    code = await provision_cli.run(args(staff, dry_run), city.config, out, err)
    lines = out.getvalue().splitlines()
    planned = [line[4:] for line in lines if line.startswith("  - ")]
    done = [line for line in lines if line.startswith(("  ✓ ", "  = ", "  ✗ ", "  · "))]
    return code, planned, done, out.getvalue() + err.getvalue()


async def prepared(city: City, staff: Path) -> runner.Prepared:
    """The plan as the next run would make it (a dry run's objects)."""
    people = read_staff_list(staff, list_format(city.config))
    admin = SynapseAdmin(city.http)
    await admin.check_admin()
    db = await open_database(city.config.store)
    try:
        return await runner.prepare(city.config, people, db, admin)
    finally:
        await db.close()


async def create_accounts(
    session: aiohttp.ClientSession, url: str, token: str, users: dict[str, str]
) -> None:
    """Accounts through the admin API, at once (no password: nothing to hash)."""
    gate = asyncio.Semaphore(8)
    headers = {"Authorization": f"Bearer {token}"}

    async def one(user: str, name: str) -> None:
        api = f"{url}/_synapse/admin/v2/users/{quote(user)}"
        async with gate, session.put(api, json={"displayname": name}, headers=headers) as resp:
            assert resp.status in (200, 201), await resp.text()

    await asyncio.gather(*(one(u, n) for u, n in users.items()))


@pytest.fixture
async def city(synapse: SynapseProcess, admin_token: str, tmp_path: Path) -> AsyncIterator[City]:
    prefix = unique("pv") + "-"
    server = synapse.cfg.server_name

    def alias(name: str) -> str:
        return f"#{prefix}{name}:{server}"

    path = write_config(
        tmp_path, synapse, {"tasks": {"localpart": unique("tasks"), "features": ["tasks"]}}
    )
    data = yaml.safe_load(path.read_text())
    data["bots"]["tasks"]["rooms"] = [alias("soumu"), alias("kensetsu"), alias("bousai")]
    data["departments"] = [
        {
            "id": "soumu",
            "name": {"ja": "総務課", "en": "General Affairs"},
            "rooms": [alias("soumu")],
        },
        {
            "id": "kensetsu",
            "name": {"ja": "建設課"},
            "rooms": [alias("kensetsu"), alias("doboku")],
        },
        {"id": "bousai", "name": {"ja": "防災危機管理課"}, "rooms": [alias("bousai")]},
    ]
    data["roles"] = {"lead": {"power_level": 50}, "disaster_officer": {"power_level": 50}}
    (tmp_path / "secrets" / "admin.token").write_text(admin_token)
    data["provisioning"] = {
        "admin_token": {"file": "secrets/admin.token"},
        "space": {"alias": alias("city"), "name": "みどり市役所"},
        "role_rooms": {"disaster_officer": [alias("saigai")]},
        "room_names": {alias("saigai"): "災害対策本部"},
        "deactivate_leavers": True,
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    config = await register_bots(synapse, path, admin_token)
    async with aiohttp.ClientSession() as session:
        http = MatrixHttp(synapse.url, admin_token, session)
        staff = {}
        for n in range(34):  # 0-32 on the first list, 33 hired later
            department = "総務課" if n <= 10 else "建設課" if n <= 20 else "防災危機管理課"
            role = {0: "課長", 1: "広報担当", 11: "課長", 21: "防災担当", 22: "係長"}.get(n, "主事")
            staff[n] = (f"@{prefix}s{n:02d}:{server}", f"職員 {n:02d}", department, role)
        names = {user: name for user, name, _, _ in staff.values()}
        await create_accounts(session, synapse.url, admin_token, names)
        yield City(config, prefix, server, http, staff)


async def test_provision_a_city_again_and_after_personnel_moves(city: City, tmp_path: Path) -> None:
    first = tmp_path / "staff-2026-04.csv"
    first_list = {n: row for n, row in city.staff.items() if n <= 32}
    first.write_bytes(city.csv(first_list).encode("cp932"))

    # the dry run changes nothing, and says what the run then does
    code, planned, done, output = await provision(city, first, dry_run=True)
    assert code == 0 and done == [], output
    assert "ドライランのため、何も変更していません。" in output
    assert len(planned) > 33 * 2
    with pytest.raises(MatrixHttpError):
        await city.room_id(city.alias("city"))
    code, planned_again, done, output = await provision(city, first, dry_run=False)
    assert code == 0, output
    assert planned_again == planned
    assert [line[4:] for line in done] == planned
    assert all(line.startswith("  ✓ ") for line in done), output

    # the space and the rooms: names, encryption, in the space
    space = await city.state(city.alias("city"))
    assert space[("m.room.create", "")]["type"] == "m.space"
    assert space[("m.room.name", "")]["name"] == "みどり市役所"
    names = {"soumu": "総務課", "kensetsu": "建設課", "doboku": "建設課 " + city.prefix + "doboku"}
    names |= {"bousai": "防災危機管理課", "saigai": "災害対策本部"}
    for short, name in names.items():
        alias = city.alias(short)
        state = await city.state(alias)
        assert state[("m.room.name", "")]["name"] == name
        assert state[("m.room.encryption", "")]["algorithm"] == "m.megolm.v1.aes-sha2"
        assert space[("m.space.child", await city.room_id(alias))]["via"] == [city.server]

    # memberships and levels
    def members(state: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
        return {k: c["membership"] for (t, k), c in state.items() if t == "m.room.member"}

    soumu = await city.state(city.alias("soumu"))
    bot = city.config.bots["tasks"].user_id
    assert {city.user(n) for n in range(11)} | {bot} <= set(members(soumu))
    assert all(members(soumu)[city.user(n)] == "invite" for n in range(11))
    assert city.user(11) not in members(soumu)
    assert soumu[("m.room.power_levels", "")]["users"] == {
        city.user(0): 50,  # 課長
        city.user(1): 50,  # 広報担当
        bot: 50,
    }
    doboku = await city.state(city.alias("doboku"))
    assert doboku[("m.room.power_levels", "")]["users"] == {city.user(11): 50}
    assert bot not in members(doboku)  # the bot is only where config puts it
    saigai = await city.state(city.alias("saigai"))
    assert {m for m, how in members(saigai).items() if how == "invite"} == {city.user(21)}
    assert members(await city.state(city.alias("city"))).keys() >= {city.user(n) for n in range(33)}

    # the roster the roll call follows, and the audit log
    db = await open_database(city.config.store)
    try:
        roster = await StaffStore(db).active()
        assert len(roster) == 33
        assert {p.user_id: p.department for p in roster}[city.user(11)] == "kensetsu"
        assert {p.user_id: p.roles for p in roster}[city.user(22)] == ("lead",)
        entries = await AuditLog(db, lambda: 0.0).entries(actor="cli:provision")
        assert len(entries) == len(done)
        assert sorted(e.detail for e in entries) == sorted(planned)  # each change, once
        assert {e.result for e in entries} == {"ok"}
        soumu_id = await city.room_id(city.alias("soumu"))
        invites = [e for e in entries if e.action == "provision invite"]
        assert sum(e.room_id == soumu_id for e in invites) == 11 + 1  # 総務課, the bot
        assert {e.action for e in entries} >= {
            "provision room",
            "provision invite",
            "provision power",
            "provision roster",
        }
        assert await AuditLog(db, lambda: 0.0).verify() is None
    finally:
        await db.close()

    # again: nothing to do, nothing changed
    before = await city.snapshot()
    assert (await prepared(city, first)).plan.actions == ()
    code, planned, done, output = await provision(city, first, dry_run=False)
    assert (code, planned, done) == (0, [], []), output
    assert "変更はありません" in output
    assert await city.snapshot() == before

    # people accept their invitations (a removal must work on members who joined)
    for n in (0, 5):
        await city.http.request(
            "POST",
            f"/_synapse/admin/v1/join/{quote(city.alias('soumu'))}",
            {"user_id": city.user(n)},
        )

    # the second list: 00 (総務課長) moves to 建設課 as staff, 05 left, 33 is new (防災)
    second = tmp_path / "staff-2026-07.csv"
    rows = {n: row for n, row in city.staff.items() if n != 5}
    user0, name0, _, _ = rows[0]
    rows[0] = (user0, name0, "建設課", "主事")
    second.write_bytes(b"\xef\xbb\xbf" + city.csv(rows, HEADER_EN).encode())
    plan = (await prepared(city, second)).plan.actions
    mover, leaver, hire = city.user(0), city.user(5), city.user(33)
    soumu_room, space_alias = city.alias("soumu"), city.alias("city")
    for expected in (
        Invite(city.alias("kensetsu"), mover, "moved"),
        Invite(city.alias("doboku"), mover, "moved"),
        SetPower(soumu_room, mover, None, 50),
        Kick(soumu_room, mover, "moved"),
        Kick(soumu_room, leaver, "left"),
        Kick(space_alias, leaver, "left"),
        Deactivate(leaver),
        Invite(city.alias("bousai"), hire, "hired"),
        Invite(space_alias, hire, "hired"),
    ):
        assert expected in plan, expected
    kinds = [type(a) for a in plan]
    assert kinds.count(RosterAdd) == kinds.count(RosterUpdate) == kinds.count(RosterRemove) == 1
    assert [(a.person.user_id, a.to_department) for a in plan if isinstance(a, Notify)] == [
        (mover, "kensetsu"),
        (leaver, None),
    ]
    assert not [
        a for a in plan if isinstance(a, Kick) and a.user == mover and a.room == space_alias
    ]

    code, planned, _, output = await provision(city, second, dry_run=True)
    assert code == 0 and len(planned) == len(plan), output
    code, planned_again, done, output = await provision(city, second, dry_run=False)
    assert code == 0 and planned_again == planned, output
    assert [line[4:] for line in done] == planned
    assert all(line.startswith("  ✓ ") for line in done), output

    soumu = await city.state(soumu_room)
    assert members(soumu)[mover] == "leave" and members(soumu)[leaver] == "leave"
    assert mover not in soumu[("m.room.power_levels", "")]["users"]
    assert members(soumu)[city.user(1)] == "invite"  # the others stay
    for short in ("kensetsu", "doboku"):
        assert members(await city.state(city.alias(short)))[mover] == "invite"
    assert members(await city.state(city.alias("bousai")))[hire] == "invite"
    space_members = members(await city.state(space_alias))
    assert space_members[mover] == "invite" and space_members[hire] == "invite"
    assert space_members[leaver] == "leave"
    account = await city.http.request("GET", f"/_synapse/admin/v2/users/{quote(leaver)}")
    assert account["deactivated"] is True
    account = await city.http.request("GET", f"/_synapse/admin/v2/users/{quote(mover)}")
    assert account["deactivated"] is False

    db = await open_database(city.config.store)
    try:
        staff = StaffStore(db)
        active = {p.user_id: p for p in await staff.active()}
        assert len(active) == 33 and leaver not in active
        assert active[mover].department == "kensetsu" and active[mover].roles == ()
        assert active[hire].department == "bousai"
        notices = await staff.pending_notices()
        assert [(n.user_id, n.from_department, n.to_department) for n in notices] == [
            (mover, "soumu", "kensetsu"),
            (leaver, "soumu", None),
        ]
        log = AuditLog(db, lambda: 0.0)
        entries = await log.entries(action="provision deactivate")
        assert [e.result for e in entries] == ["ok"] and leaver in entries[0].detail
        kicks = await log.entries(action="provision kick")
        assert len(kicks) == kinds.count(Kick) and {e.result for e in kicks} == {"ok"}
        rooms = {await city.room_id(soumu_room), await city.room_id(space_alias)}
        assert {e.room_id for e in kicks} == rooms
        assert await log.verify() is None
    finally:
        await db.close()

    # a token that is not a server admin's is refused before anything is read
    login = await city.http.request(
        "POST", f"/_synapse/admin/v1/users/{quote(city.user(1))}/login", {}
    )
    assert city.config.provisioning is not None
    settings = city.config.provisioning.model_copy(
        update={"admin_token": Secret(login["access_token"])}
    )
    not_admin = dataclasses.replace(
        city, config=city.config.model_copy(update={"provisioning": settings})
    )
    code, planned, done, output = await provision(not_admin, second, dry_run=True)
    assert (code, planned, done) == (1, [], []), output
    assert f"サーバー管理者のトークンではありません({city.user(1)})" in output

    # and again: nothing
    before = await city.snapshot()
    code, planned, done, output = await provision(city, second, dry_run=False)
    assert (code, planned, done) == (0, [], []), output
    assert await city.snapshot() == before
