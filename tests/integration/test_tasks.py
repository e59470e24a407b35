"""The task workflow on a real Synapse, in an encrypted room, with real encryption."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from icalendar import Calendar
from nio import DownloadResponse, RoomEncryptedFile, RoomGetStateEventResponse
from nio.crypto.attachments import decrypt_attachment

from bots.audit import AuditLog
from bots.demo.synapse import SynapseProcess
from bots.tasks.feature import TaskFeature
from tests.integration.harness import RunningApp, Staff, audited, prepare, unique

TASKS = {
    "roles": {"lead": {"power_level": 50}},
    # digests are tested in tests/unit/test_tasks_service.py; here only reminders
    "tasks": {"reminders_before": ["1h"], "digest": "off"},
}


def _feature(running: RunningApp) -> TaskFeature:
    assert running.app is not None
    (feature,) = running.app.bots["tasks"].features
    assert isinstance(feature, TaskFeature)
    return feature


def _text(event: Any) -> str:
    return str(getattr(event, "body", ""))


async def _room_with(
    synapse: SynapseProcess, tmp_path: Path, running: RunningApp
) -> tuple[Staff, Staff, str]:
    lead = await Staff.create(synapse, unique("kacho"), "pw-lead-123", tmp_path / "lead")
    staff = await Staff.create(synapse, unique("shokuin"), "pw-staff-123", tmp_path / "staff")
    bot_id = running.config.bots["tasks"].user_id
    # as provisioning does: the bot may pin and notify (power level 50)
    room = await lead.create_room(
        invite=[bot_id, staff.user_id], encrypted=True, power={bot_id: 50}
    )
    await staff.client.join(room)
    await lead.wait_joined(room, bot_id)
    await lead.wait_joined(room, staff.user_id)
    await staff.sync()
    return lead, staff, room


async def test_lead_assigns_staff_finishes_board_and_export(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running = await prepare(
        synapse,
        admin_token,
        tmp_path,
        {"tasks": {"localpart": unique("tasks"), "features": ["tasks"]}},
        **TASKS,
    )
    await running.start()
    bot_id = running.config.bots["tasks"].user_id
    lead, staff, room = await _room_with(synapse, tmp_path, running)
    try:
        # the lead (room creator: unlimited power in room v12) assigns a task with a due date
        add = await lead.send(
            room, f"!タスク 追加 予算資料の作成 {staff.user_id} 期限:明日17時 優先:高"
        )
        await lead.wait_for(lambda: bool(lead.replies_to(add, bot_id)), "task added")
        assert "[1]" in _text(lead.replies_to(add, bot_id)[0])
        assert running.app is not None
        db = running.app.db
        (assigned,) = await audited(db, lead.user_id, "task add")  # to someone else
        assert (assigned.room_id, assigned.result) == (room, "ok")
        await staff.wait_for(
            lambda: any("予算資料の作成" in _text(e) for e in staff.events_from(bot_id)),
            "the task message",
        )
        task_msg = next(e for e in staff.events_from(bot_id) if "予算資料の作成" in _text(e))
        assert task_msg.decrypted
        assert staff.user_id in task_msg.source["content"]["m.mentions"]["user_ids"]

        # the staff member finds it in their list
        mine = await staff.send(room, "!task list mine")
        await staff.wait_for(lambda: bool(staff.replies_to(mine, bot_id)), "list reply")
        assert "予算資料の作成" in _text(staff.replies_to(mine, bot_id)[0])

        # the board is posted and pinned
        board_cmd = await lead.send(room, "!タスク ボード")
        await lead.wait_for(lambda: bool(lead.replies_to(board_cmd, bot_id)), "board reply")
        feature = _feature(running)
        board = await feature.service.store.get_board(room)
        assert board is not None
        board_id = board[0]
        pins = await lead.client.room_get_state_event(room, "m.room.pinned_events")
        assert isinstance(pins, RoomGetStateEventResponse)
        assert board_id in pins.content["pinned"]

        # a reminder arrives when the workflow is asked at a chosen `now`
        task = await feature.service.get(room, 1)
        assert task.due is not None
        assert await feature.service.run_due(task.due - timedelta(minutes=59)) == 1
        await staff.wait_for(
            lambda: any("期限まであと" in _text(e) for e in staff.events_from(bot_id)),
            "the reminder",
        )
        reminder = next(e for e in staff.events_from(bot_id) if "期限まであと" in _text(e))
        assert staff.user_id in reminder.source["content"]["m.mentions"]["user_ids"]
        assert await feature.service.run_due(task.due - timedelta(minutes=58)) == 0

        # ✅ on the task's message completes it; the board is edited in place
        await staff.send_content(
            room,
            {
                "m.relates_to": {
                    "rel_type": "m.annotation",
                    "event_id": task_msg.event_id,
                    "key": "✅",
                }
            },
            "m.reaction",
        )

        def board_edit() -> list[Any]:
            return [
                e
                for e in lead.events_from(bot_id)
                if (e.source["content"].get("m.relates_to") or {}).get("event_id") == board_id
                and e.source["content"]["m.relates_to"].get("rel_type") == "m.replace"
            ]

        await lead.wait_for(
            lambda: any("未完了のタスクはありません" in _text(e) for e in board_edit()),
            "the board edited to show no open task",
        )
        done = await feature.service.store.get_task(task.id)
        assert done is not None and done.status.value == "done" and done.done_by == staff.user_id
        boards_posted = [
            e
            for e in lead.events_from(bot_id)
            if "タスクボード" in _text(e) and not (e.source["content"].get("m.relates_to"))
        ]
        assert len(boards_posted) == 1, "the board is edited, never posted again"

        # export: uploaded (encrypted) files that parse as CSV and as iCalendar
        for fmt in ("csv", "ics"):
            cmd = await lead.send(room, f"!task export {fmt}")
            await lead.wait_for(lambda c=cmd: bool(lead.replies_to(c, bot_id)), "export reply")

        def uploaded(suffix: str) -> bool:
            return any(
                isinstance(e, RoomEncryptedFile) and e.body.endswith(suffix)
                for e in lead.events_from(bot_id)
            )

        await lead.wait_for(lambda: uploaded(".csv") and uploaded(".ics"), "the two files")
        exports = await audited(db, lead.user_id, "task export", count=2)
        assert [(e.room_id, e.result) for e in exports] == [(room, "ok")] * 2
        files = {
            e.body.rsplit(".", 1)[1]: e
            for e in lead.events_from(bot_id)
            if isinstance(e, RoomEncryptedFile)
        }
        csv_rows = list(
            csv.reader(io.StringIO((await _download(lead, files["csv"])).decode("utf-8-sig")))
        )
        assert csv_rows[0][:3] == ["番号", "タイトル", "状態"]
        assert csv_rows[1][1] == "予算資料の作成" and csv_rows[1][2] == "完了"
        calendar = Calendar.from_ical(await _download(lead, files["ics"]))
        (todo,) = calendar.walk("VTODO")
        assert str(todo["SUMMARY"]) == "予算資料の作成"
        assert str(todo["STATUS"]) == "COMPLETED"
    finally:
        await lead.close()
        await staff.close()
        await running.stop()


async def _download(staff: Staff, event: RoomEncryptedFile) -> bytes:
    response = await staff.client.download(event.url)
    assert isinstance(response, DownloadResponse), response
    return bytes(
        decrypt_attachment(response.body, event.key["k"], event.hashes["sha256"], event.iv)
    )


async def test_tasks_and_reminders_survive_a_restart_and_are_sent_once(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running = await prepare(
        synapse,
        admin_token,
        tmp_path,
        {"tasks": {"localpart": unique("tasks"), "features": ["tasks"]}},
        **TASKS,
    )
    await running.start()
    bot_id = running.config.bots["tasks"].user_id
    lead, staff, room = await _room_with(synapse, tmp_path, running)
    try:
        add = await staff.send(room, "!task add Fill in the form due: in 3 days")
        await staff.wait_for(lambda: bool(staff.replies_to(add, bot_id)), "task added")
        await running.stop()

        # yakuba was down when the reminder fell due: after the restart it goes out, late
        await running.start()
        feature = _feature(running)
        task = await feature.service.get(room, 1)
        assert task.title == "Fill in the form" and task.due is not None
        late = task.due + timedelta(minutes=30)  # past "1h before" and "due"
        assert await feature.service.run_due(late) == 2
        await running.stop()
        await running.start()
        feature = _feature(running)
        assert await feature.service.run_due(late + timedelta(minutes=1)) == 0

        await staff.wait_for(
            lambda: sum("遅延送信" in _text(e) for e in staff.events_from(bot_id)) == 2,
            "two late reminders",
        )
        marker = await staff.send(room, "!ping")
        await staff.wait_for(lambda: bool(staff.replies_to(marker, bot_id)), "marker")
        reminders = [e for e in staff.events_from(bot_id) if "⏰" in _text(e)]
        assert len(reminders) == 2, [_text(e) for e in reminders]
        assert datetime.now(UTC) < task.due  # the reminders were driven by the chosen time
        # a task of one's own is no privileged action: not in the audit log
        assert running.app is not None
        assert await AuditLog(running.app.db, time.time).entries(actor=staff.user_id) == []
    finally:
        await lead.close()
        await staff.close()
        await running.stop()
