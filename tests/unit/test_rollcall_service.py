"""The roll-call workflow (bots/rollcall/service.py) on a real store and a recording
messenger: starts from alerts (drills marked), answers every way, re-sends, leads told,
the gateway, the tally, close and CSV, holds, aftershocks, staffing levels, retention,
restarts, and bad input."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bots.alerts.model import Alert
from bots.alerts.parse import parse_alert_document
from bots.alerts.service import message_id
from bots.audit import AuditLog
from bots.commands.errors import CommandError
from bots.config import Config, parse_config
from bots.i18n import Catalog
from bots.rollcall.model import Attendance, Kind, Safety, State
from bots.rollcall.render import POLL_START
from bots.rollcall.service import RollCallService
from bots.rollcall.store import RollCallStore
from bots.store.database import Database
from tests.samples import SAMPLES
from tests.unit.fakes import SERVER, FakeMessenger, bot_config

pytestmark = pytest.mark.postgresql

TOKYO = ZoneInfo("Asia/Tokyo")
BOT = f"@alerts:{SERVER}"
OFFICE = f"!bousai:{SERVER}"
OFFICER = f"@bousai:{SERVER}"
KACHO = f"@kacho:{SERVER}"  # lead of 総務課
BUCHO = f"@bucho:{SERVER}"  # lead of 建設課
SOUMU = [f"@soumu{n}:{SERVER}" for n in range(1, 4)]
KENSETSU = [f"@kensetsu{n}:{SERVER}" for n in range(1, 3)]
STAFF = SOUMU + KENSETSU
STRANGER = f"@visitor:{SERVER}"
CATALOG = Catalog.load()
# the VXSE53 drill sample: 2009-10-01 13:45, 焼津市 (2221200) 震度5弱, 熱海市 震度4
QUAKE_DRILL = (SAMPLES / "jma" / "32-35_01_03_240613_VXSE53.xml").read_bytes()
QUAKE = QUAKE_DRILL.replace("<Status>訓練</Status>".encode(), "<Status>通常</Status>".encode())
NOW = datetime(2009, 10, 1, 13, 55, tzinfo=TOKYO)


def quake(event_id: str = "20091001134500", intensity: str = "5-", *, drill: bool = False) -> Alert:
    doc = QUAKE_DRILL if drill else QUAKE
    doc = doc.replace(b"20091001134500", event_id.encode())
    if event_id != "20091001134500":  # another message: its own serial
        doc = doc.replace(b"<Serial>1</Serial>", f"<Serial>{event_id[-6:-2]}</Serial>".encode())
    if intensity != "5-":
        doc = doc.replace(b">5-<", f">{intensity}<".encode())
    return parse_alert_document(doc)[0]


def make_config(tmp_path: Path, city: str = "2221200", **rollcall: Any) -> Config:
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
        "bots": {"alerts": {**bot_config(BOT, "alerts"), "features": ["alerts", "rollcall"]}},
        "departments": [
            {"id": "soumu", "name": {"ja": "総務課"}, "leads": [KACHO], "staff": SOUMU},
            {"id": "kensetsu", "name": {"ja": "建設課"}, "leads": [BUCHO], "staff": KENSETSU},
        ],
        "alerts": {"city_codes": [city], "office_room": OFFICE},
        "outbound": {
            "endpoints": [{"id": "sms", "url": "https://sms.city.example.jp/", "secret": "s"}]
        },
        "rollcall": {
            "triggers": [{"min_intensity": "5-"}],
            "resend_every": "10m",
            "resend_times": 2,
            "escalate_after": 1,
            "gateway": "sms",
            "retention": "30d",
            **rollcall,
        },
        "staffing": {
            "levels": [
                {
                    "id": "chui",
                    "name": {"ja": "注意体制", "en": "Caution"},
                    "report_to": {"ja": "防災危機管理課"},
                    "departments": ["soumu"],
                    "triggers": [{"min_intensity": "4"}],
                },
                {
                    "id": "keikai",
                    "name": {"ja": "警戒体制", "en": "Alert"},
                    "report_to": {"ja": "本庁舎3階 災害対策室"},
                    "departments": ["soumu", "kensetsu"],
                    "triggers": [{"min_intensity": "5-"}],
                },
            ]
        },
    }
    return parse_config(data, base_dir=tmp_path, env={})


def asked(sent: Any) -> str:
    """The person a question went to (keys: rollcall:N:ask:KIND:USER:ROUND)."""
    return str(sent.key.split(":ask:")[1].split(":", 1)[1].rsplit(":", 1)[0])


@dataclass
class World:
    service: RollCallService
    messenger: FakeMessenger
    store: RollCallStore
    db: Database
    config: Config

    def questions(self, kind: Kind = Kind.ANPI) -> list[Any]:
        return [s for s in self.messenger.sent if f":ask:{kind.value}:" in s.key]

    def question_to(self, user: str, round_: int = 1) -> Any:
        found = [s for s in self.questions() if s.key.endswith(f":{user}:{round_}")]
        assert len(found) == 1, f"{user} round {round_}: {[s.key for s in self.questions()]}"
        return found[0]

    def status_text(self, call_id: int = 1) -> str:
        """A roll call's tally as it stands: the last edit, or the message itself."""
        key = f"rollcall:{call_id}:status"
        edits = [e for e in self.messenger.edits if e.key.startswith(key)]
        if edits:
            return str(edits[-1].content["body"])
        sent = [s for s in self.messenger.sent if s.key == key]
        return str(sent[-1].content["body"])

    async def answer(self, user: str, now: datetime = NOW, **how: Any) -> bool:
        room = self.messenger.direct[user]
        self.counter = getattr(self, "counter", 0) + 1
        return await self.service.answer(room, user, f"$answer{self.counter}", now, **how)


