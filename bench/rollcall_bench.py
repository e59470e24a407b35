"""Benchmark: a safety roll call to 200 staff (1,000 on request): time until everyone has
the question and until the tally shows every answer, next to a raw client sending the same
questions on the same Synapse in the same run.

Runs a real Synapse on loopback and yakuba's alerts bot with the roll call. Every staff
member has a light client, all of them in one separate process (the fleet, so that their
work does not slow yakuba's event loop): a nio client with its own E2EE store (in memory)
that uploads device and one-time keys, long-polls /sync, accepts direct-room invitations at
once, notes when it has a question decrypted, and answers yakuba's question with one tap
(an encrypted poll response, as Element sends it; again if the bot says it could not
decrypt it, as a person would). The fleet is the observer of delivery: a person has the
question once it is in their own /sync, decrypted. The disaster officer has a light client
in the office room that reads the tally (its latest m.replace).

Four rounds, to every staff member each, each timed from its own T0:

1. baseline, new rooms: a raw nio client (E2EE, store on disk, exempt from rate limits as
   the bot is) makes an encrypted direct room per person as Element makes a DM (is_direct,
   trusted_private_chat, encrypted), waits for its sync to show it (nio encrypts only for
   rooms it has seen) and sends the question yakuba sends, 8 people at a time as yakuba
   does; it lists the rooms in its m.direct once at the end;
2. yakuba's first roll call: `RollCallService.start` then `kick()` (what `!安否 開始`
   does); the direct rooms are made on the way;
3. baseline, rooms exist: the raw client asks again in its rooms;
4. yakuba's second roll call in its existing direct rooms: what a city sees after the
   first drill. The staff answer as the questions arrive, so yakuba's questions share
   Synapse with the answers, the receipts and the tally edits; the raw client's do not.

Per person: when the direct room was created, when Synapse accepted the question (the raw
client's send returned; yakuba's send ledger), when the light client had it decrypted, and
for yakuba when the answer was accepted by Synapse, when it was recorded in yakuba's store,
and when the officer saw the tally count everyone. p50 is the median person, "all" the
last one. Not timed: a person in Element taps "accept" on the invitation first.

    .venv/bin/python -m bench.rollcall_bench [--staff 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    UnknownEvent,
)
from nio.store import SqliteMemoryStore

from bots.demo.synapse import SynapseConfig, SynapseProcess, free_port
from bots.i18n import Catalog
from bots.matrix.direct import ENCRYPTION_STATE
from bots.rollcall import render
from bots.rollcall.feature import RollCallFeature
from bots.rollcall.model import Kind, RollCall, State
from bots.rollcall.service import SEND_CONCURRENCY
from tests.integration.harness import RunningApp, prepare

ROOT = Path(__file__).resolve().parent.parent
POLL_RESPONSE = "org.matrix.msc3381.poll.response"
#: the round a question belongs to: its title ends in "#tag"
TAG = re.compile(r"#(\w+)")
#: the tally message: its number, then "回答 answered/asked"
TALLY = re.compile(r"No\.(\d+).*?回答 (\d+)/(\d+)", re.S)
#: light clients uploading keys at the same time, and accounts registered at a time
STARTING_AT_ONCE = 16
#: as Element: long polls of 30 s (answered at once when something arrives)
SYNC_MS = 30_000
LIGHT_FILTER = {"room": {"timeline": {"limit": 20}}}
#: a pause before each round, for what the one before set off (receipts, the CSV) to end
SETTLE_S = 2.0


@dataclass(frozen=True)
class Account:
    user_id: str
    device_id: str
    access_token: str


def _raise_fd_limit() -> None:
    """Every light client holds a connection: allow as many files as the system lets us."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _housekeeping(client: AsyncClient) -> None:
    """What a client does after each sync: keys out, keys in, room keys to send."""
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    await client.send_to_device_messages()


# --- the fleet: one process with every light client ---------------------------------------


