"""The safety roll call (#7) on a real Synapse with yakuba's appservice registered.

21 staff in three departments (the first of each is its lead), each a real nio client with
its own E2EE store, and a disaster officer in the encrypted office room. JMA VXSE53
(焼津市 震度5弱) pushed to the signed alert hook starts the roll call: a 訓練 message a
drill marked 【訓練】 everywhere, a 通常 copy a real one. Everyone is asked in an encrypted
direct room the bot makes (an is_direct invitation); answers by reaction (encrypted as
Element sends them, and plain as nio does), by reply, by plain message and by poll
response are tallied in one message in the office room, edited in place. Time is chosen,
not slept: `run_due(now + resend_every)` re-sends to those who have not answered, tells
their leads and queues the mail/SMS gateway's messages, which the appservice delivers. A
restart in the middle loses no answer (also not those sent while yakuba was down) and asks
no one twice. An officer closes it with `!安否 終了`; the CSV goes to the office room only.
A staff member may not start one, and an answer after the close is refused.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from appservice.registration import write_registration
from bots.alerts.parse import parse_alert_document
from bots.alerts.service import message_id
from bots.config import load_config
from bots.demo.synapse import SynapseConfig, SynapseProcess, free_port
from bots.rollcall.feature import RollCallFeature
from bots.rollcall.model import Kind, RollCall, State
from bots.rollcall.render import POLL_START
from bots.rollcall.service import RollCallService
from bots.store.database import Database
from tests.integration.bridge import ENDPOINT_SECRET, Bridge, Receiver, _alias
from tests.integration.harness import Staff, audited, register_bots, write_config
from tests.integration.rollcall_world import (
    Person,
    body,
    download,
    files,
    number_of,
    push_alert,
    question_of,
    tally,
)
from tests.samples import SAMPLES

SERVER = "localhost"
SECRET = "whsec_" + "cm9sbGNhbGwtaG9vay1zZWNyZXQtMQ=="
OFFICE = f"#office:{SERVER}"
SOUMU_ROOM = f"#soumu:{SERVER}"
DEPARTMENTS = (("soumu", "総務課"), ("kensetsu", "建設課"), ("fukushi", "福祉課"))
PER_DEPARTMENT = 7  # member 0 is the department's lead
RESEND_EVERY = timedelta(minutes=15)
# the drill sample: 2009-10-01 13:45, 焼津市 (2221200) 震度5弱
DRILL = (SAMPLES / "jma" / "32-35_01_03_240613_VXSE53.xml").read_bytes()
# the same report as a real message. JMA keys a message by title, office, Control/DateTime,
# InfoType and Serial, not by Status: a copy that differed only in Status would be the
# drill message again (the alert workflow and the roll call both ignore a message seen
# before), so the copy is also issued a second later, as a real message always differs
REAL = DRILL.replace("<Status>訓練</Status>".encode(), "<Status>通常</Status>".encode()).replace(
    b"<DateTime>2009-10-01T04:50:01Z</DateTime>", b"<DateTime>2009-10-01T04:50:02Z</DateTime>"
)


@dataclass
class World:
    bridge: Bridge
    receiver: Receiver
    bot: str
    officer: Person
    departments: list[list[Person]]  # [department][member]
    office: str  # room ids
    soumu_room: str

    @property
    def staff(self) -> list[Person]:
        return [p for people in self.departments for p in people]

    @property
    def service(self) -> RollCallService:
        assert self.bridge.app is not None
        (feature,) = [
            f for f in self.bridge.app.bots["alerts"].features if isinstance(f, RollCallFeature)
        ]
        return feature.service

    @property
    def as_url(self) -> str:
        return self.bridge.as_url

    @property
    def db(self) -> Database:
        assert self.bridge.app is not None
        return self.bridge.app.db

    async def started_by(self, alert: bytes, call: RollCall) -> None:
        """The audit log has the roll call started by the alert, in the office room."""
        actor = f"alert:{message_id(parse_alert_document(alert)[0])}"
        (started,) = await audited(self.db, actor, "anpi start")
        assert (started.room_id, started.result) == (self.office, "ok")
        assert started.detail == f"#{call.id} {call.title}"

    def tally(self, number: int) -> str:
        return tally(self.officer, self.bot, self.office, number)

    def status_messages(self, number: int) -> list[Any]:
        """The roll call's tally messages themselves (not their edits)."""
        return [
            e
            for e in self.officer.events_from(self.bot, self.office)
            if number_of(body(e)) == number
            and "m.relates_to" not in e.source["content"]
            and "全体: 回答" in body(e)
        ]

    async def tally_shows(self, number: int, text: str) -> None:
        try:
            await self.officer.wait_for(lambda: text in self.tally(number), "the tally")
        except AssertionError:
            raise AssertionError(f"the tally shows {self.tally(number)!r}, not {text!r}") from None

    async def open_call(self) -> RollCall:
        calls = await self.service.store.open_calls(Kind.ANPI)
        assert len(calls) == 1, calls
        return calls[0]

    async def command(self, text: str) -> str:
        """An officer's command in the office room; the bot's reply."""
        event_id = await self.officer.send(self.office, text)
        await self.officer.wait_for(
            lambda: bool(self.officer.replies_to(event_id, self.bot)), f"the reply to {text}"
        )
        return body(self.officer.replies_to(event_id, self.bot)[0])

    async def csv_of(self, number: int) -> list[list[str]]:
        """The roll call's CSV as the officer downloads and decrypts it."""

        def uploaded() -> list[Any]:
            return [
                e
                for e in files(self.officer.events_from(self.bot, self.office))
                if body(e).startswith(f"anpi-{number}-") and body(e).endswith(".csv")
            ]

        await self.officer.wait_for(lambda: bool(uploaded()), f"the CSV of No.{number}")
        (event,) = uploaded()
        data = await download(self.officer, event)
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


