"""Reading `!お知らせ` / `!announce`: options, dates, title and body (pure)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.announcements.syntax import AnnouncementSpec, parse_announcement
from bots.commands.errors import CommandError

TOKYO = ZoneInfo("Asia/Tokyo")
# Wednesday 25 November 2026, 10:00 in Tokyo
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)
TOMORROW_9 = datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO)
FRIDAY_17 = datetime(2026, 11, 27, 17, 0, tzinfo=TOKYO)


def parse(text: str, *, max_title: int = 200, max_body: int = 20_000) -> AnnouncementSpec:
    return parse_announcement(text, NOW, TOKYO, max_title=max_title, max_body=max_body)


def error(text: str, **limits: int) -> CommandError:
    with pytest.raises(CommandError) as info:
        parse(text, **limits)
    return info.value


# --- options ---------------------------------------------------------------------------


def test_japanese_options() -> None:
    spec = parse(
        "宛先:全庁 公開:明日9時 掲載期限:金曜17時 重要 要確認 年末年始の窓口業務\n"
        "12月29日から1月3日まで窓口を閉じます。"
    )
    assert spec == AnnouncementSpec(
        title="年末年始の窓口業務",
        body="12月29日から1月3日まで窓口を閉じます。",
        group="全庁",
        publish_at=TOMORROW_9,
        expires_at=FRIDAY_17,
        important=True,
        ack_required=True,
    )


def test_english_options() -> None:
    spec = parse(
        "to:all at: tomorrow 9am until: friday 5pm important ack Counter hours\n"
        "The counters close at noon."
    )
    assert spec == AnnouncementSpec(
        title="Counter hours",
        body="The counters close at noon.",
        group="all",
        publish_at=TOMORROW_9,
        expires_at=FRIDAY_17,
        important=True,
        ack_required=True,
    )


def test_no_options() -> None:
    spec = parse("防災訓練のお知らせ\n本文")
    assert spec == AnnouncementSpec(title="防災訓練のお知らせ", body="本文")


@pytest.mark.parametrize(
    "first",
    [
        "宛先:全庁 T",
        "宛先: 全庁 T",
        "宛先：全庁 T",  # full-width colon
        "あて先:全庁 T",
        "送信先:全庁 T",
        "to:全庁 T",
        "TO: 全庁 T",
        "T 宛先:全庁",
    ],
)
def test_group_spellings(first: str) -> None:
    spec = parse(first + "\n本文")
    assert spec.group == "全庁"
    assert spec.title == "T"


@pytest.mark.parametrize(
    "first",
    [
        "公開:明日9時 T",
        "公開日時:明日9時 T",
        "掲載:明日 9時 T",
        "配信: 明日9時 T",
        "ＡＴ：tomorrow 9am T",
    ],
)
def test_publication_spellings(first: str) -> None:
    spec = parse(first + "\n本文")
    assert spec.publish_at == TOMORROW_9
    assert spec.title == "T"


@pytest.mark.parametrize(
    "first",
    [
        "掲載期限:金曜17時 T",
        "期限:金曜 17時 T",
        "終了:金曜17時 T",
        "until:friday 5pm T",
        "expires: fri 5pm T",
    ],
)
def test_expiry_spellings(first: str) -> None:
    spec = parse(first + "\n本文")
    assert spec.expires_at == FRIDAY_17
    assert spec.title == "T"


@pytest.mark.parametrize(
    ("words", "important", "ack"),
    [
        ("重要", True, False),
        ("important", True, False),
        ("IMPORTANT", True, False),
        ("!important", True, False),
        ("要確認", False, True),
        ("確認要", False, True),
        ("要了解", False, True),
        ("ack", False, True),
        ("ＡＣＫ", False, True),
        ("重要 要確認", True, True),
    ],
)
def test_flags(words: str, important: bool, ack: bool) -> None:
    spec = parse(f"{words} 題名\n本文")
    assert (spec.important, spec.ack_required) == (important, ack)
    assert spec.title == "題名"


def test_quoted_title_keeps_its_spaces() -> None:
    assert parse("重要 「窓口 時間 変更」\n本文").title == "窓口 時間 変更"


def test_title_words_around_the_options() -> None:
    spec = parse("窓口 重要 時間の 要確認 変更\n本文")
    assert spec.title == "窓口 時間の 変更"
    assert spec.important and spec.ack_required


# --- dates followed by the title ---------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "when", "title"),
    [
        ("at: tomorrow 9am Title", TOMORROW_9, "Title"),
        ("at: tomorrow 9am Two words", TOMORROW_9, "Two words"),
        (
            "at: next monday 9:00 Staff meeting",
            datetime(2026, 11, 30, 9, 0, tzinfo=TOKYO),
            "Staff meeting",
        ),
        (
            "公開: 12月3日 17時 説明会 のお知らせ",
            datetime(2026, 12, 3, 17, 0, tzinfo=TOKYO),
            "説明会 のお知らせ",
        ),
        ("公開:令和8年12月3日 9時 説明会", datetime(2026, 12, 3, 9, 0, tzinfo=TOKYO), "説明会"),
        ("公開: 明日 9時 タイトル", TOMORROW_9, "タイトル"),
        ("at: 2時間後 T", datetime(2026, 11, 25, 12, 0, tzinfo=TOKYO), "T"),
    ],
)
def test_multi_word_dates_followed_by_the_title(first: str, when: datetime, title: str) -> None:
    spec = parse(first + "\n本文")
    assert spec.publish_at == when
    assert spec.title == title


def test_dates_stop_at_flags_and_other_options() -> None:
    spec = parse("at: tomorrow 9am important until: friday 5pm ack T\n本文")
    assert spec.publish_at == TOMORROW_9
    assert spec.expires_at == FRIDAY_17
    assert spec.important and spec.ack_required
    assert spec.title == "T"


def test_date_without_time_uses_the_default_time() -> None:
    spec = parse("掲載期限: 12/3 説明会\n本文")
    assert spec.expires_at == datetime(2026, 12, 3, 17, 0, tzinfo=TOKYO)
    assert spec.title == "説明会"


def test_options_in_any_order() -> None:
    spec = parse("until: friday 5pm at: tomorrow 9am T\n本文")
    assert (spec.publish_at, spec.expires_at) == (TOMORROW_9, FRIDAY_17)


# --- body --------------------------------------------------------------------------------


def test_body_keeps_its_line_breaks() -> None:
    body = (
        "窓口は次のとおりです。\n\n- 本庁舎: 休み\n- 支所: 午前のみ\n\n"
        "| 日 | 時間 |\n|---|---|\n| 29 | 9-12 |"
    )
    assert parse("重要 年末年始\n" + body).body == body


def test_body_is_trimmed_only_at_its_ends() -> None:
    # blank lines around it go; leading spaces stay (in Markdown they may mean code)
    spec = parse("宛先:全庁 重要 T\n\n  一行目\n\n二行目  \n\n")
    assert spec.body == "  一行目\n\n二行目"


def test_leading_blank_lines_before_the_first_line_are_ignored() -> None:
    spec = parse("\n\nTitle\nbody")
    assert (spec.title, spec.body) == ("Title", "body")


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "重要 要確認\n本文", "at: tomorrow 9am\n本文", "宛先:全庁\n本文", "「」\n本文"],
)
def test_missing_title(text: str) -> None:
    assert error(text).key == "announce.error.title_missing"


@pytest.mark.parametrize("text", ["題名", "題名\n", "題名\n   \n\n", "重要 題名\n\u3000"])
def test_missing_body(text: str) -> None:
    assert error(text).key == "announce.error.body_missing"


def test_title_and_body_too_long() -> None:
    e = error("x" * 11 + "\n本文", max_title=10)
    assert (e.key, e.params) == ("announce.error.title_too_long", {"max": 10})
    assert parse("x" * 10 + "\n本文", max_title=10).title == "x" * 10
    e = error("T\n" + "y" * 101, max_body=100)
    assert (e.key, e.params) == ("announce.error.body_too_long", {"max": 100})


@pytest.mark.parametrize(
    "first",
    [
        "公開:明後日 掲載期限:明日 T",
        "until: 1時間後 at: 2時間後 T",
        "at: 明日9時 until: 明日9時 T",  # equal is not after
    ],
)
def test_expiry_before_publication(first: str) -> None:
    assert error(first + "\n本文").key == "announce.error.expires_before_publish"


@pytest.mark.parametrize(
    ("first", "value"),
    [
        ("at: yesterday T", "yesterday"),
        ("公開:昨日 T", "昨日"),
        ("at: 2026/11/24 T", "2026/11/24"),
        ("掲載期限:2025年4月1日 T", "2025年4月1日"),
    ],
)
def test_past_date(first: str, value: str) -> None:
    e = error(first + "\n本文")
    assert e.key == "announce.error.date_past"
    assert e.params == {"value": value}


@pytest.mark.parametrize(
    ("first", "value"),
    [
        ("at: blah T", "blah"),
        ("公開:そのうち T", "そのうち"),
        ("at: T", "T"),
        ("until: 2月30日 T", "2月30日"),
        ("at: 25時 T", "25時"),
    ],
)
def test_unreadable_date(first: str, value: str) -> None:
    e = error(first + "\n本文")
    assert e.key == "announce.error.date"
    assert e.params == {"value": value}


@pytest.mark.parametrize("first", ["at:\n本文", "at: important T\n本文", "until: ack T\n本文"])
def test_option_without_a_date(first: str) -> None:
    e = error(first)
    assert e.key == "announce.error.date"
    assert e.params == {"value": ""}


def test_group_in_half_width_katakana_is_kept_whole() -> None:
    """Half-width katakana shrink under NFKC (ﾌﾞ -> ブ); the value must still be the whole
    word after the colon, not a slice of it misaligned by the normalisation."""
    spec = parse("宛先:ｷｶｸﾌﾞ T\n本文")
    assert spec.group is not None
    assert unicodedata.normalize("NFKC", spec.group) == "キカクブ"


# --- anything else is a CommandError -------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "宛先:",
        "公開:",
        "掲載期限:",
        "to:",
        "at:",
        "until:",
        "重要",
        "要確認",
        "important",
        "ack",
        "明日",
        "9時",
        "tomorrow",
        "9am",
        "12/3",
        "17:00",
        "令和8年12月3日",
        "2時間後",
        "in 99999999999 hours",
        "99999999999年1月1日",
        "9" * 30,
        "「",
        "」",
        '"',
        "：",
        "ｶﾞ",
        "\n",
        " ",
        "\u3000",
    ]
)
_TEXT = st.one_of(
    st.text(),
    st.lists(st.one_of(_WORDS, st.text(max_size=6))).map(" ".join),
    st.lists(_WORDS).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT, st.integers(min_value=10, max_value=300))
def test_arbitrary_text_raises_only_command_errors(text: str, limit: int) -> None:
    try:
        spec = parse(text, max_title=limit, max_body=limit * 10)
    except CommandError as exc:
        assert exc.key.startswith("announce.error.")
        return
    assert spec.title and spec.body
    assert len(spec.title) <= limit
    assert len(spec.body) <= limit * 10
    assert "\n" not in spec.title
    if spec.publish_at is not None:
        assert spec.publish_at >= NOW
    if spec.expires_at is not None:
        assert spec.expires_at > (spec.publish_at or NOW)
