"""Reading an answer from a reply, a reaction or a poll response (pure).

The question offers numbered choices; a reply may also say it in words (無事, 軽傷,
出勤できない, "safe, can come in"…), and whatever else it says is kept as the note.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bots.rollcall.model import Answer, Attendance, Kind, Safety


@dataclass(frozen=True)
class Option:
    id: str  # "1"…: the poll answer id, the reply digit and the keycap reaction
    answer: Answer
    label: str  # catalog key


OPTIONS: dict[Kind, tuple[Option, ...]] = {
    Kind.ANPI: (
        Option("1", Answer(Safety.SAFE, Attendance.YES), "rollcall.option.safe_yes"),
        Option("2", Answer(Safety.SAFE, Attendance.NO), "rollcall.option.safe_no"),
        Option("3", Answer(Safety.MINOR, Attendance.YES), "rollcall.option.minor_yes"),
        Option("4", Answer(Safety.MINOR, Attendance.NO), "rollcall.option.minor_no"),
        Option("5", Answer(Safety.SERIOUS, Attendance.NO), "rollcall.option.serious"),
    ),
    Kind.STAFFING: (
        Option("1", Answer(attendance=Attendance.YES), "rollcall.option.coming"),
        Option("2", Answer(attendance=Attendance.NO), "rollcall.option.not_coming"),
    ),
}

KEYCAPS = {f"{n}\ufe0f\u20e3": str(n) for n in range(1, 10)} | {
    f"{n}\u20e3": str(n) for n in range(1, 10)
}
_YES_EMOJI = {"✅", "✔️", "✔", "👍", "🆗", "⭕", "👌", "🙆"}
_NO_EMOJI = {"❌", "✖️", "🙅", "🚫"}

# words, most specific first; matched on NFKC-normalised, case-folded text
# "けがはありません", "怪我もなく", "ケガなし", "負傷はしていません"…
_UNHURT = (*(f"{injury}{particle}{none}" for injury in ("けが", "怪我", "ケガ", "負傷")
             for particle in ("は", "も", "")
             for none in ("ない", "なく", "なし", "無い", "無く", "無し", "ありません",
                          "していません", "してません")),
           "無傷", "not hurt", "not injur", "no injur", "unhurt", "uninjured")  # fmt: skip
_SERIOUS = ("重傷", "大けが", "大怪我", "大ケガ", "重症", "serious", "severe", "badly hurt")
_MINOR = ("軽傷", "軽症", "軽いけが", "軽い怪我", "軽いケガ", "けが", "怪我", "ケガ", "負傷",
          "minor", "injur", "hurt")  # fmt: skip
_SAFE = ("無事", "ぶじ", "安全", "大丈夫", "元気", "safe", "fine", "ok", "okay")
_CANNOT = ("出勤不可能", "出勤不可", "出勤できない", "出勤できません", "出勤は無理",
           "参集不可能", "参集不可", "参集できない", "参集できません", "登庁不可能", "登庁不可",
           "登庁できない", "登庁できません", "行けない", "行けません", "いけない", "いけません",
           "向かえない", "向かえません", "cannot", "can't", "cant", "unable", "not able",
           "not coming")  # fmt: skip
_CAN = ("出勤可能", "出勤可", "出勤できる", "出勤できます", "出勤します", "参集可能", "参集可",
        "参集できる", "参集できます", "参集します", "登庁可能", "登庁可", "登庁できる",
        "登庁できます", "登庁します", "行ける", "行けます", "向かいます", "向かえます",
        "can come", "coming", "on my way", "will come", "available")  # fmt: skip
_ACK = ("了解", "りょうかい", "承知", "わかりました", "分かりました", "acknowledged", "ack",
        "yes", "ok", "okay", "roger")  # fmt: skip

# a leading choice number, not a quantity ("2時間後に行けます", "1 hour")
_LEADING_CHOICE = re.compile(
    r"^\s*([1-9])(?![0-9])(?!\s*(?:時|分|日|人|名|階|回|秒|週|km|キロ|h\b|hours?\b|min))"
    r"[\s.、。:：)）-]*"
)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def _has(text: str, words: tuple[str, ...]) -> str | None:
    for word in words:
        if word.isascii():
            if re.search(rf"(?<![a-z]){re.escape(word)}", text):
                return word
        elif word in text:
            return word
    return None


def option(kind: Kind, option_id: str) -> Option | None:
    return next((o for o in OPTIONS[kind] if o.id == option_id), None)


def from_text(kind: Kind, text: str) -> Answer | None:
    """The answer a reply gives, or None if it names no choice (a note alone is no answer)."""
    plain = normalise(text)
    if not plain:
        return None
    found = _LEADING_CHOICE.match(plain)
    if found:
        chosen = option(kind, found.group(1))
        if chosen is None:
            return None
        rest = unicodedata.normalize("NFKC", text).strip()[found.end() :].strip()
        return Answer(chosen.answer.safety, chosen.answer.attendance, rest or None)
    used: list[str] = []
    safety: Safety | None = None
    attendance: Attendance | None = None
    if kind is Kind.ANPI:
        for words, value in (
            (_UNHURT, Safety.SAFE),
            (_SERIOUS, Safety.SERIOUS),
            (_MINOR, Safety.MINOR),
            (_SAFE, Safety.SAFE),
        ):
            word = _has(plain, words)
            if word:
                safety = value
                used.append(word)
                break
    no = _has(plain, _CANNOT)
    yes = _has(plain, _CAN) or (_has(plain, _ACK) if kind is Kind.STAFFING else None)
    if no or yes:
        attendance = Attendance.NO if no else Attendance.YES
        used.append(no or yes or "")
    if safety is None and attendance is None:
        return None
    return Answer(safety, attendance, _note(text, plain, used))


def _note(text: str, plain: str, used: list[str]) -> str | None:
    """The reply itself, when it says more than the words that made the answer."""
    rest = plain
    for word in used:
        rest = rest.replace(word, " ")
    rest = re.sub(r"[\s、。,.!！?？・/です。ます]+", "", rest)
    return text.strip() if rest else None


def from_reaction(kind: Kind, key: str) -> Answer | None:
    emoji = key.strip()
    if emoji in KEYCAPS or emoji.isdigit():
        chosen = option(kind, KEYCAPS.get(emoji, emoji))
        return chosen.answer if chosen else None
    if emoji in _YES_EMOJI:
        return Answer(Safety.SAFE) if kind is Kind.ANPI else Answer(attendance=Attendance.YES)
    if emoji in _NO_EMOJI and kind is Kind.STAFFING:
        return Answer(attendance=Attendance.NO)
    return None


def from_poll(kind: Kind, answer_ids: list[str]) -> Answer | None:
    """A poll response: the first answer id that is one of the options."""
    for answer_id in answer_ids:
        chosen = option(kind, str(answer_id))
        if chosen is not None:
            return chosen.answer
    return None


def merge(old: Answer, new: Answer) -> Answer:
    """A later answer replaces what it says and keeps what it does not."""
    return Answer(
        new.safety or old.safety,
        new.attendance or old.attendance,
        new.note if new.note is not None else old.note,
    )