async def _receiver() -> tuple[Receiver, web.AppRunner]:
    """The city's mail/SMS gateway: records the signed webhooks it receives."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/sms", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    receiver.port = free_port()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    return receiver, runner


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("rollcall")
    receiver, runner = await _receiver()
    as_port, hs_port = free_port(), free_port()
    fake_hs = type("S", (), {"url": f"http://127.0.0.1:{hs_port}"})()
    fake_hs.cfg = type("C", (), {"server_name": SERVER})()
    names = [[f"{d}{m}" for m in range(PER_DEPARTMENT)] for d, _ in DEPARTMENTS]
    officer_id = f"@bousai:{SERVER}"
    path = write_config(
        tmp,
        fake_hs,
        {"alerts": {"localpart": "anpibot", "features": ["alerts", "rollcall"]}},
        appservice={
            "url": f"http://127.0.0.1:{as_port}",
            "listen": {"host": "127.0.0.1", "port": as_port},
        },
        systems=[{"id": "bousai", "display_name": "防災情報システム"}],
        hooks=[
            {
                "id": "jma",
                "system": "bousai",
                "room": OFFICE,
                "secrets": [SECRET],
                "action": "alert",
            }
        ],
        roles={"disaster_officer": {"users": [officer_id]}},
        departments=[
            {
                "id": d,
                "name": {"ja": name},
                "leads": [f"@{people[0]}:{SERVER}"],
                "staff": [f"@{p}:{SERVER}" for p in people],
                **({"rooms": [SOUMU_ROOM]} if d == "soumu" else {}),
            }
            for (d, name), people in zip(DEPARTMENTS, names, strict=True)
        ],
        alerts={"city_codes": ["2221200"], "office_room": OFFICE},
        outbound={
            "endpoints": [
                {
                    "id": "sms",
                    "url": f"http://127.0.0.1:{receiver.port}/sms",
                    "secret": ENDPOINT_SECRET,
                }
            ]
        },
        rollcall={
            "room": OFFICE,
            "triggers": [{"min_intensity": "5-"}],
            "resend_every": "15m",
            "resend_times": 2,
            "escalate_after": 1,
            "gateway": "sms",
        },
    )
    config = load_config(path)
    assert config.appservice is not None
    registration = write_registration(config, config.appservice, tmp / "registration.yaml")
    synapse = SynapseProcess(
        SynapseConfig(
            tmp / "synapse",
            hs_port,
            # bcrypt_rounds: two dozen accounts register and log in; the test needs no
            # strong password hashes
            extra={"app_service_config_files": [str(registration)], "bcrypt_rounds": 4},
        )
    )
    await synapse.start()
    clients: list[Staff] = []
    bridge: Bridge | None = None
    try:
        admin = await synapse.register("admin", secrets.token_urlsafe(12), admin=True)
        await register_bots(synapse, path, admin["access_token"])
        bot = config.bots["alerts"].user_id

        async def person(localpart: str) -> Person:
            made = await Person.create(synapse, localpart, f"pw-{localpart}-1", tmp / localpart)
            assert isinstance(made, Person)
            made.bot = bot
            return made

        flat = [n for people in names for n in people]
        staff, officer = await asyncio.gather(
            asyncio.gather(*(person(n) for n in flat)), person("bousai")
        )
        clients = [*staff, officer]
        departments = [
            list(staff[i : i + PER_DEPARTMENT]) for i in range(0, len(flat), PER_DEPARTMENT)
        ]
        # the disaster office's encrypted room (the tally, the CSV) and 総務課's own room;
        # the bot accepts the invitations when it starts
        office = await officer.create_room(invite=[bot], encrypted=True, power={bot: 100})
        await _alias(officer, OFFICE, office)
        lead = departments[0][0]
        soumu_room = await lead.create_room(invite=[bot], encrypted=False, power={bot: 50})
        await _alias(lead, SOUMU_ROOM, soumu_room)
        bridge = Bridge(synapse, config, receiver, admin["access_token"])
        await bridge.start()
        await officer.wait_joined(office, bot)
        await lead.wait_joined(soumu_room, bot)
        yield World(bridge, receiver, bot, officer, departments, office, soumu_room)
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        if bridge is not None:
            await bridge.stop()
        await synapse.stop()
        await runner.cleanup()


async def _everyone_asked(w: World, number: int, people: list[Person], round_: int = 1) -> None:
    await asyncio.gather(*(p.asked(number, round_) for p in people))


def _question(p: Person, number: int, round_: int = 1) -> str:
    (event,) = p.questions(number, round_)
    return str(event.event_id)


async def test_a_drill_reaches_everyone_marked_and_an_officer_closes_it(world: World) -> None:
    w = world
    answer = await push_alert(w.as_url, "jma", SECRET, DRILL)
    assert answer["status"] == "ok"
    call = await w.open_call()
    assert call.drill and call.state is State.RUNNING
    number = call.id
    await w.started_by(DRILL, call)

    # everyone: an is_direct invitation from the bot into an encrypted room of the two of
    # them, and the question in it, decrypted by their own client and marked 【訓練】
    await _everyone_asked(w, number, w.staff)
    rooms = set()
    for p in w.staff:
        room = p.dm
        rooms.add(room)
        invite = p.invites[room]
        assert invite.sender == w.bot and invite.content.get("is_direct") is True
        assert p.client.rooms[room].encrypted
        assert set(p.client.rooms[room].users) == {w.bot, p.user_id}
        (question,) = p.questions(number)
        assert question.decrypted and question.type == POLL_START
        content = question.source["content"]
        assert body(question).startswith(f"【訓練】安否確認 No.{number} — ")
        assert content["m.mentions"] == {"user_ids": [p.user_id]}
        poll = content[POLL_START]
        assert poll["question"]["body"].startswith("【訓練】")
        assert [a["id"] for a in poll["answers"]] == ["1", "2", "3", "4", "5"]
    assert len(rooms) == len(w.staff)

    # three answers, three ways; the receipts and the tally are marked too
    a, b, c = w.departments[0][0], w.departments[1][1], w.departments[2][2]
    sent = await asyncio.gather(
        a.react(a.dm, _question(a, number), "1\ufe0f\u20e3"),
        b.reply(b.dm, _question(b, number), "3 足をけが"),
        c.vote(c.dm, _question(c, number), "2"),
    )
    receipts = await asyncio.gather(*(p.receipt(e) for p, e in zip((a, b, c), sent, strict=True)))
    assert all(
        r.startswith(f"【訓練】安否確認 No.{number} の回答を受け付けました") for r in receipts
    )
    expected = "回答 3/21(無事 2・軽傷 1・重傷 0/出勤可能 2・出勤不可 1)未回答 18"
    await w.tally_shows(number, expected)
    assert w.tally(number).startswith(f"【訓練】安否確認 No.{number}")

    # an officer closes it: the CSV goes to the office room
    assert f"No.{number} を終了しました" in await w.command("!安否 終了")
    (closed,) = await audited(w.db, w.officer.user_id, "anpi close", detail="!安否 終了")
    assert (closed.room_id, closed.result) == (w.office, "ok")
    rows = {r[2]: r for r in (await w.csv_of(number))[1:]}
    assert set(rows) == {p.user_id for p in w.staff}
    assert rows[a.user_id][4:7] == ["無事", "出勤可能", ""]
    assert rows[b.user_id][4:7] == ["軽傷", "出勤可能", "足をけが"]
    assert rows[c.user_id][4:7] == ["無事", "出勤不可", ""]
    assert sum(1 for r in rows.values() if r[4] == "") == 18
    await w.tally_shows(number, "状態: 終了")
    assert w.tally(number).startswith("【訓練】")
    assert len(w.status_messages(number)) == 1  # posted once, edited in place

    # a staff member may not start one: told so, and nothing starts
    clerk = w.departments[1][3]
    refused = await clerk.receipt(await clerk.send(clerk.dm, "!安否 開始"))
    assert refused == "このコマンドには「防災担当」の権限が必要です。"
    (denied,) = await audited(w.db, clerk.user_id, "anpi start")
    assert (denied.room_id, denied.result) == (clerk.dm, "denied")
    assert await w.service.store.open_calls() == []
    assert [c.id for c in await w.service.store.latest(Kind.ANPI)] == [number]


@dataclass(frozen=True)
class Plan:
    """How and when one person answers the real roll call, and what the CSV then says."""

    when: str  # before (the restart), down (while yakuba is down), after, resent, never
    how: str  # react, react-plain, reply, vote, text
    value: str
    safety: str = ""
    attendance: str = ""
    note: str = ""


KEYCAP = "\ufe0f\u20e3"
# by member: the same in every department but the last two
PLANS = [
    Plan("before", "react", "1" + KEYCAP, "無事", "出勤可能"),
    Plan("before", "reply", "3 足をけが", "軽傷", "出勤可能", "足をけが"),
    Plan("down", "vote", "2", "無事", "出勤不可"),
    Plan("down", "text", "無事 出勤可能", "無事", "出勤可能"),
    Plan("after", "vote", "5", "重傷", "出勤不可"),
]
LAST_TWO = {
    0: [Plan("resent", "react", "4" + KEYCAP, "軽傷", "出勤不可"), Plan("never", "", "")],
    1: [Plan("never", "", ""), Plan("never", "", "")],
    2: [
        Plan("after", "react-plain", "✅", "無事"),
        Plan("after", "text", "2 家族と避難中", "無事", "出勤不可", "家族と避難中"),
    ],
}


def _plans(w: World) -> dict[str, Plan]:
    return {
        p.user_id: [*PLANS, *LAST_TWO[d]][m]
        for d, people in enumerate(w.departments)
        for m, p in enumerate(people)
    }


async def _answer(p: Person, plan: Plan, question: str) -> str:
    if plan.how == "react":
        return await p.react(p.dm, question, plan.value)
    if plan.how == "react-plain":
        return await p.react(p.dm, question, plan.value, encrypted=False)
    if plan.how == "reply":
        return await p.reply(p.dm, question, plan.value)
    if plan.how == "vote":
        return await p.vote(p.dm, question, plan.value)
    return await p.send(p.dm, plan.value)


def _counts(plans: list[Plan]) -> str:
    answered = [x for x in plans if x.safety or x.attendance]
    safety, attendance = Counter(x.safety for x in plans), Counter(x.attendance for x in plans)
    return (
        f"回答 {len(answered)}/{len(plans)}(無事 {safety['無事']}・軽傷 {safety['軽傷']}・"
        f"重傷 {safety['重傷']}/出勤可能 {attendance['出勤可能']}・"
        f"出勤不可 {attendance['出勤不可']})未回答 {len(plans) - len(answered)}"
    )


async def test_a_real_roll_call_with_resends_a_restart_and_the_csv(world: World) -> None:
    w = world
    for open_ in await w.service.store.open_calls():  # whatever the drill test left open
        await w.service.store.set_state(open_.id, State.CLOSED, datetime.now(UTC), "test")
    answer = await push_alert(w.as_url, "jma", SECRET, REAL)
    assert answer["status"] == "ok" and answer["alerts"][0]["result"] == "routed"
    call = await w.open_call()
    assert not call.drill
    number = call.id
    await w.started_by(REAL, call)
    await _everyone_asked(w, number, w.staff)
    for p in w.staff:
        assert not body(p.questions(number)[0]).startswith("【訓練】")
    plans = _plans(w)
    by_id = {p.user_id: p for p in w.staff}
    question = {p.user_id: _question(p, number) for p in w.staff}

    async def answer_all(when: str) -> list[tuple[Person, str]]:
        people = [by_id[u] for u, plan in plans.items() if plan.when == when]
        sent = await asyncio.gather(
            *(_answer(p, plans[p.user_id], question[p.user_id]) for p in people)
        )
        return list(zip(people, sent, strict=True))

    async def receipts(answers: list[tuple[Person, str]]) -> None:
        texts = await asyncio.gather(*(p.receipt(e) for p, e in answers))
        assert all(f"安否確認 No.{number} の回答を受け付けました" in t for t in texts), texts

    # some answer; yakuba stops; some answer while it is down; it starts on the same store
    await receipts(await answer_all("before"))
    await w.bridge.stop()
    down = await answer_all("down")
    await w.bridge.start()
    await receipts(down)
    await receipts(await answer_all("after"))
    answered_now = [x for x in plans.values() if x.when in ("before", "down", "after")]
    missing_now = [x for x in plans.values() if x.when not in ("before", "down", "after")]
    unanswered = [Plan("never", "", "")] * len(missing_now)
    expected = _counts([*answered_now, *unanswered])
    await w.tally_shows(number, expected)

    # 15 minutes on (chosen, not slept): the four who have not answered are asked again,
    # their leads are told, and the gateway is to reach them
    later = datetime.now(UTC) + RESEND_EVERY + timedelta(minutes=1)
    await w.service.run_due(later)
    missing = sorted(u for u, plan in plans.items() if plan.when in ("resent", "never"))
    assert len(missing) == 4
    await _everyone_asked(w, number, [by_id[u] for u in missing], round_=2)
    for d, people in enumerate(w.departments):
        lead = people[0]
        mine = [p.user_id for p in people if p.user_id in missing]
        await lead.sync(wait_ms=0)
        notices = lead.from_bot("回答のない方がいます")
        if not mine:
            assert notices == [], f"{DEPARTMENTS[d][1]} has no one missing"
            continue
        notice = await lead.told("回答のない方がいます")
        assert lead.room_of[notice.event_id] == lead.dm and notice.decrypted
        text = body(notice)
        assert text.startswith(f"安否確認 No.{number}: {DEPARTMENTS[d][1]}で 2 回送っても")
        assert all(u in text for u in mine)
        assert not any(u in text for u in missing if u not in mine)
    assert w.bridge.app is not None
    rows = await w.bridge.app.db.fetchall(
        "SELECT user_id, payload FROM rollcall_events WHERE rollcall_id = ? ORDER BY user_id",
        (number,),
    )
    assert [r[0] for r in rows] == missing
    assert all(json.loads(r[1])["type"] == "anpi.question" for r in rows)
    await asyncio.wait_for(_gateway_reached(w, number, missing), 60)

    # one answers the second question; asking again at the same time sends nothing more
    late = next(u for u, plan in plans.items() if plan.when == "resent")
    p = by_id[late]
    await receipts([(p, await _answer(p, plans[late], _question(p, number, 2)))])
    await w.service.run_due(later)
    final = _counts(list(plans.values()))
    await w.tally_shows(number, final)
    status = w.tally(number)
    for d, (_, name) in enumerate(DEPARTMENTS):
        theirs = [plans[p.user_id] for p in w.departments[d]]
        assert f"・{name}: {_counts(theirs)}" in status
    assert "足をけが" not in status and "家族" not in status  # notes: the CSV only

    # an officer closes it; the CSV (downloaded and decrypted) has every answer
    assert f"No.{number} を終了しました" in await w.command("!anpi close")
    (closed,) = await audited(w.db, w.officer.user_id, "anpi close", detail="!anpi close")
    assert (closed.room_id, closed.result) == (w.office, "ok")
    table = await w.csv_of(number)
    assert table[0][:7] == [
        "安否確認No",
        "部署",
        "ユーザーID",
        "氏名",
        "安否",
        "出勤・参集",
        "メモ",
    ]
    csv_rows = {r[2]: r for r in table[1:]}
    assert set(csv_rows) == set(plans)
    departments = {p.user_id: DEPARTMENTS[i][1] for i, ps in enumerate(w.departments) for p in ps}
    for user, plan in plans.items():
        row = csv_rows[user]
        assert row[0] == str(number) and row[1] == departments[user]
        assert row[4:7] == [plan.safety, plan.attendance, plan.note], (user, row)
        assert bool(row[7]) == (plan.when != "never")  # answered at
        assert row[8] == ("2" if user in missing else "1")  # times asked
        assert row[9] == ("済" if user in missing else "")  # lead told
    await w.tally_shows(number, "状態: 終了")

    assert len(w.status_messages(number)) == 1  # posted once, edited in place (restart too)

    # an answer after the close is refused and not recorded
    tardy = next(by_id[u] for u, plan in plans.items() if plan.when == "never")
    refused = await tardy.receipt(await tardy.send(tardy.dm, "1"))
    assert refused == f"安否確認 No.{number} は終了しています。この回答は記録していません。"
    target = await w.service.store.target(number, tardy.user_id)
    assert target is not None and not target.answered

    # the whole history of every direct room: each question once per round (across the
    # restart), and no file; the CSVs are in the office room only
    for p in w.staff:
        events = await p.everything_from_bot(p.dm)
        rounds = Counter(q for e in events if (q := question_of(e)) is not None)
        assert set(rounds.values()) == {1}, (p.user_id, rounds)
        asked = {r for n, r in rounds if n == number}
        assert asked == ({1, 2} if p.user_id in missing else {1}), (p.user_id, rounds)
        assert files(events) == [], p.user_id
    lead = w.departments[0][0]
    assert files(await lead.everything_from_bot(w.soumu_room)) == []
    office_files = [body(e) for e in files(w.officer.events_from(w.bot, w.office))]
    assert len([f for f in office_files if f.startswith(f"anpi-{number}-")]) == 1
    assert all(f.startswith("anpi-") and f.endswith(".csv") for f in office_files)


async def _gateway_reached(w: World, number: int, missing: list[str]) -> None:
    """The appservice delivered one signed webhook per missing person to the gateway."""
    while True:
        sent = [r for r in w.receiver.received if r.get("rollcall") == number]
        if len(sent) >= len(missing):
            assert sorted(r["user_id"] for r in sent) == missing
            assert all(r["type"] == "anpi.question" and r["event"] == "question" for r in sent)
            return
        await asyncio.sleep(0.1)