def make_world(
    db: Database, tmp_path: Path, messenger: FakeMessenger | None = None, **kw: Any
) -> World:
    config = make_config(tmp_path, **kw)

    async def resolve(ref: str) -> str | None:
        return OFFICE if ref in (OFFICE, f"#bousai:{SERVER}") else None

    messenger = messenger or FakeMessenger(BOT)
    store = RollCallStore(db)
    service = RollCallService(
        store, messenger, CATALOG, config, resolve, AuditLog(db, NOW.timestamp)
    )
    return World(service, messenger, store, db, config)


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    return make_world(db, tmp_path)


async def open_call(w: World, kind: Kind = Kind.ANPI) -> Any:
    calls = await w.store.open_calls(kind)
    assert len(calls) == 1
    return calls[0]


# --- starting ------------------------------------------------------------------------------


async def test_the_drill_sample_starts_a_drill_roll_call_marked_in_every_message(
    world: World,
) -> None:
    await world.service.on_alert(quake(drill=True), NOW)
    await world.service.run_due(NOW)

    call = await open_call(world)
    assert call.drill and call.state is State.RUNNING
    assert sorted(world.messenger.direct_created) == sorted(STAFF)
    for user in STAFF:
        question = world.question_to(user)
        assert question.room_id == world.messenger.direct[user]
        assert question.event_type == POLL_START
        assert question.content["body"].startswith("【訓練】")
        assert question.content["m.mentions"] == {"user_ids": [user]}
        poll = question.content[POLL_START]
        assert [a["id"] for a in poll["answers"]] == ["1", "2", "3", "4", "5"]
    assert world.status_text().startswith("【訓練】")
    assert "回答 0/5" in world.status_text()


