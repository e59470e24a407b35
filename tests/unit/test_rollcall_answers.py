"""Reading a roll-call answer (bots/rollcall/answers.py): numbers, keycap and other
reactions, words in Japanese and English, the note, poll responses, and merging."""

from __future__ import annotations

import pytest

from bots.rollcall.answers import OPTIONS, from_poll, from_reaction, from_text, merge, option
from bots.rollcall.model import Answer, Attendance, Kind, Safety

ANPI, STAFFING = Kind.ANPI, Kind.STAFFING
SAFE, MINOR, SERIOUS = Safety.SAFE, Safety.MINOR, Safety.SERIOUS
YES, NO = Attendance.YES, Attendance.NO

# the five choices of the safety question, as the poll, the digits and the keycaps offer them
ANPI_CHOICES = {
    "1": Answer(SAFE, YES),
    "2": Answer(SAFE, NO),
    "3": Answer(MINOR, YES),
    "4": Answer(MINOR, NO),
    "5": Answer(SERIOUS, NO),
}
STAFFING_CHOICES = {"1": Answer(attendance=YES), "2": Answer(attendance=NO)}


def test_the_options_are_the_choices_the_question_offers() -> None:
    assert {o.id: o.answer for o in OPTIONS[ANPI]} == ANPI_CHOICES
    assert {o.id: o.answer for o in OPTIONS[STAFFING]} == STAFFING_CHOICES
    assert option(ANPI, "5") is not None
    assert option(STAFFING, "3") is None


# --- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("digit", sorted(ANPI_CHOICES))
def test_a_number_alone_is_that_choice(digit: str) -> None:
    assert from_text(ANPI, digit) == ANPI_CHOICES[digit]


@pytest.mark.parametrize(
    ("text", "digit"),
    [("３", "3"), ("１", "1"), (" ５ ", "5"), ("2.", "2"), ("４。", "4"), ("1)", "1")],
)
def test_full_width_and_punctuated_numbers(text: str, digit: str) -> None:
    assert from_text(ANPI, text) == ANPI_CHOICES[digit]


def test_staffing_numbers() -> None:
    assert from_text(STAFFING, "1") == STAFFING_CHOICES["1"]
    assert from_text(STAFFING, "２") == STAFFING_CHOICES["2"]
    assert from_text(STAFFING, "3") is None  # the staffing question offers two choices


@pytest.mark.parametrize("text", ["0", "6", "9", "10", "15", "123"])
def test_a_number_that_is_no_choice_is_no_answer(text: str) -> None:
    assert from_text(ANPI, text) is None


def test_a_number_with_more_text_keeps_the_rest_as_the_note() -> None:
    assert from_text(ANPI, "3 足をくじきました") == Answer(MINOR, YES, "足をくじきました")
    assert from_text(ANPI, "４、自宅が半壊、家族と避難所にいます") == Answer(
        MINOR, NO, "自宅が半壊、家族と避難所にいます"
    )
    assert from_text(STAFFING, "1 30分で着きます") == Answer(None, YES, "30分で着きます")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2時間後に出勤できます", Answer(None, YES)),  # not choice 2 (safe, cannot come)
        ("1時間ほどで行けます", Answer(None, YES)),
        ("3日は出勤できません", Answer(None, NO)),  # not choice 3 (minor injury, can come)
        ("2 hours from now I can come", Answer(None, YES)),
    ],
)
def test_a_leading_quantity_is_not_a_choice(text: str, expected: Answer) -> None:
    got = from_text(ANPI, text)
    assert got is not None
    assert (got.safety, got.attendance) == (expected.safety, expected.attendance)
    assert got.note == text  # what the reply says beyond the answer is kept


# --- reactions ---------------------------------------------------------------------------


@pytest.mark.parametrize("digit", sorted(ANPI_CHOICES))
def test_keycap_reactions_with_and_without_the_variation_selector(digit: str) -> None:
    with_fe0f = f"{digit}\ufe0f\u20e3"
    without = f"{digit}\u20e3"
    assert from_reaction(ANPI, with_fe0f) == ANPI_CHOICES[digit]
    assert from_reaction(ANPI, without) == ANPI_CHOICES[digit]