class Light:
    """One person's light client; the officer's reads the tally instead of answering.

    As a person would, it answers again when the bot says it could not read the answer.
    """

    def __init__(
        self,
        url: str,
        account: Account,
        bot: str,
        emit: Callable[..., None],
        apology: str,
        officer: bool = False,
    ) -> None:
        self.client = AsyncClient(
            url,
            account.user_id,
            device_id=account.device_id,
            config=AsyncClientConfig(encryption_enabled=True, store=SqliteMemoryStore),
        )
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        self._bot = bot
        self._emit = emit
        self._apology = apology
        self._officer = officer
        self._seen: set[str] = set()
        self._answers: dict[str, tuple[str, str, str]] = {}  # answer -> room, question, tag
        self._undecrypted: list[tuple[str, MegolmEvent]] = []

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    async def start(self) -> None:
        await _housekeeping(self.client)  # device keys and one-time keys
        await self._sync(0)

    async def run(self) -> None:
        while True:
            try:
                await self._sync(SYNC_MS)
            except Exception as exc:  # reported; the client goes on, as a real one would
                self._emit(kind="error", user=self.user_id, error=repr(exc))
                await asyncio.sleep(1)

    async def _sync(self, wait_ms: int) -> None:
        client = self.client
        response = await client.sync(
            timeout=wait_ms, sync_filter=LIGHT_FILTER, full_state=not client.next_batch
        )
        at = time.time()  # nio has decrypted what it could by now
        if not isinstance(response, SyncResponse):
            self._emit(kind="error", user=self.user_id, error=str(response))
            await asyncio.sleep(1)
            return
        for room_id in response.rooms.invite:
            await client.join(room_id)
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                await self._event(room_id, event, at)
        await _housekeeping(client)
        if self._undecrypted:  # room keys that came after their messages
            pending, self._undecrypted = self._undecrypted, []
            for room_id, encrypted in pending:
                try:
                    event = client.decrypt_event(encrypted)
                except Exception:
                    self._undecrypted.append((room_id, encrypted))
                    continue
                await self._event(room_id, event, time.time())

    async def _event(self, room_id: str, event: Any, at: float) -> None:
        if isinstance(event, MegolmEvent):
            self._undecrypted.append((room_id, event))
        elif isinstance(event, UnknownEvent) and event.type == render.POLL_START:
            found = TAG.search(str((event.source.get("content") or {}).get("body", "")))
            if found is None or event.event_id in self._seen:
                return
            self._seen.add(event.event_id)
            tag = found.group(1)
            self._emit(kind="seen", user=self.user_id, tag=tag, t=at)
            if event.sender == self._bot:
                await self._answer(room_id, event.event_id, tag)
        elif isinstance(event, (RoomMessageNotice, RoomMessageText)) and event.sender == self._bot:
            content = event.source.get("content") or {}
            if self._officer:
                shown = content.get("m.new_content") or content
                found = TALLY.search(str(shown.get("body", "")))
                if found:
                    call, answered, asked = (int(x) for x in found.groups())
                    self._emit(kind="tally", call=call, answered=answered, asked=asked, t=at)
                return
            replied = ((content.get("m.relates_to") or {}).get("m.in_reply_to") or {}).get(
                "event_id"
            )
            if replied in self._answers and content.get("body") == self._apology:
                room, question, tag = self._answers.pop(replied)
                self._emit(kind="again", user=self.user_id, tag=tag)
                await self._answer(room, question, tag)

    async def _answer(self, room_id: str, question: str, tag: str) -> None:
        """One tap on the poll's first option ("1": safe, can come in)."""
        content = {
            POLL_RESPONSE: {"answers": ["1"]},
            "m.relates_to": {"rel_type": "m.reference", "event_id": question},
        }
        try:
            response = await self.client.room_send(
                room_id, POLL_RESPONSE, content, ignore_unverified_devices=True
            )
        except Exception as exc:  # reported, and the benchmark times out on it
            self._emit(kind="error", user=self.user_id, error=repr(exc))
            return
        if isinstance(response, RoomSendResponse):
            self._answers[response.event_id] = (room_id, question, tag)
            self._emit(kind="answered", user=self.user_id, tag=tag, t=time.time())
        else:
            self._emit(kind="error", user=self.user_id, error=str(response))


