"""What the roll call says (bots/rollcall/render.py): the question as an MSC3381 poll with
a text fallback (Japanese and English), the tally per department without names or notes,
and the officers' CSV (reader's language, BOM + CRLF, formula guard)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bots.i18n import Catalog
from bots.rollcall.answers import KEYCAPS, OPTIONS, from_reaction, from_text
from bots.rollcall.model import Attendance, Kind, RollCall, Safety, State, Target
from bots.rollcall.render import POLL_START, question, status, tally, to_csv

TOKYO = ZoneInfo("Asia/Tokyo")
SERVER = "city.example.jp"
CATALOG = Catalog.load()
STARTED = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
ANSWERED = datetime(2026, 11, 25, 1, 7, tzinfo=UTC)
DEPARTMENTS = {"soumu": "総務課", "bousai": "防災危機管理課", "kensetsu": "建設課"}
POLL_KINDS = ("org.matrix.msc3381.poll.disclosed", "org.matrix.msc3381.poll.undisclosed")


def T(lang: str) -> Callable[..., str]:
    return lambda key, **params: CATALOG.t(lang, key, **params)


def user(name: str) -> str:
    return f"@{name}:{SERVER}"


def call(kind: Kind = Kind.ANPI, **changes: Any) -> RollCall:
    base = RollCall(
        id=7,
        kind=kind,
        level="keikai" if kind is Kind.STAFFING else None,
        drill=False,
        state=State.RUNNING,
        title="震源・震度情報",
        area_key="alert",
        strength=62,
        started_by="alert",
        created_at=STARTED,
        hold_until=None,
        started_at=STARTED,
        closed_at=None,
        status_room=f"!bousai:{SERVER}",
        status_event=None,
    )
    return replace(base, **changes)


def target(
    name: str,
    department: str,
    safety: Safety | None = None,
    attendance: Attendance | None = None,
    note: str | None = None,
    *,
    answered: bool = True,
    rounds: int = 1,
    escalated: bool = False,
) -> Target:
    return Target(
        rollcall_id=7,
        user_id=user(name),
        department=department,
        rounds=rounds,
        due_at=None,
        room_id=f"!dm-{name}:{SERVER}",
        safety=safety,
        attendance=attendance,
        note=note,
        answered_at=ANSWERED if answered else None,
        escalated=escalated,
    )


SECRET_NOTE = "自宅が全壊、右足骨折"
TARGETS = [
    target("tanaka", "soumu", Safety.SAFE, Attendance.YES),
    target("yamada", "soumu", Safety.MINOR, Attendance.NO, SECRET_NOTE),
    target("ito", "soumu", answered=False, rounds=3, escalated=True),
    target("sato", "bousai", Safety.SERIOUS, Attendance.NO, "救急搬送されました"),
    target("kobayashi", "bousai", None, Attendance.YES, "出勤できます"),  # no safety yet
]


# --- the question ------------------------------------------------------------------------


def poll_of(content: dict[str, Any]) -> dict[str, Any]:
    poll = content[POLL_START]
    assert isinstance(poll, dict)
    return poll


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("kind", [Kind.ANPI, Kind.STAFFING])
def test_the_question_is_a_valid_msc3381_poll_start(lang: str, kind: Kind) -> None:
    content = question(call(kind), user("tanaka"), 1, T(lang), "警戒体制", "災害対策室")
    json.dumps(content)  # an event content: plain JSON
    poll = poll_of(content)
    assert poll["kind"] in POLL_KINDS
    assert poll["max_selections"] == 1
    answers = poll["answers"]
    assert 1 <= len(answers) <= 20  # the MSC's limit
    ids = [a["id"] for a in answers]
    assert ids == [o.id for o in OPTIONS[kind]]
    assert len(set(ids)) == len(ids)
    for answer, option in zip(answers, OPTIONS[kind], strict=True):
        assert answer["org.matrix.msc1767.text"] == CATALOG.t(lang, option.label)
        assert answer["org.matrix.msc1767.text"].strip()
    prompt = poll["question"]["org.matrix.msc1767.text"]
    assert prompt.strip()
    assert prompt == poll["question"]["body"]
    heading = "rollcall.heading.staffing" if kind is Kind.STAFFING else "rollcall.heading"
    expected = CATALOG.t(lang, heading, number=7, title="震源・震度情報", level="警戒体制")
    assert prompt.startswith(expected)
    assert content["m.mentions"] == {"user_ids": [user("tanaka")]}


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("kind", [Kind.ANPI, Kind.STAFFING])
def test_the_fallback_lists_every_option_and_how_to_reply(lang: str, kind: Kind) -> None:
    content = question(call(kind), user("tanaka"), 1, T(lang), "警戒体制", "災害対策室")
    body = content["body"]
    assert content["org.matrix.msc1767.text"] == body
    for option in OPTIONS[kind]:
        assert f"{option.id}. {CATALOG.t(lang, option.label)}" in body
    how = "rollcall.question.how" + (".staffing" if kind is Kind.STAFFING else "")
    assert CATALOG.t(lang, how) in body
    assert poll_of(content)["question"]["body"] in body  # the fallback starts with the question


@pytest.mark.parametrize("kind", [Kind.ANPI, Kind.STAFFING])
def test_what_the_fallback_offers_is_read_back_as_that_answer(kind: Kind) -> None:
    body = question(call(kind), user("tanaka"), 1, T("ja"))["body"]
    for option in OPTIONS[kind]:
        line = next(x for x in body.splitlines() if f" {option.id}. " in x)
        keycap = line.split(" ", 1)[0]
        assert keycap in KEYCAPS
        assert from_reaction(kind, keycap) == option.answer  # reacting with the shown emoji
        assert from_text(kind, option.id) == option.answer  # replying with the number


def test_the_japanese_question() -> None:
    content = question(call(), user("tanaka"), 1, T("ja"))
    body = content["body"]
    assert body.startswith("安否確認 No.7 — 震源・震度情報")
    assert "安否を確認しています" in body
    assert "1️⃣ 1. 無事・出勤可能" in body
    assert "5️⃣ 5. 重傷" in body


def test_the_english_catalog() -> None:
    content = question(call(), user("smith"), 1, T("en"))
    body = content["body"]
    assert body.startswith("Safety roll call No.7")
    assert "1️⃣ 1. Safe, can come in" in body
    assert "Vote in the poll" in body
    for option in OPTIONS[Kind.ANPI]:
        assert CATALOG.t("ja", option.label) not in body  # no Japanese choice left
    assert CATALOG.t("ja", "rollcall.question.how") not in body
    labels = [a["org.matrix.msc1767.text"] for a in poll_of(content)["answers"]]
    assert labels[4] == "Serious injury"


def test_the_staffing_question_says_the_level_and_where_to_report() -> None:
    content = question(call(Kind.STAFFING), user("sato"), 1, T("ja"), "警戒体制", "災害対策室")
    prompt = poll_of(content)["question"]["body"]
    assert "警戒体制 参集 No.7" in prompt
    assert "参集先: 災害対策室" in prompt
    assert [a["org.matrix.msc1767.text"] for a in poll_of(content)["answers"]] == [
        "了解・参集します",
        "参集できません",
    ]
    english = question(call(Kind.STAFFING), user("smith"), 1, T("en"), "Alert", "3F")
    assert "Report to: 3F" in english["body"]


def test_a_drill_is_marked_in_the_question_and_its_poll() -> None:
    content = question(call(drill=True), user("tanaka"), 1, T("ja"))
    assert content["body"].startswith("【訓練】")
    assert poll_of(content)["question"]["body"].startswith("【訓練】")
    assert question(call(drill=True), user("smith"), 1, T("en"))["body"].startswith("[DRILL] ")
    assert "【訓練】" not in question(call(), user("tanaka"), 1, T("ja"))["body"]


def test_a_question_asked_again_says_so() -> None:
    first = question(call(), user("tanaka"), 1, T("ja"))["body"]
    third = question(call(), user("tanaka"), 3, T("ja"))["body"]
    assert "再送" not in first
    assert "(再送 2回目: まだ回答がありません)" in third


# --- the tally ---------------------------------------------------------------------------


def test_the_counts() -> None:
    counts = tally(TARGETS)
    assert (counts.asked, counts.answered, counts.missing) == (5, 4, 1)
    assert (counts.safe, counts.minor, counts.serious) == (1, 1, 1)
    assert (counts.coming, counts.not_coming) == (2, 2)
    assert tally([]).missing == 0


def test_the_tally_counts_per_department() -> None:
    content = status(call(), TARGETS, DEPARTMENTS, T("ja"), "ja", TOKYO)
    body = content["body"]
    lines = body.splitlines()
    assert lines[0] == "安否確認 No.7 — 震源・震度情報"
    assert "状態: 実施中(開始 11月25日(水) 10:00)" in body
    assert "全体: 回答 4/5(無事 1・軽傷 1・重傷 1/出勤可能 2・出勤不可 2)未回答 1" in lines, lines
    assert "・総務課: 回答 2/3(無事 1・軽傷 1・重傷 0/出勤可能 1・出勤不可 1)未回答 1" in lines
    assert (
        "・防災危機管理課: 回答 2/2(無事 0・軽傷 0・重傷 1/出勤可能 1・出勤不可 1)未回答 0" in lines
    )
    assert not any("建設課" in line for line in lines)  # no one asked there
    assert body.index("総務課") < body.index("防災危機管理課")  # in the configured order


def test_the_tally_hides_names_and_notes() -> None:
    content = status(call(), TARGETS, DEPARTMENTS, T("ja"), "ja", TOKYO)
    shown = content["body"] + content["formatted_body"]
    for person in TARGETS:
        assert person.user_id not in shown
        assert person.user_id[1:].split(":")[0] not in shown
        if person.note:
            assert person.note not in shown
    assert "骨折" not in shown and "救急" not in shown
    assert content["m.mentions"] == {}


def test_the_tally_in_english_and_as_html() -> None:
    departments = {"soumu": "General Affairs <Div>", "bousai": "Disaster & Crisis"}
    content = status(call(), TARGETS, departments, T("en"), "en", TOKYO)
    assert "All: answered 4/5" in content["body"]
    assert "・General Affairs <Div>: answered 2/3" in content["body"]
    html = content["formatted_body"]
    assert "<b>General Affairs &lt;Div&gt;</b>" in html
    assert "Disaster &amp; Crisis" in html
    assert "<Div>" not in html


def test_the_staffing_tally() -> None:
    targets = [
        target("sato", "bousai", None, Attendance.YES),
        target("kobayashi", "bousai", None, Attendance.NO),
        target("tanaka", "soumu", answered=False),
    ]
    body = status(call(Kind.STAFFING), targets, DEPARTMENTS, T("ja"), "ja", TOKYO, "警戒体制")[
        "body"
    ]
    assert body.startswith("警戒体制 参集 No.7")
    assert "全体: 回答 2/3(参集可 1・参集不可 1)未回答 1" in body


def test_a_held_roll_call_says_how_to_stop_it() -> None:
    held = call(state=State.HELD, hold_until=datetime(2026, 11, 25, 1, 3, tzinfo=UTC))
    body = status(held, TARGETS, DEPARTMENTS, T("ja"), "ja", TOKYO)["body"]
    assert "開始待ち" in body
    assert "11月25日(水) 10:03 に職員へ送信します" in body
    assert "!安否 中止 7" in body


def test_aftershocks_are_counted_and_a_drill_marked() -> None:
    body = status(call(drill=True), TARGETS, DEPARTMENTS, T("ja"), "ja", TOKYO, aftershocks=2)[
        "body"
    ]
    assert body.startswith("【訓練】")
    assert "続報・余震 2 件" in body


# --- the CSV -----------------------------------------------------------------------------

JA_HEADER = [
    "安否確認No",
    "部署",
    "ユーザーID",
    "氏名",
    "安否",
    "出勤・参集",
    "メモ",
    "回答日時",
    "送信回数",
    "所属長へ連絡",
]
EN_HEADER = [
    "Roll call",
    "Department",
    "User ID",
    "Name",
    "Safety",
    "Can come",
    "Note",
    "Answered",
    "Times asked",
    "Lead told",
]
NAMES = {user("tanaka"): "田中 一郎", user("yamada"): "山田 美咲", user("sato"): "佐藤 花子"}


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_csv_for_spreadsheets() -> None:
    data = to_csv(call(), TARGETS, DEPARTMENTS, NAMES, T("ja"), TOKYO)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads it as UTF-8
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n")
    assert text.count("\r\n") == len(TARGETS) + 1
    assert "\n" not in text.replace("\r\n", "")
    rows = rows_of(data)
    assert rows[0] == JA_HEADER
    assert rows[1] == [
        "7",
        "総務課",
        user("tanaka"),
        "田中 一郎",
        "無事",
        "出勤可能",
        "",
        "2026-11-25 10:07",
        "1",
        "",
    ]
    assert rows[2][4:7] == ["軽傷", "出勤不可", SECRET_NOTE]  # the officers see the note
    assert rows[3][3:] == ["", "", "", "", "", "3", "済"]  # no answer, lead told
    assert rows[4][4:6] == ["重傷", "出勤不可"]
    assert rows[5][4:7] == ["", "出勤可能", "出勤できます"]


def test_the_csv_in_english() -> None:
    rows = rows_of(to_csv(call(), TARGETS, DEPARTMENTS, NAMES, T("en"), TOKYO))
    assert rows[0] == EN_HEADER
    assert rows[1][4:6] == ["safe", "can come in"]
    assert rows[3][9] == "yes"


def test_the_staffing_csv_says_coming() -> None:
    targets = [target("sato", "bousai", None, Attendance.YES)]
    rows = rows_of(to_csv(call(Kind.STAFFING), targets, DEPARTMENTS, NAMES, T("ja"), TOKYO))
    assert rows[1][4:6] == ["", "参集可"]


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://evil.example/","click")', "+81 90 1234 5678", "-1", "@SUM(A1)", "＝1+1"],
)
def test_notes_and_names_cannot_run_a_formula(text: str) -> None:
    targets = [target("tanaka", "soumu", Safety.SAFE, Attendance.YES, text)]
    departments = {"soumu": text}
    rows = rows_of(to_csv(call(), targets, departments, {user("tanaka"): text}, T("ja"), TOKYO))
    row = rows[1]
    assert row[6] == "'" + text  # note
    assert row[3] == "'" + text  # name
    assert row[1] == "'" + text  # department
    assert row[2] == user("tanaka")  # the user ID as it is


def test_a_plain_note_is_not_altered() -> None:
    note = "家族と避難所にいます。連絡は090-1234-5678へ"
    targets = [target("tanaka", "soumu", Safety.SAFE, Attendance.NO, note)]
    rows = rows_of(to_csv(call(), targets, DEPARTMENTS, NAMES, T("ja"), TOKYO))
    assert rows[1][6] == note


def test_a_note_with_line_breaks_and_commas_stays_one_cell() -> None:
    note = "無事です,\n自宅は断水\r\n車で向かいます"
    targets = [target("tanaka", "soumu", Safety.SAFE, Attendance.YES, note)]
    rows = rows_of(to_csv(call(), targets, DEPARTMENTS, NAMES, T("ja"), TOKYO))
    assert len(rows) == 2
    assert rows[1][6] == note