def test_keycap_reactions_for_staffing() -> None:
    assert from_reaction(STAFFING, "1️⃣") == Answer(attendance=YES)
    assert from_reaction(STAFFING, "2\u20e3") == Answer(attendance=NO)
    assert from_reaction(STAFFING, "3️⃣") is None


def test_a_keycap_beyond_the_choices_is_no_answer() -> None:
    assert from_reaction(ANPI, "6️⃣") is None
    assert from_reaction(ANPI, "9\u20e3") is None


@pytest.mark.parametrize("emoji", ["✅", "👍", "✔️", "🆗"])
def test_a_yes_reaction_is_safe_for_the_roll_call_and_coming_for_staffing(emoji: str) -> None:
    assert from_reaction(ANPI, emoji) == Answer(SAFE)  # says nothing about coming in
    assert from_reaction(STAFFING, emoji) == Answer(attendance=YES)


@pytest.mark.parametrize("emoji", ["❌", "🙅"])
def test_a_no_reaction_counts_only_for_staffing(emoji: str) -> None:
    assert from_reaction(STAFFING, emoji) == Answer(attendance=NO)
    assert from_reaction(ANPI, emoji) is None  # "no" to "are you safe?" is not an answer


@pytest.mark.parametrize("emoji", ["❤️", "😢", "🙏", "", "👀"])
def test_other_reactions_are_no_answer(emoji: str) -> None:
    assert from_reaction(ANPI, emoji) is None
    assert from_reaction(STAFFING, emoji) is None


# --- words: Japanese ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "safety", "attendance"),
    [
        ("無事", SAFE, None),
        ("無事です", SAFE, None),
        ("大丈夫です", SAFE, None),
        ("けがはありません", SAFE, None),  # names けが, but says there is none
        ("怪我はありません", SAFE, None),
        ("ケガはありません", SAFE, None),
        ("けがなし", SAFE, None),
        ("ケガなし、出勤可", SAFE, YES),
        ("怪我もなく無事です", SAFE, None),
        ("けがはしていません", SAFE, None),
        ("負傷はしていません", SAFE, None),
        ("軽傷", MINOR, None),
        ("軽傷です", MINOR, None),
        ("軽症です", MINOR, None),
        ("足をケガしました", MINOR, None),
        ("重傷", SERIOUS, None),
        ("重傷です", SERIOUS, None),
        ("大けがをしました", SERIOUS, None),
        ("出勤できます", None, YES),
        ("出勤可能", None, YES),
        ("出勤できない", None, NO),
        ("出勤できません", None, NO),
        ("出勤不可能です", None, NO),
        ("登庁できます", None, YES),
        ("登庁できません", None, NO),
        ("無事です。出勤できます", SAFE, YES),
        ("無事です。出勤できません", SAFE, NO),
        ("無事、出勤可能", SAFE, YES),
        ("けがはないが出勤できない", SAFE, NO),
        ("軽傷ですが出勤できます", MINOR, YES),
        ("重傷のため出勤できません", SERIOUS, NO),
    ],
)
def test_japanese_words_for_the_roll_call(
    text: str, safety: Safety | None, attendance: Attendance | None
) -> None:
    got = from_text(ANPI, text)
    assert got is not None
    assert (got.safety, got.attendance) == (safety, attendance)


@pytest.mark.parametrize(
    ("text", "attendance"),
    [
        ("参集します", YES),
        ("了解", YES),
        ("了解しました", YES),
        ("承知しました", YES),
        ("今から向かいます", YES),
        ("参集可能です", YES),
        ("参集できません", NO),
        ("行けません", NO),
        ("出勤不可", NO),
    ],
)
def test_japanese_words_for_staffing(text: str, attendance: Attendance) -> None:
    got = from_text(STAFFING, text)
    assert got is not None
    assert (got.safety, got.attendance) == (None, attendance)


def test_an_acknowledgement_is_coming_only_when_called_in() -> None:
    assert from_text(ANPI, "了解") is None  # does not say whether one is safe
    assert from_text(STAFFING, "了解") == Answer(attendance=YES)