async def test_a_real_copy_starts_a_real_roll_call(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    call = await open_call(world)
    assert not call.drill
    assert "【訓練】" not in world.question_to(SOUMU[0]).content["body"]


async def test_an_alert_below_the_trigger_in_the_citys_own_area_starts_nothing(
    db: Database, tmp_path: Path
) -> None:
    w = make_world(db, tmp_path, city="2220500")  # 熱海市: 震度4 in the same quake
    await w.service.on_alert(quake(), NOW)
    await w.service.run_due(NOW)
    assert await w.store.open_calls(Kind.ANPI) == []
    assert w.questions() == [] or all("ask" in s.key for s in w.questions())
    # 震度4 in the city still raises 注意体制 (its trigger is 4)
    staffing = await open_call(w, Kind.STAFFING)
    assert staffing.level == "chui"


async def test_the_same_alert_twice_starts_one_roll_call(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.on_alert(quake(), NOW + timedelta(seconds=5))
    assert len(await world.store.latest(Kind.ANPI)) == 1


async def test_drills_can_be_turned_off(db: Database, tmp_path: Path) -> None:
    w = make_world(db, tmp_path, drills=False)
    await w.service.on_alert(quake(drill=True), NOW)
    assert await w.store.latest(Kind.ANPI) == []


# --- answers -------------------------------------------------------------------------------


async def test_answers_by_reaction_reply_and_poll_are_tallied_and_edit_the_status(
    world: World,
) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    q = {user: world.question_to(user).event_id for user in STAFF}

    assert await world.answer(SOUMU[0], reaction="1\ufe0f\u20e3", relates_to=q[SOUMU[0]])
    assert await world.answer(SOUMU[1], text="3 足をけがしました", relates_to=q[SOUMU[1]])
    assert await world.answer(KENSETSU[0], poll=["5"], relates_to=q[KENSETSU[0]])
    assert await world.answer(KENSETSU[1], text="無事です。出勤できません")
    await world.service.run_due(NOW)

    call = await open_call(world)
    people = {t.user_id: t for t in await world.store.targets(call.id)}
    assert (people[SOUMU[0]].safety, people[SOUMU[0]].attendance) == (Safety.SAFE, Attendance.YES)
    assert people[SOUMU[1]].safety is Safety.MINOR and people[SOUMU[1]].note == "足をけがしました"
    assert people[KENSETSU[0]].safety is Safety.SERIOUS
    assert people[KENSETSU[1]].attendance is Attendance.NO
    assert not people[SOUMU[2]].answered
    status = world.status_text()
    assert "回答 4/5" in status and "無事 2" in status and "軽傷 1" in status
    assert "重傷 1" in status and "未回答 1" in status
    assert "総務課" in status and "建設課" in status
    assert "足をけが" not in status  # notes are for the officers' CSV only
    # each answer got a receipt in its direct room
    receipts = [s for s in world.messenger.sent if ":answer:" in s.key]
    assert len(receipts) == 4
    assert all(r.room_id in world.messenger.direct.values() for r in receipts)


async def test_a_later_answer_replaces_the_earlier_one(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    await world.answer(SOUMU[0], text="無事")
    await world.answer(SOUMU[0], text="出勤できます")
    await world.answer(SOUMU[0], poll=["4"])
    call = await open_call(world)
    target = await world.store.target(call.id, SOUMU[0])
    assert target is not None
    assert (target.safety, target.attendance) == (Safety.MINOR, Attendance.NO)


async def test_words_that_are_no_answer_get_help_and_change_nothing(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    assert await world.answer(SOUMU[0], text="家族を探しています")
    call = await open_call(world)
    target = await world.store.target(call.id, SOUMU[0])
    assert target is not None and not target.answered
    assert "読み取れません" in world.messenger.sent[-1].content["body"]
    # after an answer, words alone become the note
    await world.answer(SOUMU[0], text="1")
    await world.answer(SOUMU[0], text="家族も無事でした")
    target = await world.store.target(call.id, SOUMU[0])
    assert target is not None and target.safety is Safety.SAFE
    assert target.note == "家族も無事でした"


async def test_an_unrelated_emoji_is_no_answer(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    before = len(world.messenger.sent)
    assert not await world.answer(SOUMU[0], reaction="🎉")
    assert len(world.messenger.sent) == before


async def test_someone_not_on_the_roster_is_told_and_nothing_changes(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    dm = f"!dm-visitor:{SERVER}"
    world.messenger.room_members[dm] = [BOT, STRANGER]
    assert await world.service.answer(dm, STRANGER, "$x", NOW, text="無事")
    assert "名簿に載っていません" in world.messenger.sent[-1].content["body"]
    call = await open_call(world)
    assert STRANGER not in [t.user_id for t in await world.store.targets(call.id)]


async def test_messages_in_other_rooms_are_not_answers(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    world.messenger.room_members[OFFICE] = [BOT, SOUMU[0], SOUMU[1], KACHO]
    before = len(world.messenger.sent)
    assert not await world.service.answer(OFFICE, SOUMU[0], "$y", NOW, text="無事")
    assert len(world.messenger.sent) == before


async def test_an_answer_to_a_closed_roll_call_is_refused(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    call = await world.service.close(OFFICER, NOW)
    assert await world.answer(SOUMU[0], text="無事")
    assert "終了しています" in world.messenger.sent[-1].content["body"]
    target = await world.store.target(call.id, SOUMU[0])
    assert target is not None and not target.answered


# --- re-sends and escalation ---------------------------------------------------------------


async def test_non_responders_are_asked_again_then_their_lead_is_told_and_the_gateway(
    world: World,
) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    await world.answer(SOUMU[0], text="1")
    await world.answer(KENSETSU[0], text="1")

    await world.service.run_due(NOW + timedelta(minutes=5))  # not yet
    assert len(world.questions()) == 5
    await world.service.run_due(NOW + timedelta(minutes=10))
    again = [s for s in world.questions() if s.key.endswith(":2")]
    assert sorted(asked(s) for s in again) == sorted([SOUMU[1], SOUMU[2], KENSETSU[1]])
    assert "再送" in again[0].content["body"]

    # escalate_after 1: after the first re-send, each department's lead is told once
    to_kacho = [s for s in world.messenger.sent if s.key.startswith("rollcall:1:lead:soumu:")]
    to_bucho = [s for s in world.messenger.sent if s.key.startswith("rollcall:1:lead:kensetsu:")]
    assert len(to_kacho) == 1 and len(to_bucho) == 1
    assert SOUMU[1] in to_kacho[0].content["body"] and SOUMU[2] in to_kacho[0].content["body"]
    assert SOUMU[0] not in to_kacho[0].content["body"]
    assert KENSETSU[1] in to_bucho[0].content["body"]
    rows = await world.db.fetchall(
        "SELECT user_id, payload FROM rollcall_events WHERE rollcall_id = 1 ORDER BY user_id"
    )
    assert sorted(r[0] for r in rows) == sorted([SOUMU[1], SOUMU[2], KENSETSU[1]])
    payload = json.loads(rows[0][1])
    assert payload["type"] == "anpi.question" and "安否" in payload["text"]

    # resend_times 2: one more re-send, then no more; the leads are not told twice
    await world.service.run_due(NOW + timedelta(minutes=20))
    await world.service.run_due(NOW + timedelta(minutes=30))
    await world.service.run_due(NOW + timedelta(hours=3))
    assert len([s for s in world.questions() if s.key.endswith(":3")]) == 3
    assert not [s for s in world.questions() if s.key.endswith(":4")]
    assert len([s for s in world.messenger.sent if s.key.startswith("rollcall:1:lead:")]) == 2


async def test_a_drill_never_goes_to_the_gateway(world: World) -> None:
    await world.service.on_alert(quake(drill=True), NOW)
    await world.service.run_due(NOW)
    await world.service.run_due(NOW + timedelta(minutes=10))
    assert KACHO in world.messenger.direct  # leads are still told in the chat
    assert await world.db.fetchall("SELECT id FROM rollcall_events") == []


# --- restarts ------------------------------------------------------------------------------


async def test_a_restart_loses_no_answer_and_asks_no_one_twice(
    db: Database, tmp_path: Path
) -> None:
    first = make_world(db, tmp_path)
    await first.service.on_alert(quake(), NOW)
    await first.service.run_due(NOW)
    await first.answer(SOUMU[0], text="1")
    await first.service.run_due(NOW)  # its receipt

    # a new process: the same store and the homeserver's memory of txn ids (the ledger)
    second = make_world(db, tmp_path, messenger=first.messenger)
    second.service.store = RollCallStore(db)
    sent = len(first.messenger.sent)
    await second.service.run_due(NOW + timedelta(minutes=1))
    assert len(first.messenger.sent) == sent  # nothing new was due
    call = await open_call(second)
    target = await second.store.target(call.id, SOUMU[0])
    assert target is not None and target.safety is Safety.SAFE


async def test_a_crash_between_sending_and_recording_sends_once(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    # the question to one person went out, but the process died before it was recorded
    call = await open_call(world)
    room = await world.messenger.direct_room(SOUMU[0])
    assert room is not None
    await world.messenger.send(room, {"body": "q"}, f"rollcall:{call.id}:ask:{SOUMU[0]}:1")
    await world.service.run_due(NOW)
    assert len([s for s in world.questions() if SOUMU[0] in s.key]) == 1
    target = await world.store.target(call.id, SOUMU[0])
    assert target is not None and target.rounds == 1


async def test_people_whose_direct_room_is_not_ready_are_asked_when_it_is(world: World) -> None:
    world.messenger.direct_unready.add(SOUMU[0])
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    assert world.service.waiting == 2  # the roll call and the staffing call
    assert len(world.questions()) == 4
    world.messenger.direct_unready.clear()
    await world.service.run_due(NOW + timedelta(seconds=1))
    assert world.service.waiting == 0
    world.question_to(SOUMU[0])


# --- close, export, retention --------------------------------------------------------------


async def test_close_exports_a_csv_to_the_officers_room_only(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    await world.answer(SOUMU[0], text="1")
    await world.answer(SOUMU[1], text="3 足首を捻挫")
    await world.answer(KENSETSU[0], text="=1+1 重傷")
    call = await world.service.close(OFFICER, NOW + timedelta(hours=1))

    assert len(world.messenger.uploads) == 1
    room, data, filename, mimetype, _ = world.messenger.uploads[0]
    assert room == OFFICE and mimetype == "text/csv" and filename.startswith(f"anpi-{call.id}-")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:6] == ["安否確認No", "部署", "ユーザーID", "氏名", "安否", "出勤・参集"]
    by_user = {r[2]: r for r in rows[1:]}
    assert set(by_user) == set(STAFF)
    assert by_user[SOUMU[0]][4:6] == ["無事", "出勤可能"]
    assert by_user[SOUMU[1]][4:7] == ["軽傷", "出勤可能", "足首を捻挫"]
    assert by_user[KENSETSU[0]][4] == "重傷"
    assert by_user[KENSETSU[0]][6] == "'=1+1 重傷"  # no formula in a spreadsheet
    assert by_user[SOUMU[2]][4] == "" and by_user[SOUMU[2]][7] == ""
    assert (await world.store.get(call.id)).state is State.CLOSED  # type: ignore[union-attr]
    await world.service.run_due(NOW + timedelta(hours=1))
    assert "状態: 終了" in world.status_text()


async def test_answers_are_deleted_after_the_retention_period(world: World) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    await world.answer(SOUMU[0], text="1")
    call = await world.service.close(OFFICER, NOW)
    await world.service.run_due(NOW + timedelta(days=29))
    assert len(await world.store.targets(call.id)) == 5
    await world.service.run_due(NOW + timedelta(days=31))
    assert await world.store.targets(call.id) == []
    assert await world.db.fetchall("SELECT 1 FROM rollcall_questions WHERE rollcall_id = 1") == []
    assert await world.store.get(call.id) is not None  # that it happened is kept


# --- holds, stops, aftershocks -------------------------------------------------------------


async def test_a_hold_lets_an_officer_stop_a_false_report(db: Database, tmp_path: Path) -> None:
    w = make_world(db, tmp_path, hold="5m")
    await w.service.on_alert(quake(), NOW)
    await w.service.run_due(NOW)
    call = await open_call(w)
    assert call.state is State.HELD and w.questions() == []
    assert "!安否 中止" in w.status_text()
    await w.service.stop(OFFICER, NOW + timedelta(minutes=2))
    await w.service.run_due(NOW + timedelta(minutes=10))
    assert w.questions() == []
    assert (await w.store.get(call.id)).state is State.STOPPED  # type: ignore[union-attr]


async def test_after_the_hold_everyone_is_asked(db: Database, tmp_path: Path) -> None:
    w = make_world(db, tmp_path, hold="5m")
    await w.service.on_alert(quake(), NOW)
    await w.service.run_due(NOW + timedelta(minutes=4))
    assert w.questions() == []
    await w.service.run_due(NOW + timedelta(minutes=5))
    assert len(w.questions()) == 5


async def test_a_cancel_of_the_alert_stops_a_held_roll_call(db: Database, tmp_path: Path) -> None:
    w = make_world(db, tmp_path, hold="5m")
    alert = quake()
    await w.service.on_alert(alert, NOW)
    cancel = QUAKE.replace(
        "<InfoType>発表</InfoType>".encode(), "<InfoType>取消</InfoType>".encode()
    )
    cancelled = parse_alert_document(cancel)[0]
    await w.service.on_alert(cancelled, NOW + timedelta(minutes=1))
    await w.service.run_due(NOW + timedelta(minutes=10))
    assert w.questions() == []
    assert await w.store.open_calls(Kind.ANPI) == []
    log = AuditLog(db, NOW.timestamp)
    assert [(e.actor, e.action, e.room_id, e.result) for e in await log.entries(action="anpi")] == [
        (f"alert:{message_id(alert)}", "anpi start", OFFICE, "ok"),
        (f"alert:{message_id(cancelled)}", "anpi stop", OFFICE, "ok"),
    ]
    assert await log.verify() is None


async def test_an_aftershock_joins_the_running_roll_call_unless_it_is_stronger(
    world: World,
) -> None:
    await world.service.on_alert(quake(), NOW)
    await world.service.run_due(NOW)
    first = await open_call(world)
    await world.service.on_alert(quake("20091001140000"), NOW + timedelta(minutes=15))
    assert (await open_call(world)).id == first.id
    await world.service.run_due(NOW + timedelta(minutes=16))
    assert "余震 1 件" in world.status_text()

    await world.service.on_alert(quake("20091001150000", "6-"), NOW + timedelta(hours=1))
    second = await open_call(world)
    assert second.id != first.id
    assert (await world.store.get(first.id)).state is State.SUPERSEDED  # type: ignore[union-attr]
    await world.service.run_due(NOW + timedelta(hours=1))
    # everyone is asked anew, about the stronger quake
    fresh = [s for s in world.questions() if s.key.startswith(f"rollcall:{second.id}:")]
    assert sorted(asked(s) for s in fresh) == sorted(STAFF)


async def test_a_manual_start_while_one_runs_is_refused(world: World) -> None:
    number = await world.service.start(OFFICER, "訓練", True, NOW)
    with pytest.raises(CommandError) as raised:
        await world.service.start(OFFICER, "もう一つ", False, NOW)
    assert raised.value.key == "rollcall.error.running"
    assert [c.id for c in await world.store.latest(Kind.ANPI)] == [number]


# --- staffing levels -----------------------------------------------------------------------


async def test_an_alert_raises_the_highest_staffing_level_it_meets(world: World) -> None:
    alert = quake()
    await world.service.on_alert(alert, NOW)
    await world.service.run_due(NOW)
    call = await open_call(world, Kind.STAFFING)
    assert call.level == "keikai"
    log = AuditLog(world.db, NOW.timestamp)
    (raised,) = await log.entries(action="alert level")
    assert (raised.actor, raised.result) == (f"alert:{message_id(alert)}", "ok")
    assert raised.room_id == OFFICE
    assert raised.detail == f"#{call.id} keikai {alert.title}"
    assert await log.verify() is None
    asks = [s for s in world.questions(Kind.STAFFING) if s.key.startswith(f"rollcall:{call.id}:")]
    assert sorted(asked(s) for s in asks) == sorted(STAFF)
    body = asks[0].content["body"]
    assert "警戒体制" in body and "本庁舎3階 災害対策室" in body
    assert [a["id"] for a in asks[0].content[POLL_START]["answers"]] == ["1", "2"]


async def test_a_manual_level_raise_calls_in_its_departments_and_ack_is_tallied(
    world: World,
) -> None:
    number = await world.service.raise_level("注意体制", OFFICER, False, NOW)
    await world.service.run_due(NOW)
    asks = [s for s in world.questions(Kind.STAFFING) if s.key.startswith(f"rollcall:{number}:")]
    assert sorted(asked(s) for s in asks) == sorted(SOUMU)
    await world.answer(SOUMU[0], text="了解、向かいます")
    await world.answer(SOUMU[1], reaction="👍")
    await world.answer(SOUMU[2], text="参集できません")
    await world.service.run_due(NOW)
    assert "参集可 2" in world.status_text() and "参集不可 1" in world.status_text()
    with pytest.raises(CommandError):
        await world.service.raise_level("注意体制", OFFICER, False, NOW)
    higher = await world.service.raise_level("keikai", OFFICER, False, NOW)
    assert (await world.store.get(number)).state is State.SUPERSEDED  # type: ignore[union-attr]
    assert higher != number


async def test_an_unknown_level_names_the_configured_ones(world: World) -> None:
    with pytest.raises(CommandError) as raised:
        await world.service.raise_level("非常体制", OFFICER, False, NOW)
    assert raised.value.params["levels"] == "注意体制・警戒体制"


async def test_a_receipt_owed_when_the_process_stopped_is_sent_after_the_restart(
    db: Database, tmp_path: Path
) -> None:
    first = make_world(db, tmp_path)
    await first.service.on_alert(quake(), NOW)
    await first.service.run_due(NOW)
    await first.answer(SOUMU[0], text="1")
    await first.answer(SOUMU[0], text="3 ねんざ")  # a second answer before any receipt

    second = make_world(db, tmp_path, messenger=first.messenger)
    await second.service.run_due(NOW + timedelta(seconds=1))
    receipts = [s for s in first.messenger.sent if s.key.startswith("rollcall:answer:")]
    assert len(receipts) == 1  # one receipt, for what stands: the second answer
    assert "軽傷" in receipts[0].content["body"]
    await second.service.run_due(NOW + timedelta(seconds=2))
    assert len([s for s in first.messenger.sent if s.key.startswith("rollcall:answer:")]) == 1


async def test_the_tally_is_edited_at_most_every_status_every_s(
    db: Database, tmp_path: Path
) -> None:
    w = make_world(db, tmp_path)
    ticks = [100.0]
    w.service.passes.status_every_s = 2.0
    w.service.passes._monotonic = lambda: ticks[0]
    await w.service.on_alert(quake(), NOW)
    await w.service.run_due(NOW)  # the tally is posted
    for user in SOUMU:
        await w.answer(user, text="1")
        await w.service.run_due(NOW)
    edits = [e for e in w.messenger.edits if e.key.startswith("rollcall:1:status")]
    assert edits == []  # all within 2 s of the post: waiting
    assert w.service.waiting >= 1
    ticks[0] += 2.0
    await w.service.run_due(NOW)
    edits = [e for e in w.messenger.edits if e.key.startswith("rollcall:1:status")]
    assert len(edits) == 1 and "回答 3/5" in edits[0].content["body"]
