"""What people type after `!task add`: parse_task_spec, parse_number, parse_priority."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.commands.errors import CommandError
from bots.tasks.model import Priority
from bots.tasks.syntax import TaskSpec, parse_number, parse_priority, parse_task_spec

TOKYO = ZoneInfo("Asia/Tokyo")
# Wednesday 25 November 2026, 10:00 in Tokyo
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)
TANAKA = "@tanaka:city.example.jp"
SMITH = "@smith:city.example.jp"


def parse(text: str, *, max_title: int = 200, need_title: bool = True) -> TaskSpec:
    return parse_task_spec(text.split(), NOW, TOKYO, max_title=max_title, need_title=need_title)


def error_key(text: str, **kwargs: int) -> str:
    with pytest.raises(CommandError) as info:
        parse(text, **kwargs)  # type: ignore[arg-type]
    return info.value.key


# --- Japanese --------------------------------------------------------------------------


def test_japanese_full_spec() -> None:
    spec = parse(f"予算資料の作成 {TANAKA} 期限:明日17時 優先:高 #予算")
    assert spec.title == "予算資料の作成"
    assert spec.assignees == [TANAKA]
    assert spec.tags == ["予算"]
    assert spec.priority is Priority.HIGH
    assert spec.due == datetime(2026, 11, 26, 17, 0, tzinfo=TOKYO)
    assert spec.due_text == "明日17時"


def test_full_width_colon_in_priority() -> None:
    spec = parse("資料作成 優先：高")
    assert spec.title == "資料作成"
    assert spec.priority is Priority.HIGH


def test_full_width_colon_in_due() -> None:
    spec = parse("資料作成 期限：明日17時")
    assert spec.due == datetime(2026, 11, 26, 17, 0, tzinfo=TOKYO)


def test_made_suffix_is_the_due_date() -> None:
    spec = parse("報告書を提出 金曜まで")
    assert spec.title == "報告書を提出"
    assert spec.due == datetime(2026, 11, 27, 17, 0, tzinfo=TOKYO)  # Friday, default 17:00
    assert spec.due_text == "金曜"


def test_made_suffix_not_used_when_due_key_given() -> None:
    spec = parse("報告書を提出 金曜まで 期限:明日17時")
    assert spec.title == "報告書を提出 金曜まで"
    assert spec.due == datetime(2026, 11, 26, 17, 0, tzinfo=TOKYO)


def test_no_due_no_priority_defaults() -> None:
    spec = parse("会議室の予約")
    assert spec == TaskSpec(title="会議室の予約")
    assert spec.priority is Priority.NORMAL
    assert spec.due is None


def test_repeated_assignees_and_tags_are_kept_once() -> None:
    spec = parse(f"資料 {TANAKA} {TANAKA} #予算 ＃予算 {SMITH}")
    assert spec.assignees == [TANAKA, SMITH]
    assert spec.tags == ["予算"]


def test_priority_keyword_before_the_title() -> None:
    """`優先:高` takes its value from the same word; the following word is the title.

    BUG: after a value written in the keyword word itself, the parser still takes one
    more word as part of the priority ("高 資料作成"), so this raises task.error.priority.
    """
    spec = parse("優先:高 資料作成")
    assert spec.priority is Priority.HIGH
    assert spec.title == "資料作成"


def test_priority_keyword_with_separate_value_takes_one_word() -> None:
    spec = parse("priority: high report")
    assert spec.priority is Priority.HIGH
    assert spec.title == "report"


# --- English ---------------------------------------------------------------------------


def test_english_full_spec_due_spans_words_until_next_keyword() -> None:
    spec = parse(f"Write the report {SMITH} due: tomorrow 5pm priority: high #budget")
    assert spec.title == "Write the report"
    assert spec.assignees == [SMITH]
    assert spec.due == datetime(2026, 11, 26, 17, 0, tzinfo=TOKYO)
    assert spec.due_text == "tomorrow 5pm"
    assert spec.priority is Priority.HIGH
    assert spec.tags == ["budget"]


def test_due_stops_at_a_mention() -> None:
    spec = parse(f"Report due: tomorrow 5pm {TANAKA}")
    assert spec.due == datetime(2026, 11, 26, 17, 0, tzinfo=TOKYO)
    assert spec.assignees == [TANAKA]
    assert spec.title == "Report"


@pytest.mark.parametrize(("word", "expected"), [("low", Priority.LOW), ("中", Priority.NORMAL)])
def test_priority_words(word: str, expected: Priority) -> None:
    assert parse(f"Report priority:{word}").priority is expected


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["@tanaka", "@", "@tanaka:", "@田中:city.example.jp"])
def test_bad_user(user: str) -> None:
    assert error_key(f"資料作成 {user}") == "task.error.bad_user"


@pytest.mark.parametrize("text", ["", f"{TANAKA} #予算", "期限:明日17時", "優先:高"])
def test_title_missing(text: str) -> None:
    assert error_key(text) == "task.error.title_missing"


def test_title_optional_when_not_needed() -> None:
    spec = parse("期限:明日17時", need_title=False)
    assert spec.title == ""
    assert spec.due == datetime(2026, 11, 26, 17, 0, tzinfo=TOKYO)


def test_title_too_long() -> None:
    with pytest.raises(CommandError) as info:
        parse("あ" * 21, max_title=20)
    assert info.value.key == "task.error.title_too_long"
    assert info.value.params == {"max": 20, "length": 21}
    assert parse("あ" * 20, max_title=20).title == "あ" * 20


@pytest.mark.parametrize(
    "text", ["資料 期限:いつか", "Report due: someday soon", "資料 期限:2月30日"]
)
def test_unreadable_date(text: str) -> None:
    assert error_key(text) == "task.error.date"


@pytest.mark.parametrize("text", ["資料 期限:昨日17時", "Report due: 2026-11-24 09:00"])
def test_past_date(text: str) -> None:
    assert error_key(text) == "task.error.date_past"


def test_due_key_without_value() -> None:
    assert error_key("資料 期限:") == "task.error.date_missing"


@pytest.mark.parametrize("text", ["資料 優先:最高", "Report priority: urgent"])
def test_bad_priority(text: str) -> None:
    assert error_key(text) == "task.error.priority"


def test_parse_priority_normalises() -> None:
    assert parse_priority("ＨＩＧＨ") is Priority.HIGH
    assert parse_priority(" 低 ") is Priority.LOW
    with pytest.raises(CommandError) as info:
        parse_priority("")
    assert info.value.key == "task.error.priority"


# --- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["12", "[12]", "#12", "１２", "［１２］", "＃１２", " 12 "])
def test_parse_number_accepts(word: str) -> None:
    assert parse_number(word) == 12


@pytest.mark.parametrize("word", ["abc", "", "#", "[]", "12a", "-1", "1.5", "1234567890"])
def test_parse_number_rejects(word: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_number(word)
    assert info.value.key == "task.error.bad_number"
    assert info.value.params == {"value": word}


# --- any input -------------------------------------------------------------------------

_WORDS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "期限:",
            "期限:明日",
            "due:",
            "by:",
            "優先:",
            "優先：高",
            "priority:",
            "p:",
            "17時",
            "明日",
            "tomorrow",
            "5pm",
            "金曜まで",
            "まで",
            "#tag",
            "＃予算",
            "@",
            TANAKA,
            "[12]",
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(_WORDS, max_size=12), max_title=st.integers(min_value=1, max_value=300))
def test_any_words_give_a_spec_or_a_command_error(words: list[str], max_title: int) -> None:
    try:
        spec = parse_task_spec(words, NOW, TOKYO, max_title=max_title)
    except CommandError as exc:
        assert exc.key.startswith("task.error.")
        return
    assert isinstance(spec, TaskSpec)
    assert spec.title
    assert len(spec.title) <= max_title
    assert spec.due is None or spec.due >= NOW
