"""Announcements on a real Synapse: three rooms (one encrypted), pins, acknowledgements,
status, reminders, expiry, edits, retraction, and a restart before publication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nio import RoomGetStateEventResponse

from bots.announcements.feature import AnnouncementFeature
from bots.demo.synapse import SynapseProcess
from tests.integration.harness import RunningApp, Staff, audited, prepare, unique


def _feature(running: RunningApp) -> AnnouncementFeature:
    assert running.app is not None
    (feature,) = running.app.bots["news"].features
    assert isinstance(feature, AnnouncementFeature)
    return feature


def _body(event: Any) -> str:
    return str(getattr(event, "body", ""))


async def _pins(staff: Staff, room: str) -> list[str]:
    response = await staff.client.room_get_state_event(room, "m.room.pinned_events")
    if not isinstance(response, RoomGetStateEventResponse):
        return []
    return list(response.content.get("pinned", []))


async def _setup(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> tuple[RunningApp, Staff, Staff, Staff, Staff, list[str]]:
    lead = await Staff.create(synapse, unique("kacho"), "pw-lead-1234", tmp_path / "lead")
    a = await Staff.create(synapse, unique("aoki"), "pw-aoki-1234", tmp_path / "a")
    b = await Staff.create(synapse, unique("baba"), "pw-baba-1234", tmp_path / "b")
    c = await Staff.create(synapse, unique("chiba"), "pw-chiba-123", tmp_path / "c")
    bot_local = unique("news")
    bot_id = f"@{bot_local}:{synapse.cfg.server_name}"
    rooms = []
    for encrypted in (True, False, False):
        room = await lead.create_room(
            invite=[bot_id, a.user_id, b.user_id, c.user_id],
            encrypted=encrypted,
            power={bot_id: 100},
        )
        rooms.append(room)
    for staff in (a, b, c):
        for room in rooms:
            await staff.client.join(room)
    running = await prepare(
        synapse,
        admin_token,
        tmp_path,
        {"news": {"localpart": bot_local, "features": ["announcements"]}},
        roles={"announcer": {"users": [lead.user_id]}},
        announcements={
            "groups": [
                {"id": "all", "name": {"ja": "全庁"}, "rooms": rooms, "announcers": [lead.user_id]}
            ],
            "remind_every": "1h",
            "reminders_before_lead": 5,
        },
    )
    await running.start()
    for room in rooms:
        await lead.wait_joined(room, bot_id)
    for staff in (lead, a, b, c):
        await staff.sync()
    return running, lead, a, b, c, rooms


async def test_publish_ack_status_remind_expire_edit_retract(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running, lead, a, b, c, rooms = await _setup(synapse, admin_token, tmp_path)
    bot_id = running.config.bots["news"].user_id
    try:
        # someone else's pin in the first room must be kept
        other = await lead.send(rooms[1], "大事なメモ")
        await lead.client.room_put_state(rooms[1], "m.room.pinned_events", {"pinned": [other]})

        cmd = await lead.send(
            rooms[0],
            "!お知らせ 宛先:全庁 掲載期限:3日後 重要 要確認 年末年始の窓口業務\n"
            "**12月29日から1月3日**まで閉庁します。\n\n- 戸籍: 休み\n- 防災: 通常",
        )
        await lead.wait_for(lambda: bool(lead.replies_to(cmd, bot_id)), "publish reply")
        assert "3 ルーム" in _body(lead.replies_to(cmd, bot_id)[0])
        assert running.app is not None
        db = running.app.db
        (published,) = await audited(db, lead.user_id, "announce")
        assert (published.room_id, published.result) == (rooms[0], "ok")
        feature = _feature(running)
        ann = await feature.service.get(1)
        copies = await feature.service.store.copies(ann.id)
        assert {c_.room_id for c_ in copies} == set(rooms) and all(c_.event_id for c_ in copies)
        for copy in copies:
            pins = await _pins(lead, copy.room_id)
            assert copy.event_id in pins
        assert other in await _pins(lead, rooms[1])

        # every staff member sees it, the encrypted copy decrypted, the HTML rendered
        await a.wait_for(
            lambda: sum("年末年始の窓口業務" in _body(e) for e in a.events_from(bot_id)) == 3,
            "three copies",
        )
        enc = next(e for e in a.events_from(bot_id, rooms[0]) if "年末年始" in _body(e))
        assert enc.decrypted
        content = enc.source["content"]
        assert content["m.mentions"] == {"room": True}
        assert "<strong>12月29日から1月3日</strong>" in content["formatted_body"]

        # a acknowledges by ✅ (encrypted room), b with !了解 replying to the copy
        copy0 = next(c_ for c_ in copies if c_.room_id == rooms[0])
        copy1 = next(c_ for c_ in copies if c_.room_id == rooms[1])
        await a.send_content(
            rooms[0],
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": copy0.event_id, "key": "✅"}},
            "m.reaction",
        )
        ack = await b.send(
            rooms[1], "!了解", **{"m.relates_to": {"m.in_reply_to": {"event_id": copy1.event_id}}}
        )
        await b.wait_for(lambda: bool(b.replies_to(ack, bot_id)), "ack reply")
        status = await lead.send(rooms[0], "!お知らせ 状況 1")
        await lead.wait_for(lambda: bool(lead.replies_to(status, bot_id)), "status reply")
        text = _body(lead.replies_to(status, bot_id)[0])
        c_name = c.client.user_id.split(":")[0][1:]
        assert "未了解" in text and c_name in text
        acked = await feature.service.store.acknowledged_by(ann.id)
        assert acked == {a.user_id, b.user_id}

        # the reminder reaches the one who did not (time chosen, not slept)
        now = datetime.now(UTC)
        assert await feature.service.run_due(now + timedelta(hours=1, minutes=1)) >= 1
        await c.wait_for(
            lambda: any(
                "まだ了解していない" in _body(e)
                and c.user_id in e.source["content"]["m.mentions"].get("user_ids", [])
                for e in c.events_from(bot_id)
            ),
            "the reminder mentioning c",
        )
        reminders = [e for e in c.events_from(bot_id) if "まだ了解していない" in _body(e)]
        assert all(
            a.user_id not in e.source["content"]["m.mentions"].get("user_ids", [])
            for e in reminders
        )

        # an edit changes every copy
        edit = await lead.send(
            rooms[2], "!お知らせ 編集 1 年末年始の窓口業務(訂正)\n閉庁は12月28日から。"
        )
        await lead.wait_for(lambda: bool(lead.replies_to(edit, bot_id)), "edit reply")
        (edited,) = await audited(db, lead.user_id, "announce edit")
        assert (edited.room_id, edited.result) == (rooms[2], "ok")
        await a.wait_for(
            lambda: (
                {
                    r
                    for r in rooms
                    if any(
                        (e.source["content"].get("m.relates_to") or {}).get("rel_type")
                        == "m.replace"
                        and "(訂正)" in _body(e)
                        for e in a.events_from(bot_id, r)
                    )
                }
                == set(rooms)
            ),
            "edits in all three rooms",
        )

        # expiry unpins (time chosen)
        assert await feature.service.run_due(now + timedelta(days=3, minutes=5)) >= 1
        for copy in copies:
            assert copy.event_id not in await _pins(lead, copy.room_id)
        assert other in await _pins(lead, rooms[1])

        # a second announcement, then retraction: redacted everywhere and unpinned
        cmd2 = await lead.send(rooms[0], "!お知らせ 宛先:全庁 訓練のお知らせ\n避難訓練を行います。")
        await lead.wait_for(lambda: bool(lead.replies_to(cmd2, bot_id)), "second publish")
        copies2 = await feature.service.store.copies(2)
        retract = await lead.send(rooms[0], "!お知らせ 取消 2")
        await lead.wait_for(lambda: bool(lead.replies_to(retract, bot_id)), "retract reply")
        (retracted,) = await audited(db, lead.user_id, "announce retract")
        assert (retracted.room_id, retracted.result) == (rooms[0], "ok")
        assert retracted.detail == "!お知らせ 取消 2"
        assert len(await audited(db, lead.user_id, "announce", count=2)) == 2
        for copy in copies2:
            assert copy.event_id not in await _pins(lead, copy.room_id)
            event = await lead.client.room_get_event(copy.room_id, copy.event_id)
            assert not getattr(event.event, "source", {}).get("content"), "redacted"
    finally:
        for staff in (lead, a, b, c):
            await staff.close()
        await running.stop()


async def test_scheduled_publication_survives_a_restart(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running, lead, a, b, c, rooms = await _setup(synapse, admin_token, tmp_path)
    bot_id = running.config.bots["news"].user_id
    try:
        cmd = await lead.send(
            rooms[1], "!announce at: in 2 hours Drill notice\nThe drill is at 10."
        )
        await lead.wait_for(lambda: bool(lead.replies_to(cmd, bot_id)), "scheduled reply")
        assert running.app is not None
        (scheduled,) = await audited(running.app.db, lead.user_id, "announce")
        assert (scheduled.room_id, scheduled.result) == (rooms[1], "ok")
        await running.stop()
        await running.start()
        feature = _feature(running)
        ann = await feature.service.get(1)
        assert ann.state.value == "scheduled"
        assert await feature.service.run_due(ann.publish_at - timedelta(minutes=1)) == 0
        assert await feature.service.run_due(ann.publish_at + timedelta(minutes=10)) == 1
        await running.stop()
        await running.start()
        feature = _feature(running)
        assert await feature.service.run_due(ann.publish_at + timedelta(minutes=11)) == 0
        marker = await a.send(rooms[1], "!ping")
        await a.wait_for(lambda: bool(a.replies_to(marker, bot_id)), "marker")
        copies = [e for e in a.events_from(bot_id, rooms[1]) if "Drill notice" in _body(e)]
        assert len(copies) == 1
    finally:
        for staff in (lead, a, b, c):
            await staff.close()
        await running.stop()