def _emit(**record: Any) -> None:
    print(json.dumps(record), flush=True)


async def run_fleet(spec: dict[str, Any]) -> None:
    """The fleet's process: log every light client in, then sync until stdin closes."""
    _raise_fd_limit()
    url, bot = spec["url"], spec["bot"]
    apology = Catalog.load().t("ja", "error.undecryptable")
    lights = [Light(url, Account(**a), bot, _emit, apology) for a in spec["staff"]]
    lights.append(Light(url, Account(**spec["officer"]), bot, _emit, apology, officer=True))
    gate = asyncio.Semaphore(STARTING_AT_ONCE)

    async def start(light: Light) -> None:
        async with gate:
            await light.start()

    await asyncio.gather(*(start(light) for light in lights))
    tasks = [asyncio.create_task(light.run()) for light in lights]
    _emit(kind="ready", count=len(lights))
    stdin = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.read()  # the benchmark closes our stdin when it is done
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(light.client.close() for light in lights))


class Fleet:
    """The fleet seen from the benchmark: when each person had what."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.ready = False
        self.seen: dict[str, dict[str, float]] = {}  # tag -> person -> decrypted at
        self.answered: dict[str, dict[str, float]] = {}  # tag -> person -> answer accepted
        self.tallies: list[tuple[int, int, float]] = []  # (roll call, answered, seen at)
        self.again: dict[str, int] = {}  # tag -> answers the bot could not read
        self.errors: list[str] = []
        self.log: deque[str] = deque(maxlen=40)
        self._readers = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]

    @classmethod
    async def start(cls, spec: Path) -> Fleet:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.rollcall_bench",
            "--fleet",
            str(spec),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        return cls(proc)

    async def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        async for line in self._proc.stdout:
            record = json.loads(line)
            kind = record["kind"]
            if kind == "seen":
                self.seen.setdefault(record["tag"], {}).setdefault(record["user"], record["t"])
            elif kind == "answered":
                self.answered.setdefault(record["tag"], {}).setdefault(record["user"], record["t"])
            elif kind == "tally":
                self.tallies.append((record["call"], record["answered"], record["t"]))
            elif kind == "again":
                self.again[record["tag"]] = self.again.get(record["tag"], 0) + 1
            elif kind == "ready":
                self.ready = True
            elif kind == "error":
                self.errors.append(f"{record['user']}: {record['error']}")

    async def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        async for line in self._proc.stderr:
            self.log.append(line.decode(errors="replace").rstrip())

    def tally_complete(self, call: int, count: int) -> float | None:
        return next((t for c, n, t in self.tallies if c == call and n >= count), None)

    async def wait(self, predicate: Callable[[], bool], what: str, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                while not predicate():
                    if self._proc.returncode is not None:
                        raise RuntimeError(f"the fleet exited: {list(self.log)[-5:]}")
                    await asyncio.sleep(0.05)
        except TimeoutError:
            errors = self.errors[-5:]
            raise AssertionError(f"timed out waiting for {what}; fleet errors: {errors}") from None

    async def stop(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 30)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


# --- the baseline: a raw client -----------------------------------------------------------


class RawClient:
    """The simplest correct sender: a plain nio client with E2EE, its own sync loop."""

    def __init__(self, url: str, account: Account, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            url,
            account.user_id,
            device_id=account.device_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True),
        )
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        self.rooms: dict[str, str] = {}  # person -> direct room
        self.made: dict[str, float] = {}  # person -> when the room was created
        self._synced = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await _housekeeping(self.client)
        await self._sync(0)
        self._loop = asyncio.create_task(self._sync_forever())

    async def _sync_forever(self) -> None:
        while True:
            try:
                await self._sync(SYNC_MS)
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(1)

    async def _sync(self, wait_ms: int) -> None:
        response = await self.client.sync(timeout=wait_ms, full_state=not self.client.next_batch)
        if not isinstance(response, SyncResponse):
            await asyncio.sleep(1)
            return
        await _housekeeping(self.client)
        synced, self._synced = self._synced, asyncio.Event()
        synced.set()

    async def ask(self, person: str, content: dict[str, Any]) -> float:
        """Make the direct room if there is none, send; when Synapse accepted it."""
        room_id = self.rooms.get(person)
        if room_id is None:
            created = await self.client.room_create(
                is_direct=True,
                invite=[person],
                preset=RoomPreset.trusted_private_chat,
                initial_state=[ENCRYPTION_STATE],
            )
            assert isinstance(created, RoomCreateResponse), created
            room_id = str(created.room_id)
            self.made[person] = time.time()
            # nio encrypts only for a room (and members) it has seen in its sync
            while not (room_id in self.client.rooms and person in self.client.rooms[room_id].users):
                await self._synced.wait()
            self.rooms[person] = room_id
        response = await self.client.room_send(
            room_id, render.POLL_START, content, ignore_unverified_devices=True
        )
        assert isinstance(response, RoomSendResponse), response
        return time.time()

    async def list_in_direct(self) -> None:
        user = self.client.user_id
        url = f"{self.client.homeserver}/_matrix/client/v3/user/{user}/account_data/m.direct"
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        body = {person: [room] for person, room in self.rooms.items()}
        async with aiohttp.ClientSession() as http, http.put(url, json=body, headers=headers) as r:
            assert r.status == 200, await r.text()

    async def close(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        await self.client.close()


# --- rounds ---------------------------------------------------------------------------------


@dataclass
class Round:
    """Seconds from T0, per person."""

    made: list[float]  # direct rooms created in this round
    accepted: list[float]
    decrypted: list[float]
    answered: list[float] = field(default_factory=list)
    recorded: list[float] = field(default_factory=list)
    tally: float | None = None
    unread: int = 0  # answers the bot could not decrypt in time (it asked to send again)


def _since(t0: float, moments: Any) -> list[float]:
    return sorted(m - t0 for m in moments)


def _title(tag: str) -> str:
    return f"ベンチマーク #{tag}"


async def raw_round(
    raw: RawClient, fleet: Fleet, people: list[str], number: int, tag: str, timeout_s: float
) -> Round:
    catalog = Catalog.load()

    def t(key: str, **params: Any) -> str:
        return catalog.t("ja", key, **params)

    now = datetime.now().astimezone()
    # the question yakuba would send: the same content, numbered like a roll call
    call = RollCall(
        id=number,
        kind=Kind.ANPI,
        level=None,
        drill=True,
        state=State.RUNNING,
        title=_title(tag),
        area_key="manual",
        strength=0,
        started_by="",
        created_at=now,
        hold_until=None,
        started_at=now,
        closed_at=None,
        status_room="",
        status_event=None,
    )
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(person: str) -> float:
        async with gate:
            return await raw.ask(person, render.question(call, person, 1, t))

    t0 = time.time()
    async with asyncio.timeout(timeout_s):
        accepted = await asyncio.gather(*(one(p) for p in people))
    await fleet.wait(
        lambda: len(fleet.seen.get(tag, {})) >= len(people), f"{tag} decrypted", timeout_s
    )
    await raw.list_in_direct()
    made = [m for m in raw.made.values() if m >= t0]
    return Round(_since(t0, made), _since(t0, accepted), _since(t0, fleet.seen[tag].values()))


async def yakuba_round(
    running: RunningApp, fleet: Fleet, officer: str, count: int, tag: str, timeout_s: float
) -> Round:
    assert running.app is not None
    bot = running.app.bots["alerts"]
    feature = next(f for f in bot.features if isinstance(f, RollCallFeature))
    service = feature.service
    t0 = time.time()
    call_id = await service.start(officer, _title(tag), True, feature.now())
    feature.kick()
    await fleet.wait(lambda: len(fleet.seen.get(tag, {})) >= count, f"{tag} decrypted", timeout_s)
    await fleet.wait(
        lambda: fleet.tally_complete(call_id, count) is not None, f"{tag} tally", timeout_s
    )
    tally = fleet.tally_complete(call_id, count)
    assert tally is not None
    sent = await running.app.db.fetchall(
        "SELECT sent_at FROM send_ledger WHERE sender = ? AND event_type = ? AND created_at >= ?",
        (bot.user_id, render.POLL_START, int(t0 * 1000)),
    )
    made = await running.app.db.fetchall(
        "SELECT created_at FROM direct_rooms WHERE bot = ? AND created_at >= ?",
        (bot.name, int(t0 * 1000)),
    )
    targets = await service.store.targets(call_id)
    assert len(sent) == count and all(x.answered_at for x in targets), (len(sent), tag)
    result = Round(
        made=_since(t0, (row[0] / 1000 for row in made)),
        accepted=_since(t0, (row[0] / 1000 for row in sent)),
        decrypted=_since(t0, fleet.seen[tag].values()),
        answered=_since(t0, fleet.answered[tag].values()),
        recorded=_since(t0, (x.answered_at.timestamp() for x in targets if x.answered_at)),
        tally=tally - t0,
        unread=fleet.again.get(tag, 0),
    )
    await service.close(officer, feature.now(), call_id)
    feature.kick()
    await feature.drained()
    return result


# --- set-up ---------------------------------------------------------------------------------


async def register_all(synapse: SynapseProcess, localparts: list[str]) -> list[Account]:
    """Accounts through the shared-secret admin API, a few at a time; each comes with a
    device and an access token that its client then uses."""
    gate = asyncio.Semaphore(STARTING_AT_ONCE)

    async def one(localpart: str) -> Account:
        async with gate:
            data = await synapse.register(localpart, secrets.token_urlsafe(12))
        return Account(data["user_id"], data["device_id"], data["access_token"])

    return list(await asyncio.gather(*(one(name) for name in localparts)))


async def create_office(synapse: SynapseProcess, officer: Account, bot: str) -> str:
    """The disaster office's encrypted room, with the bot invited."""
    body = {
        "preset": "private_chat",
        "name": "防災危機管理課",
        "invite": [bot],
        "initial_state": [ENCRYPTION_STATE],
        "power_level_content_override": {"users": {bot: 100}},
    }
    headers = {"Authorization": f"Bearer {officer.access_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{synapse.url}/_matrix/client/v3/createRoom", json=body, headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
        return str((await r.json())["room_id"])


def departments(staff: list[Account]) -> list[dict[str, Any]]:
    """The roster: 20 people per department."""
    return [
        {
            "id": f"ka{n:02d}",
            "name": {"ja": f"第{n + 1}課"},
            "staff": [a.user_id for a in staff[i : i + 20]],
        }
        for n, i in enumerate(range(0, len(staff), 20))
    ]


def write_spec(path: Path, url: str, bot: str, staff: list[Account], officer: Account) -> None:
    spec = {
        "url": url,
        "bot": bot,
        "staff": [asdict(a) for a in staff],
        "officer": asdict(officer),
    }
    path.write_text(json.dumps(spec))


# --- the benchmark --------------------------------------------------------------------------


async def main(count: int) -> None:
    _raise_fd_limit()
    began = time.perf_counter()
    timeout_s = max(300.0, 3.0 * count)
    tmp = Path(tempfile.mkdtemp(prefix="yakuba-rollbench-"))
    synapse = SynapseProcess(
        SynapseConfig(tmp / "synapse", free_port(), extra={"bcrypt_rounds": 4})
    )
    fleet: Fleet | None = None
    running: RunningApp | None = None
    raw: RawClient | None = None
    try:
        await synapse.start()
        admin = await synapse.register("admin", secrets.token_urlsafe(12), admin=True)
        start = time.perf_counter()
        staff = await register_all(synapse, [f"staff{i:04d}" for i in range(count)])
        officer, raw_account = await register_all(synapse, ["bousai", "raw"])
        registering = time.perf_counter() - start
        await synapse.exempt_from_ratelimit(admin["access_token"], raw_account.user_id)
        bot_id = f"@alerts:{synapse.cfg.server_name}"
        office = await create_office(synapse, officer, bot_id)
        running = await prepare(
            synapse,
            admin["access_token"],
            tmp / "yakuba",
            {"alerts": {"localpart": "alerts", "features": ["alerts", "rollcall"]}},
            departments=departments(staff),
            alerts={"office_room": office},
            rollcall={"resend_every": "1h"},  # no re-sends during the rounds
        )

        start = time.perf_counter()
        write_spec(tmp / "fleet.json", synapse.url, bot_id, staff, officer)
        fleet = await Fleet.start(tmp / "fleet.json")
        await fleet.wait(lambda: fleet is not None and fleet.ready, "the fleet", timeout_s)
        logging_in = time.perf_counter() - start

        app = await running.start()
        bot = app.bots["alerts"]
        async with asyncio.timeout(120):
            while office not in bot.client.rooms:
                await bot.wait_synced()
        raw = RawClient(synapse.url, raw_account, tmp / "raw")
        await raw.start()

        people = [a.user_id for a in staff]
        rounds: dict[str, Round] = {}
        for number, tag in ((1, "raw1"), (1, "yakuba1"), (2, "raw2"), (2, "yakuba2")):
            await asyncio.sleep(SETTLE_S)
            if tag.startswith("raw"):
                rounds[tag] = await raw_round(raw, fleet, people, number, tag, timeout_s)
            else:
                rounds[tag] = await yakuba_round(
                    running, fleet, officer.user_id, count, tag, timeout_s
                )
        report(count, rounds, registering, logging_in, time.perf_counter() - began)
    finally:
        if raw is not None:
            await raw.close()
        if fleet is not None:
            await fleet.stop()
        if running is not None:
            await running.stop()
        await synapse.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def report(
    count: int, rounds: dict[str, Round], registering: float, logging_in: float, total: float
) -> None:
    print(
        f"\nsafety roll call to {count} staff (loopback Synapse, an encrypted direct room per"
        f" person, {count} light clients)"
    )
    print(f"{'measure (seconds from T0)':<62}{'p50 s':>9}{'all s':>9}{'people/s':>10}")

    def row(label: str, samples: list[float]) -> None:
        last = samples[-1]
        p50 = statistics.median(samples)
        print(f"{label:<62}{p50:>9.2f}{last:>9.2f}{len(samples) / last:>10.1f}")

    for title, raw, ours in (
        ("first roll call: direct rooms made on the way", "raw1", "yakuba1"),
        ("second roll call: the direct rooms exist", "raw2", "yakuba2"),
    ):
        base, mine = rounds[raw], rounds[ours]
        print(title)
        if base.made:
            row("  baseline: raw client, direct room created", base.made)
        row("  baseline: raw client, question accepted by Synapse", base.accepted)
        row("  baseline: raw client, question decrypted by the person", base.decrypted)
        if mine.made:
            row("  yakuba: direct room created (and stored)", mine.made)
        row("  yakuba: question accepted by Synapse", mine.accepted)
        row("  yakuba: question decrypted by the person", mine.decrypted)
        row("  light clients: answer accepted by Synapse", mine.answered)
        row("  yakuba: answer recorded in the store", mine.recorded)
        assert mine.tally is not None
        label = f"  yakuba: the officer sees the tally show all {count} answers"
        print(f"{label:<62}{'':>9}{mine.tally:>9.2f}{count / mine.tally:>10.1f}")
        if mine.unread:
            print(
                f"  ({mine.unread} answers yakuba could not decrypt in time: it apologised and"
                " they were sent again)"
            )
    print(
        f"set-up: {count + 2} accounts registered in {registering:.1f} s, light clients"
        f" logged in with keys uploaded in {logging_in:.1f} s; whole run {total:.0f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=200)
    parser.add_argument("--fleet", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # nio warns of every device it has no Olm session with yet, just before it makes one
    logging.getLogger("nio.crypto").setLevel(logging.ERROR)
    if args.fleet is not None:
        asyncio.run(run_fleet(json.loads(args.fleet.read_text())))
    else:
        asyncio.run(main(args.staff))