def test_staffing_never_asks_about_injuries() -> None:
    got = from_text(STAFFING, "軽傷ですが参集します")
    assert got is not None
    assert (got.safety, got.attendance) == (None, YES)


# --- words: English ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "safety", "attendance"),
    [
        ("safe", SAFE, None),
        ("Safe", SAFE, None),
        ("I'm fine", SAFE, None),
        ("not injured", SAFE, None),
        ("minor injury", MINOR, None),
        ("Minor injury, can come", MINOR, YES),
        ("seriously injured", SERIOUS, None),
        ("can come", None, YES),
        ("cannot come", None, NO),
        ("I can't come", None, NO),
        ("safe, can come", SAFE, YES),
        ("Safe but cannot come in", SAFE, NO),
    ],
)
def test_english_words_for_the_roll_call(
    text: str, safety: Safety | None, attendance: Attendance | None
) -> None:
    got = from_text(ANPI, text)
    assert got is not None
    assert (got.safety, got.attendance) == (safety, attendance)


@pytest.mark.parametrize(
    ("text", "attendance"),
    [("coming", YES), ("On my way", YES), ("OK", YES), ("not coming", NO), ("unable", NO)],
)
def test_english_words_for_staffing(text: str, attendance: Attendance) -> None:
    got = from_text(STAFFING, text)
    assert got is not None
    assert got.attendance is attendance


# --- the note ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["無事", "無事です", "無事です。出勤できます", "出勤できます！", "safe, can come", "軽傷"],
)
def test_no_note_when_the_words_say_only_the_answer(text: str) -> None:
    got = from_text(ANPI, text)
    assert got is not None and got.note is None


@pytest.mark.parametrize(
    "text",
    [
        "無事ですが、子どもの迎えがあるので出勤できません",
        "無事です。ただし自宅が一部損壊",
        "足を怪我しました。出勤できません",
        "safe but the road is closed, cannot come",
    ],
)
def test_the_whole_reply_is_the_note_when_it_says_more(text: str) -> None:
    got = from_text(ANPI, text)
    assert got is not None
    assert got.note == text


@pytest.mark.parametrize(
    "text", ["", "   ", "こんにちは", "家族と連絡が取れません", "hello", "?", "👍"]
)
def test_text_that_names_no_choice_is_no_answer(text: str) -> None:
    assert from_text(ANPI, text) is None
    assert from_text(STAFFING, text) is None


# --- polls -------------------------------------------------------------------------------


def test_poll_answer_ids() -> None:
    for answer_id, answer in ANPI_CHOICES.items():
        assert from_poll(ANPI, [answer_id]) == answer
    assert from_poll(STAFFING, ["2"]) == Answer(attendance=NO)


def test_a_poll_response_takes_the_first_known_id() -> None:
    assert from_poll(ANPI, ["x", "4", "1"]) == ANPI_CHOICES["4"]
    assert from_poll(STAFFING, ["5", "1"]) == Answer(attendance=YES)


@pytest.mark.parametrize("ids", [[], ["6"], ["safe"], ["0", ""]])
def test_a_poll_response_without_a_known_id_is_no_answer(ids: list[str]) -> None:
    assert from_poll(ANPI, ids) is None


# --- merging -----------------------------------------------------------------------------


def test_a_later_partial_answer_keeps_what_it_does_not_say() -> None:
    first = Answer(SAFE, None, "自宅は無事")
    later = Answer(None, NO, None)
    assert merge(first, later) == Answer(SAFE, NO, "自宅は無事")


def test_a_later_answer_replaces_what_it_says() -> None:
    first = Answer(SAFE, YES, "最初のメモ")
    assert merge(first, Answer(MINOR, None, "足をひねった")) == Answer(MINOR, YES, "足をひねった")
    assert merge(first, Answer(None, NO)) == Answer(SAFE, NO, "最初のメモ")


def test_merging_a_reaction_after_words() -> None:
    words = from_text(ANPI, "出勤できません。道路が寸断されています")
    reaction = from_reaction(ANPI, "👍")
    assert words is not None and reaction is not None
    merged = merge(words, reaction)
    assert merged == Answer(SAFE, NO, "出勤できません。道路が寸断されています")
    assert not merged.is_empty
