"""The alert workflow (bots/alerts/service.py) on a real store and a recording messenger:
routing to rooms, pins, duplicates, updates, cancels (also before their original),
drills, expiry, JMA 取消 and 解除, and a fan-out that resumes after a failed send."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bots.alerts.service import AlertService, Outcome
from bots.alerts.store import AlertStore
from bots.config import parse_config
from bots.i18n import Catalog
from bots.store.database import Database
from tests.samples import SAMPLES
from tests.unit.fakes import SERVER, FakeMessenger, bot_config

pytestmark = pytest.mark.postgresql

assert SAMPLES.is_dir(), f"samples not found at {SAMPLES}"

BOT = f"@alerts:{SERVER}"
ALL = f"!bousai:{SERVER}"  # 防災: every alert
COUNTY = f"!kensetsu:{SERVER}"  # 建設: the thunderstorm's SAME geocode 006109
CITY = f"!soumu:{SERVER}"  # 総務: the city's own areas (鹿児島市 / 浜田市)
DRILLS = f"!kunren:{SERVER}"  # 訓練
ROOMS = {
    f"#bousai:{SERVER}": ALL,
    f"#kensetsu:{SERVER}": COUNTY,
    f"#soumu:{SERVER}": CITY,
    f"#kunren:{SERVER}": DRILLS,
}
CATALOG = Catalog.load()
PDT = timezone(timedelta(hours=-7))
# the thunderstorm sample: sent 14:57, expires 16:00 (PDT)
SENT = datetime(2003, 6, 17, 14, 57, tzinfo=PDT)
NOW = datetime(2003, 6, 17, 15, 0, tzinfo=PDT)
LATER = datetime(2003, 6, 17, 16, 30, tzinfo=PDT)
THUNDERSTORM = (SAMPLES / "cap" / "thunderstorm.cap").read_bytes()
SENDER = "KSTO@NWS.NOAA.GOV"
IDENTIFIER = "KSTO1055887203"


@dataclass
class FlakyMessenger(FakeMessenger):
    """A FakeMessenger whose sends to the rooms in `down` are queued (None)."""

    down: set[str] = field(default_factory=set)

    async def send(
        self, room_id: str, content: dict[str, Any], key: str, event_type: str = "m.room.message"
    ) -> str | None:
        if room_id in self.down:
            return None
        return await super().send(room_id, content, key, event_type)


@dataclass
class World:
    service: AlertService
    messenger: FlakyMessenger
    store: AlertStore
    db: Database

    async def ingest(self, document: bytes, now: datetime = NOW) -> list[Outcome]:
        return await self.service.ingest_document(document, now)

    def sent_to(self, room: str) -> list[str]:
        return [s.event_id for s in self.messenger.sent if s.room_id == room]

    def bodies(self) -> list[str]:
        return [s.content["body"] for s in self.messenger.sent] + [
            e.content["body"] for e in self.messenger.edits
        ]


def make_world(db: Database, tmp_path: Path, **alerts: Any) -> World:
    settings: dict[str, Any] = {
        "city_codes": ["4620100", "3220200"],  # 鹿児島市, 浜田市 (as the samples name them)
        "routes": [
            {"room": f"#bousai:{SERVER}", "areas": "any"},
            {"room": f"#kensetsu:{SERVER}", "areas": ["006109"]},
            {"room": f"#soumu:{SERVER}", "areas": "city"},
        ],
        "pin_level": "warning",
        **alerts,
    }
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": SERVER},
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "bots": {"alerts": bot_config(BOT, "alerts")},
        "alerts": settings,
    }
    config = parse_config(data, base_dir=tmp_path, env={})

    async def resolve(ref: str) -> str | None:
        return ref if ref.startswith("!") else ROOMS.get(ref)

    messenger = FlakyMessenger(BOT)
    store = AlertStore(db)
    return World(AlertService(store, messenger, CATALOG, config, resolve), messenger, store, db)


@pytest.fixture
def world(db: Database, tmp_path: Path) -> World:
    return make_world(db, tmp_path)


def cap(
    identifier: str = IDENTIFIER,
    *,
    msg_type: str = "Alert",
    status: str = "Actual",
    severity: str = "Severe",
    sent: datetime = SENT,
    references: tuple[str, ...] = (),
    headline: str = "SEVERE THUNDERSTORM WARNING",
    geocode: str = "006109",
    expires: datetime | None = None,
) -> bytes:
    """The thunderstorm sample with these values swapped in."""
    text = THUNDERSTORM
    text = text.replace(f">{IDENTIFIER}<".encode(), f">{identifier}<".encode())
    text = text.replace(b"<msgType>Alert</msgType>", f"<msgType>{msg_type}</msgType>".encode())
    text = text.replace(b"<status>Actual</status>", f"<status>{status}</status>".encode())
    text = text.replace(b"<severity>Severe</severity>", f"<severity>{severity}</severity>".encode())
    text = text.replace(b"2003-06-17T14:57:00-07:00", sent.isoformat().encode())
    text = text.replace(b">SEVERE THUNDERSTORM WARNING<", f">{headline}<".encode())
    text = text.replace(b"<value>006109</value>", f"<value>{geocode}</value>".encode())
    if expires is not None:
        text = text.replace(b"2003-06-17T16:00:00-07:00", expires.isoformat().encode())
    if references:
        refs = " ".join(references)
        text = text.replace(
            b"<scope>Public</scope>",
            f"<scope>Public</scope><references>{refs}</references>".encode(),
        )
    return text


def ref(identifier: str = IDENTIFIER, sent: datetime = SENT) -> str:
    return f"{SENDER},{identifier},{sent.isoformat()}"


def cancel(*refs: str, identifier: str = "KSTO1055887299") -> bytes:
    return cap(
        identifier,
        msg_type="Cancel",
        sent=SENT + timedelta(minutes=10),
        references=refs or (ref(),),
    )


async def thread_state(w: World, key: str) -> str | None:
    thread = await w.store.get_thread(key)
    return thread.state if thread else None


THREAD = f"cap:{SENDER}|{IDENTIFIER}"


# --- a new alert -------------------------------------------------------------------------


async def test_a_new_alert_is_one_message_per_routed_room_pinned_and_notifying(
    world: World,
) -> None:
    assert await world.ingest(cap()) == [Outcome("routed", rooms=2)]
    assert sorted(s.room_id for s in world.messenger.sent) == sorted([ALL, COUNTY])
    for sent in world.messenger.sent:
        assert "SEVERE THUNDERSTORM WARNING" in sent.content["body"]
        assert sent.content["m.mentions"] == {"room": True}  # severe: @room
    assert world.messenger.pinned == {ALL: world.sent_to(ALL), COUNTY: world.sent_to(COUNTY)}
    assert world.messenger.edits == []
    assert await world.store.pending_deliveries() == []
    assert await thread_state(world, THREAD) == "active"


async def test_below_the_pin_level_nothing_is_pinned_or_notified(world: World) -> None:
    assert await world.ingest(cap(severity="Minor")) == [Outcome("routed", rooms=2)]
    assert len(world.messenger.sent) == 2
    for sent in world.messenger.sent:
        assert "room" not in sent.content["m.mentions"]
    assert world.messenger.pins == []


async def test_a_room_whose_alias_does_not_resolve_is_skipped(db: Database, tmp_path: Path) -> None:
    w = make_world(
        db,
        tmp_path,
        routes=[
            {"room": f"#nowhere:{SERVER}", "areas": "any"},
            {"room": f"#bousai:{SERVER}", "areas": "any"},
        ],
    )
    assert await w.ingest(cap()) == [Outcome("routed", rooms=1)]
    assert [s.room_id for s in w.messenger.sent] == [ALL]


async def test_the_same_document_twice_is_a_duplicate(world: World) -> None:
    await world.ingest(cap())
    sent, pins = list(world.messenger.sent), list(world.messenger.pins)
    assert await world.ingest(cap()) == [Outcome("duplicate")]
    assert await world.ingest(cap(), NOW + timedelta(minutes=5)) == [Outcome("duplicate")]
    assert world.messenger.sent == sent
    assert world.messenger.edits == []
    assert world.messenger.pins == pins


# --- updates and cancels -----------------------------------------------------------------


async def test_an_update_edits_each_rooms_message(world: World) -> None:
    await world.ingest(cap())
    originals = {s.room_id: s.event_id for s in world.messenger.sent}
    update = cap(
        "KSTO1055887204",
        msg_type="Update",
        sent=SENT + timedelta(minutes=5),
        references=(ref(),),
        headline="SEVERE THUNDERSTORM WARNING EXTENDED",
    )
    assert await world.ingest(update) == [Outcome("routed", rooms=2)]
    assert len(world.messenger.sent) == 2  # no new sends
    assert sorted((e.room_id, e.target) for e in world.messenger.edits) == sorted(originals.items())
    for edit in world.messenger.edits:
        assert "EXTENDED" in edit.content["body"]
    assert world.messenger.unpins == []  # still severe and active
    assert await thread_state(world, THREAD) == "active"


async def test_a_cancel_marks_each_message_and_unpins_it(world: World) -> None:
    await world.ingest(cap())
    originals = {s.room_id: s.event_id for s in world.messenger.sent}
    assert await world.ingest(cancel()) == [Outcome("routed", rooms=2)]
    assert len(world.messenger.sent) == 2
    assert sorted((e.room_id, e.target) for e in world.messenger.edits) == sorted(originals.items())
    for edit in world.messenger.edits:
        assert "【取消】" in edit.content["body"]
        assert "room" not in edit.content["m.mentions"]
    assert sorted(world.messenger.unpins) == sorted(originals.items())
    assert world.messenger.pinned == {ALL: [], COUNTY: []}
    assert await thread_state(world, THREAD) == "withdrawn"


async def test_a_cancel_before_its_original_keeps_the_original_from_being_posted(
    world: World,
) -> None:
    assert await world.ingest(cancel()) == [Outcome("routed", rooms=0)]
    assert world.messenger.sent == [] and world.messenger.edits == []
    assert await world.ingest(cap()) == [
        Outcome("cancelled-early", reason="a Cancel for it arrived first")
    ]
    assert world.messenger.sent == [] and world.messenger.edits == []
    assert world.messenger.pins == []
    assert await world.store.pending_deliveries() == []


async def test_a_cancel_of_two_alerts_withdraws_both_messages_in_a_shared_room(
    world: World,
) -> None:
    second = "KSTO1055887205"
    await world.ingest(cap())
    await world.ingest(cap(second, headline="SECOND STORM"))
    assert len(world.sent_to(ALL)) == 2
    await world.ingest(cancel(ref(), ref(second)))
    edited = {e.target for e in world.messenger.edits if e.room_id == ALL}
    assert edited == set(world.sent_to(ALL))  # both messages say 【取消】
    assert world.messenger.pinned[ALL] == []
    assert await thread_state(world, f"cap:{SENDER}|{second}") == "withdrawn"


async def test_a_cancel_of_two_alerts_posts_nothing_new(world: World) -> None:
    # the first alert reached only 防災; the second also 建設
    second = "KSTO1055887205"
    await world.ingest(cap(geocode="006001"))
    await world.ingest(cap(second, headline="SECOND STORM"))
    assert len(world.sent_to(ALL)) == 2 and len(world.sent_to(COUNTY)) == 1
    await world.ingest(cancel(ref(), ref(second)))
    # 建設 never saw the first alert: it must not get a new message about it now
    assert len(world.sent_to(COUNTY)) == 1
    assert len(world.messenger.sent) == 3


async def test_an_ack_is_not_an_alert(world: World) -> None:
    ack = cap("KSTO1055887206", msg_type="Ack", references=(ref(),))
    (outcome,) = await world.ingest(ack)
    assert outcome.result == "not-an-alert"
    assert world.messenger.sent == []


# --- status, drills and expiry -----------------------------------------------------------


async def test_an_exercise_is_dropped_by_default(world: World) -> None:
    (outcome,) = await world.ingest(cap(status="Exercise"))
    assert outcome.result == "ignored"
    assert world.messenger.sent == []
    assert await world.store.pending_deliveries() == []


async def test_an_exercise_goes_only_to_the_drill_room_marked(db: Database, tmp_path: Path) -> None:
    w = make_world(db, tmp_path, drills={"mode": "room", "room": f"#kunren:{SERVER}"})
    assert await w.ingest(cap(status="Exercise")) == [Outcome("routed", rooms=1)]
    (sent,) = w.messenger.sent
    assert sent.room_id == DRILLS
    assert "【訓練】" in sent.content["body"]


@pytest.mark.parametrize("status", ["System", "Draft"])
async def test_system_and_draft_messages_are_ignored(
    db: Database, tmp_path: Path, status: str
) -> None:
    w = make_world(db, tmp_path, drills={"mode": "room", "room": f"#kunren:{SERVER}"})
    (outcome,) = await w.ingest(cap(status=status))
    assert outcome.result == "ignored"
    assert w.messenger.sent == []


async def test_an_alert_that_expired_before_it_arrived_is_ignored(world: World) -> None:
    (outcome,) = await world.ingest(cap(), LATER)
    assert outcome.result == "ignored"
    assert world.messenger.sent == []
    assert await world.store.get_thread(THREAD) is None


async def test_run_due_ends_an_expired_alert(world: World) -> None:
    await world.ingest(cap())
    originals = {s.room_id: s.event_id for s in world.messenger.sent}
    assert await world.service.run_due(NOW + timedelta(minutes=30)) == 0
    assert world.messenger.edits == []
    assert await world.service.run_due(LATER) == 1
    assert sorted((e.room_id, e.target) for e in world.messenger.edits) == sorted(originals.items())
    for edit in world.messenger.edits:
        assert "【終了】" in edit.content["body"]
    assert world.messenger.pinned == {ALL: [], COUNTY: []}
    assert await thread_state(world, THREAD) == "expired"
    assert await world.service.run_due(LATER + timedelta(hours=1)) == 0
    assert len(world.messenger.edits) == 2


async def test_run_due_ends_two_expired_alerts_in_the_same_room(world: World) -> None:
    second = "KSTO1055887205"
    await world.ingest(cap())
    await world.ingest(cap(second, headline="SECOND STORM", expires=SENT + timedelta(hours=1)))
    assert len(world.sent_to(ALL)) == 2
    assert await world.service.run_due(LATER) == 2
    ended = {e.target for e in world.messenger.edits if "【終了】" in e.content["body"]}
    assert ended == set(world.sent_to(ALL)) | set(world.sent_to(COUNTY))
    assert world.messenger.pinned[ALL] == []


# --- JMA ---------------------------------------------------------------------------------

EARTHQUAKE = (SAMPLES / "jma" / "32-35_04_04_240613_VXSE53.xml").read_bytes()
WARNINGS = (SAMPLES / "jma" / "15_12_01_161130_VPWW53.xml").read_bytes()
JMA_NOW = datetime(2016, 2, 12, 7, 0, tzinfo=UTC)


async def test_a_jma_cancel_withdraws_its_series(world: World) -> None:
    assert await world.ingest(EARTHQUAKE, JMA_NOW) == [Outcome("routed", rooms=2)]
    originals = {s.room_id: s.event_id for s in world.messenger.sent}
    assert set(originals) == {ALL, CITY}
    city_body = next(s.content["body"] for s in world.messenger.sent if s.room_id == CITY)
    assert "最大震度: 3" in city_body  # 鹿児島市's own intensity, not 4
    withdrawal = withdrawn(EARTHQUAKE)
    assert withdrawal != EARTHQUAKE
    assert await world.ingest(withdrawal, JMA_NOW) == [Outcome("routed", rooms=2)]
    assert len(world.messenger.sent) == 2
    assert sorted((e.room_id, e.target) for e in world.messenger.edits) == sorted(originals.items())
    for edit in world.messenger.edits:
        assert "【取消】" in edit.content["body"]
    threads = await world.db.fetchall("SELECT state FROM alert_threads")
    assert [tuple(t) for t in threads] == [("withdrawn",)]


async def test_a_jma_cancel_before_its_report_keeps_it_from_being_posted(world: World) -> None:
    withdrawal = withdrawn(EARTHQUAKE)
    assert await world.ingest(withdrawal, JMA_NOW) == [Outcome("routed", rooms=0)]
    (outcome,) = await world.ingest(EARTHQUAKE, JMA_NOW)
    assert outcome.result == "cancelled-early"
    assert world.messenger.sent == []


def withdrawn(document: bytes) -> bytes:
    """The 取消 of a 発表 (same series: title, editorial office, EventID)."""
    return document.replace(
        "<InfoType>発表</InfoType>".encode(), "<InfoType>取消</InfoType>".encode()
    )


def lift_all(document: bytes) -> bytes:
    """A later 発表 in which every kind of every area says 解除."""
    text = document.decode()
    text = re.sub(r"<Status>(発表|継続)</Status>", "<Status>解除</Status>", text)
    text = text.replace(
        "<DateTime>2016-02-12T06:44:00Z</DateTime>", "<DateTime>2016-02-12T09:00:00Z</DateTime>"
    )
    return text.encode()


async def test_a_jma_warning_with_every_kind_lifted_is_lifted_and_unpinned(world: World) -> None:
    assert await world.ingest(WARNINGS, JMA_NOW) == [Outcome("routed", rooms=2)]
    originals = {s.room_id: s.event_id for s in world.messenger.sent}
    assert set(originals) == {ALL, CITY}  # 浜田市: 大雨特別警報
    assert world.messenger.pinned == {room: [event] for room, event in originals.items()}
    for sent in world.messenger.sent:
        assert sent.content["m.mentions"] == {"room": True}
    lifted = lift_all(WARNINGS)
    (outcome,) = await world.ingest(lifted, JMA_NOW + timedelta(hours=2))
    assert outcome.result == "routed"
    assert len(world.messenger.sent) == 2
    assert {(e.room_id, e.target) for e in world.messenger.edits} == set(originals.items())
    for edit in world.messenger.edits:
        assert "【解除】" in edit.content["body"]
    assert world.messenger.pinned == {ALL: [], CITY: []}
    (thread,) = await world.db.fetchall("SELECT thread, state FROM alert_threads")
    assert thread[1] == "lifted"


# --- a fan-out that fails for one room ----------------------------------------------------


async def test_a_failed_room_stays_pending_and_run_due_delivers_it_once(world: World) -> None:
    world.messenger.down = {COUNTY}
    assert await world.ingest(cap()) == [Outcome("routed", rooms=2)]
    assert [s.room_id for s in world.messenger.sent] == [ALL]
    (pending,) = await world.store.pending_deliveries()
    assert pending[1] == COUNTY
    assert await world.service.run_due(NOW + timedelta(minutes=1)) == 0  # still down
    world.messenger.down = set()
    assert await world.service.run_due(NOW + timedelta(minutes=2)) == 1
    assert sorted(s.room_id for s in world.messenger.sent) == sorted([ALL, COUNTY])
    assert await world.store.pending_deliveries() == []
    assert await world.service.run_due(NOW + timedelta(minutes=3)) == 0
    assert len(world.messenger.sent) == 2
    assert world.messenger.pinned == {ALL: world.sent_to(ALL), COUNTY: world.sent_to(COUNTY)}
    assert world.messenger.edits == []


async def test_active_alerts_are_listed_until_withdrawn(world: World) -> None:
    assert await world.service.active_lines("ja") == []
    await world.ingest(cap())
    (line,) = await world.service.active_lines("ja")
    assert line == "• SEVERE THUNDERSTORM(6月18日(水) 06:57)"  # title, Tokyo time
    await world.ingest(cancel(ref()))
    assert await world.service.active_lines("ja") == []
