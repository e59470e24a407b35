"""Carrying out a provisioning plan on Synapse and in the store.

Each action looks at the current state first and does nothing when it is already so, so
a plan applied twice, or after a crash half-way, changes nothing twice. Each change is
recorded in the audit log (actor `cli:provision`). The roster and the notices are written
last, in one transaction, and only when every Synapse action succeeded: the roster is
what the next run compares with, so it must not claim what did not happen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from bots.audit import AuditLog
from bots.matrix.http import MatrixHttpError
from bots.provision.model import (
    JOINED,
    Action,
    AddToSpace,
    CreateRoom,
    Deactivate,
    EnableEncryption,
    Invite,
    Kick,
    Notify,
    OrgChart,
    RosterAdd,
    RosterRemove,
    RosterUpdate,
    SetName,
    SetPower,
    StoreAction,
)
from bots.provision.roster import StaffStore
from bots.provision.synapse_admin import SynapseAdmin

log = logging.getLogger(__name__)

ACTOR = "cli:provision"
#: rooms changed at the same time (each room's own changes one after another)
ROOM_CONCURRENCY = 4
MEGOLM = {"algorithm": "m.megolm.v1.aes-sha2"}

DONE, UNCHANGED, FAILED, SKIPPED = "done", "unchanged", "failed", "skipped"


@dataclass(frozen=True)
class Outcome:
    action: Action
    result: str  # done, unchanged (already so), failed, skipped (not tried)
    error: str = ""


def audit_name(action: Action) -> str:
    match action:
        case CreateRoom() | SetName() | EnableEncryption() | AddToSpace():
            return "provision room"
        case Invite():
            return "provision invite"
        case SetPower():
            return "provision power"
        case Kick():
            return "provision kick"
        case Deactivate():
            return "provision deactivate"
        case RosterAdd() | RosterUpdate() | RosterRemove():
            return "provision roster"
        case Notify():
            return "provision notice"
    raise AssertionError(f"unknown action {action!r}")


class Applier:
    def __init__(
        self,
        admin: SynapseAdmin,
        staff: StaffStore,
        org: OrgChart,
        clock: Callable[[], float],
        *,
        audit: AuditLog | None = None,
        detail: Callable[[Action], str] = repr,
        kick_reason: Callable[[str], str] = str,
    ) -> None:
        self._admin = admin
        self._staff = staff
        self._org = org
        self._clock = clock
        self._audit = audit
        self._detail = detail
        self._kick_reason = kick_reason
        self._ids: dict[str, str] = {}

    async def apply(self, actions: Sequence[Action]) -> list[Outcome]:
        """Every action's outcome, in the plan's order."""
        outcomes: list[Outcome | None] = [None] * len(actions)
        store: list[tuple[int, StoreAction]] = []
        for phase in _phases(actions):
            first = actions[phase[0]]
            if isinstance(first, RosterAdd | RosterUpdate | RosterRemove | Notify):
                for index in phase:
                    action = actions[index]
                    if isinstance(action, RosterAdd | RosterUpdate | RosterRemove | Notify):
                        store.append((index, action))
                continue
            if isinstance(first, Invite | SetPower | Kick | Deactivate):
                await self._concurrently(actions, phase, outcomes)
            else:
                for index in phase:
                    outcomes[index] = await self._one(actions[index])
        failed = any(o is not None and o.result == FAILED for o in outcomes)
        if store:
            if failed:
                for index, action in store:
                    outcomes[index] = Outcome(action, SKIPPED)
            else:
                await self._staff.record([a for _, a in store], self._now())
                for index, action in store:
                    outcomes[index] = Outcome(action, DONE)
                    await self._record(action, "", "ok")
        return [o for o in outcomes if o is not None]

    async def _concurrently(
        self, actions: Sequence[Action], phase: list[int], outcomes: list[Outcome | None]
    ) -> None:
        by_room: dict[str, list[int]] = {}
        for index in phase:
            action = actions[index]
            key = action.room if isinstance(action, Invite | SetPower | Kick) else repr(action)
            by_room.setdefault(key, []).append(index)
        gate = asyncio.Semaphore(ROOM_CONCURRENCY)

        async def room(indexes: list[int]) -> None:
            async with gate:
                for index in indexes:
                    outcomes[index] = await self._one(actions[index])

        await asyncio.gather(*(room(ix) for ix in by_room.values()))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def _one(self, action: Action) -> Outcome:
        room_id = ""
        try:
            room_id, changed = await self._perform(action)
        except (MatrixHttpError, aiohttp.ClientError, TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
            log.warning("provisioning failed: %s: %s", self._detail(action), error)
            await self._record(action, room_id, "failed", error)
            return Outcome(action, FAILED, error)
        if not changed:
            return Outcome(action, UNCHANGED)
        await self._record(action, room_id, "ok")
        return Outcome(action, DONE)

    async def _record(self, action: Action, room_id: str, result: str, error: str = "") -> None:
        if self._audit is None:
            return
        detail = self._detail(action) + (f" ({error})" if error else "")
        await self._audit.record(ACTOR, audit_name(action), room_id, detail, result)

    async def _room_id(self, ref: str) -> str:
        if ref.startswith("!"):
            return ref
        if ref not in self._ids:
            found = await self._admin.resolve(ref)
            if found is None:
                raise MatrixHttpError(404, {"errcode": "M_NOT_FOUND", "error": f"no room {ref}"})
            self._ids[ref] = found
        return self._ids[ref]

    # --- the actions: (room id, whether anything changed) --------------------------------

    async def _perform(self, action: Action) -> tuple[str, bool]:
        admin = self._admin
        match action:
            case CreateRoom():
                return await self._create(action)
            case SetName():
                room_id = await self._room_id(action.room)
                current = await admin.state_event(room_id, "m.room.name", "")
                if current and current.get("name") == action.name:
                    return room_id, False
                await admin.put_state(room_id, "m.room.name", "", {"name": action.name})
                return room_id, True
            case EnableEncryption():
                room_id = await self._room_id(action.room)
                if await admin.state_event(room_id, "m.room.encryption", ""):
                    return room_id, False
                await admin.put_state(room_id, "m.room.encryption", "", MEGOLM)
                return room_id, True
            case AddToSpace():
                space_id = await self._room_id(action.space)
                room_id = await self._room_id(action.room)
                current = await admin.state_event(space_id, "m.space.child", room_id)
                if current and current.get("via"):
                    return space_id, False
                via = {"via": [self._org.server_name]}
                await admin.put_state(space_id, "m.space.child", room_id, via)
                return space_id, True
            case Invite():
                room_id = await self._room_id(action.room)
                if await self._membership(room_id, action.user) in JOINED:
                    return room_id, False
                await admin.invite(room_id, action.user)
                return room_id, True
            case SetPower():
                room_id = await self._room_id(action.room)
                return room_id, await self._set_power(room_id, action.user, action.level)
            case Kick():
                room_id = await self._room_id(action.room)
                if await self._membership(room_id, action.user) not in JOINED:
                    return room_id, False
                await admin.kick(room_id, action.user, self._kick_reason(action.why))
                return room_id, True
            case Deactivate():
                account = await admin.account(action.user)
                if not account.exists or account.deactivated:
                    return "", False
                await admin.deactivate(action.user)
                return "", True
        raise AssertionError(f"not a Synapse action: {action!r}")

    async def _create(self, action: CreateRoom) -> tuple[str, bool]:
        existing = await self._admin.resolve(action.room)
        if existing is not None:
            self._ids[action.room] = existing
            return existing, False
        body: dict[str, object] = {
            "name": action.name,
            "room_alias_name": action.room[1:].partition(":")[0],
            "preset": "private_chat",
            "visibility": "private",
            "initial_state": (
                [{"type": "m.room.encryption", "state_key": "", "content": MEGOLM}]
                if action.encrypted
                else []
            ),
        }
        if action.topic:
            body["topic"] = action.topic
        if action.space:
            body["creation_content"] = {"type": "m.space"}
            # only admins arrange the space; everyone invited may look around
            body["power_level_content_override"] = {"events_default": 100}
        room_id = await self._admin.create_room(body)
        self._ids[action.room] = room_id
        return room_id, True

    async def _membership(self, room_id: str, user: str) -> str | None:
        event = await self._admin.state_event(room_id, "m.room.member", user)
        return str(event.get("membership")) if event else None

    async def _set_power(self, room_id: str, user: str, level: int | None) -> bool:
        content = await self._admin.state_event(room_id, "m.room.power_levels", "") or {}
        users = dict(content.get("users") or {})
        if level is None:
            if user not in users:
                return False
            del users[user]
        else:
            if users.get(user) == level:
                return False
            users[user] = level
        await self._admin.put_state(room_id, "m.room.power_levels", "", {**content, "users": users})
        return True


def _phase_of(action: Action) -> int:
    match action:
        case CreateRoom() | SetName() | EnableEncryption():
            return 0
        case AddToSpace():
            return 1
        case Invite():
            return 2
        case SetPower():
            return 3
        case Kick():
            return 4
        case Deactivate():
            return 5
    return 6


def _phases(actions: Sequence[Action]) -> list[list[int]]:
    """Indexes of the actions, in runs of the same phase (the plan is in phase order)."""
    runs: list[list[int]] = []
    last = -1
    for index, action in enumerate(actions):
        phase = _phase_of(action)
        if phase != last:
            runs.append([])
            last = phase
        runs[-1].append(index)
    return runs
