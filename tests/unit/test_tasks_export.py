"""Tasks exported as CSV (for Excel) and as iCalendar VTODOs."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar, Todo

from bots.i18n import Catalog
from bots.spreadsheet import FORMULA_STARTS
from bots.tasks import export
from bots.tasks.export import task_uid, tasks_to_csv, tasks_to_ics
from bots.tasks.model import Priority, Status, Task

TOKYO = ZoneInfo("Asia/Tokyo")
ROOM = "!kikaku:city.example.jp"
TANAKA = "@tanaka:city.example.jp"
SUZUKI = "@suzuki:city.example.jp"
NAMES = {TANAKA: "田中 一郎", SUZUKI: "鈴木 花子"}

JA_HEADER = [
    "番号",
    "タイトル",
    "状態",
    "優先度",
    "担当者",
    "期限",
    "タグ",
    "作成者",
    "作成日時",
    "完了日時",
    "完了者",
]
EN_HEADER = [
    "Number",
    "Title",
    "Status",
    "Priority",
    "Assignees",
    "Due",
    "Tags",
    "Created by",
    "Created at",
    "Done at",
    "Done by",
]

CATALOG = Catalog.load()


def T(lang: str) -> Callable[[str], str]:
    """The catalog lookup the bot passes for a reader of `lang`."""
    return lambda key: CATALOG.t(lang, key)


def make_task(**changes: Any) -> Task:
    task = Task(
        id=41,
        number=12,
        room_id=ROOM,
        title="議会答弁書の作成",
        creator=SUZUKI,
        assignees=(TANAKA, SUZUKI),
        due=datetime(2026, 11, 24, 8, 0, tzinfo=UTC),  # 17:00 in Tokyo
        priority=Priority.HIGH,
        tags=("議会", "急ぎ"),
        status=Status.OPEN,
        created_at=datetime(2026, 11, 19, 23, 30, tzinfo=UTC),  # 20th 08:30 in Tokyo
        updated_at=datetime(2026, 11, 20, 1, 15, tzinfo=UTC),
    )
    return replace(task, **changes)


DONE = make_task(
    id=42,
    number=13,
    title="予算要求書の提出",
    assignees=(TANAKA,),
    priority=Priority.LOW,
    tags=(),
    status=Status.DONE,
    due=None,
    done_at=datetime(2026, 11, 21, 6, 5, tzinfo=UTC),
    done_by=TANAKA,
    updated_at=datetime(2026, 11, 21, 6, 5, tzinfo=UTC),
)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


# --- CSV -------------------------------------------------------------------------------


def test_csv_japanese() -> None:
    data = tasks_to_csv([make_task(), DONE], TOKYO, T("ja"), NAMES)
    rows = read_csv(data)
    assert rows[0] == JA_HEADER
    assert rows[1] == [
        "12",
        "議会答弁書の作成",
        "未完了",
        "高",
        "田中 一郎 (@tanaka:city.example.jp); 鈴木 花子 (@suzuki:city.example.jp)",
        "2026-11-24 17:00",
        "議会; 急ぎ",
        "鈴木 花子 (@suzuki:city.example.jp)",
        "2026-11-20 08:30",
        "",
        "",
    ]
    assert rows[2] == [
        "13",
        "予算要求書の提出",
        "完了",
        "低",
        "田中 一郎 (@tanaka:city.example.jp)",
        "",
        "",
        "鈴木 花子 (@suzuki:city.example.jp)",
        "2026-11-20 08:30",
        "2026-11-21 15:05",
        "田中 一郎 (@tanaka:city.example.jp)",
    ]
    assert len(rows) == 3


def test_csv_english_and_other_languages_fall_back_to_japanese() -> None:
    tasks = [make_task(), make_task(id=43, priority=Priority.NORMAL, status=Status.DELETED)]
    rows = read_csv(tasks_to_csv(tasks, TOKYO, T("en"), NAMES))
    assert rows[0] == EN_HEADER
    assert rows[1][2:4] == ["open", "high"]
    assert rows[2][2:4] == ["deleted", "normal"]
    assert read_csv(tasks_to_csv(tasks, TOKYO, T("ko")))[0] == JA_HEADER
    assert read_csv(tasks_to_csv(tasks, TOKYO, T("ja")))[2][2:4] == ["削除", "中"]


def test_csv_empty_has_only_the_header() -> None:
    assert tasks_to_csv([], TOKYO, T("ja")) == ("\ufeff" + ",".join(JA_HEADER) + "\r\n").encode()


def test_csv_uses_crlf_between_records() -> None:
    data = tasks_to_csv([make_task(), DONE], TOKYO, T("en"), NAMES)[3:]
    assert data.count(b"\r\n") == 3
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_csv_times_follow_the_time_zone() -> None:
    rows = read_csv(tasks_to_csv([make_task()], ZoneInfo("America/New_York"), T("en")))
    assert rows[1][5] == "2026-11-24 03:00"
    assert rows[1][8] == "2026-11-19 18:30"


def test_csv_naive_times_are_taken_as_utc() -> None:
    rows = read_csv(tasks_to_csv([make_task(due=datetime(2026, 11, 24, 8, 0))], TOKYO, T("ja")))
    assert rows[1][5] == "2026-11-24 17:00"


def test_csv_without_names_shows_localparts() -> None:
    rows = read_csv(tasks_to_csv([make_task()], TOKYO, T("ja"), {TANAKA: "田中 一郎"}))
    assert rows[1][4] == "田中 一郎 (@tanaka:city.example.jp); suzuki (@suzuki:city.example.jp)"
    assert rows[1][7] == "suzuki (@suzuki:city.example.jp)"


@pytest.mark.parametrize(
    "title",
    [
        'He said "確認します", then left',
        "a, b, and c",
        "二行目あり\n次の行,\r\nさらに",
        '"',
        "",
    ],
)
def test_csv_titles_survive(title: str) -> None:
    rows = read_csv(tasks_to_csv([make_task(title=title)], TOKYO, T("ja")))
    assert rows[1][1] == title


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("＝１＋１", "'＝１＋１"),
        ("普通の件名 = 1", "普通の件名 = 1"),
    ],
)
def test_csv_guards_free_text_against_formulas(text: str, cell: str) -> None:
    task = make_task(title=text, tags=(text, "ok"), assignees=(TANAKA,))
    rows = read_csv(tasks_to_csv([task], TOKYO, T("ja"), {TANAKA: text, SUZUKI: "鈴木"}))
    assert rows[1][1] == cell
    assert rows[1][6] == f"{cell}; ok"
    assert rows[1][4] == f"{cell} ({TANAKA})"


def test_csv_guard_leaves_user_ids_alone() -> None:
    # A user whose localpart starts with "-" has the name guarded but not the ID.
    odd = "@-odd:city.example.jp"
    rows = read_csv(tasks_to_csv([make_task(assignees=(odd,), creator=odd)], TOKYO, T("ja")))
    assert rows[1][4] == "'-odd (@-odd:city.example.jp)"
    assert rows[1][7] == "'-odd (@-odd:city.example.jp)"


@given(st.text())
def test_csv_any_title_round_trips_apart_from_the_guard(title: str) -> None:
    rows = read_csv(tasks_to_csv([make_task(title=title)], TOKYO, T("en")))
    cell = rows[1][1]
    if title.startswith(FORMULA_STARTS):
        assert cell == "'" + title
    else:
        # The csv module reads a lone \r in a quoted field back as written.
        assert cell == title
    assert len(rows) == 2


# --- iCalendar -------------------------------------------------------------------------


def parse_todos(data: bytes) -> tuple[Calendar, list[Todo]]:
    cal = Calendar.from_ical(data)
    todos = [c for c in cal.walk("VTODO") if isinstance(c, Todo)]
    assert len(todos) == len(cal.walk("VTODO"))
    return cal, todos


def test_ics_fields() -> None:
    cal, (todo, done) = parse_todos(
        tasks_to_ics([make_task(), DONE], TOKYO, calendar_name="企画課のタスク")
    )
    assert str(cal["prodid"]) == "-//yakuba//tasks//JA"
    assert str(cal["version"]) == "2.0"
    assert str(cal["x-wr-calname"]) == "企画課のタスク"

    assert str(todo["uid"]) == task_uid(make_task())
    assert str(todo["summary"]) == "議会答弁書の作成"
    assert str(todo["status"]) == "NEEDS-ACTION"
    assert todo.priority == 1
    assert todo.decoded("dtstamp") == datetime(2026, 11, 20, 1, 15, tzinfo=UTC)
    assert todo.decoded("created") == datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    assert todo.categories == ["議会", "急ぎ"]
    assert "completed" not in todo

    due = todo.decoded("due")
    assert due == datetime(2026, 11, 24, 17, 0, tzinfo=TOKYO)
    assert due.utcoffset() == timedelta(hours=9)
    assert todo["due"].params["TZID"] == "Asia/Tokyo"

    assert str(done["status"]) == "COMPLETED"
    assert done.priority == 9
    assert done.decoded("completed") == datetime(2026, 11, 21, 6, 5, tzinfo=UTC)
    assert "due" not in done
    assert "categories" not in done


def test_ics_utc_properties_are_written_in_utc() -> None:
    data = tasks_to_ics([DONE], TOKYO)
    assert b"DTSTAMP:20261121T060500Z" in data
    assert b"CREATED:20261119T233000Z" in data
    assert b"COMPLETED:20261121T060500Z" in data
    assert b"DUE;TZID=Asia/Tokyo:20261124T170000" in tasks_to_ics([make_task()], TOKYO)


def test_ics_has_a_vtimezone_for_the_zone() -> None:
    cal, _ = parse_todos(tasks_to_ics([make_task()], TOKYO))
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Tokyo"]


def test_ics_without_due_dates_needs_no_vtimezone() -> None:
    cal, _ = parse_todos(tasks_to_ics([DONE], TOKYO))
    assert cal.walk("VTIMEZONE") == []


def test_ics_in_utc_needs_no_vtimezone() -> None:
    data = tasks_to_ics([make_task()], ZoneInfo("UTC"))
    assert b"DUE:20261124T080000Z" in data
    assert b"VTIMEZONE" not in data


def test_ics_falls_back_to_utc_without_vtimezone_support(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export, "_CAN_GENERATE_VTIMEZONE", False)
    data = tasks_to_ics([make_task()], TOKYO)
    assert b"VTIMEZONE" not in data
    assert b"DUE:20261124T080000Z" in data


def test_ics_status_and_priority_mapping() -> None:
    tasks = [
        make_task(id=1, status=Status.OPEN, priority=Priority.HIGH),
        make_task(id=2, status=Status.DELETED, priority=Priority.NORMAL),
        make_task(id=3, status=Status.DONE, priority=Priority.LOW, done_at=None),
    ]
    _, todos = parse_todos(tasks_to_ics(tasks, TOKYO))
    assert [(str(t["status"]), t.priority) for t in todos] == [
        ("NEEDS-ACTION", 1),
        ("CANCELLED", 5),
        ("COMPLETED", 9),
    ]
    assert all("completed" not in t for t in todos)


def test_ics_one_todo_per_task_with_stable_distinct_uids() -> None:
    tasks = [make_task(id=i, number=i) for i in range(1, 6)]
    _, first = parse_todos(tasks_to_ics(tasks, TOKYO))
    _, again = parse_todos(tasks_to_ics(list(reversed(tasks)), ZoneInfo("UTC")))
    uids = [str(t["uid"]) for t in first]
    assert len(first) == 5
    assert len(set(uids)) == 5
    assert sorted(uids) == sorted(str(t["uid"]) for t in again)


def test_uid_depends_on_task_and_room_only() -> None:
    task = make_task()
    assert task_uid(task) == task_uid(replace(task, title="別件", status=Status.DONE))
    assert task_uid(task) != task_uid(replace(task, room_id="!other:city.example.jp"))
    assert task_uid(task) != task_uid(replace(task, id=99))
    uid = task_uid(task)
    assert uid.startswith("yakuba-task-41-")
    assert uid.endswith("@yakuba")
    # Fixed across processes and versions (no salted hash()): pin the value.
    assert uid == "yakuba-task-41-6bf9257632cde84b@yakuba"


def test_ics_japanese_and_awkward_titles_round_trip() -> None:
    titles = [
        "住民票の写しの交付申請について、課長への報告と関係各所への連絡・調整を行う(至急)",
        'quotes "x"; commas, semicolons;\nand a newline\\backslash',
    ]
    tasks = [make_task(id=i, title=t) for i, t in enumerate(titles)]
    data = tasks_to_ics(tasks, TOKYO)
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded by octets
    _, todos = parse_todos(data)
    assert [str(t["summary"]) for t in todos] == titles


def test_ics_is_crlf_and_has_no_calendar_name_by_default() -> None:
    data = tasks_to_ics([make_task()], TOKYO, prodid="-//city//x//EN")
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert data.endswith(b"END:VCALENDAR\r\n")
    assert b"X-WR-CALNAME" not in data
    assert b"PRODID:-//city//x//EN" in data


def test_ics_due_far_in_the_future_keeps_its_zone() -> None:
    far = make_task(due=datetime(2045, 3, 31, 8, 0, tzinfo=UTC))
    cal, (todo,) = parse_todos(tasks_to_ics([far], TOKYO))
    assert todo.decoded("due") == datetime(2045, 3, 31, 17, 0, tzinfo=TOKYO)
    assert len(cal.walk("VTIMEZONE")) == 1
