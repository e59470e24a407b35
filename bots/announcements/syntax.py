"""Reading `!announce` / `!お知らせ` (pure, no I/O).

    !お知らせ 宛先:全庁 公開:明日9時 掲載期限:金曜17時 重要 要確認 年末年始の窓口業務
    (改行の後が本文。Markdown が使えます)

    !announce to:all at: tomorrow 9am until: friday 5pm important ack Counter hours
    (the body follows on the next lines, in Markdown)

The first line holds the options and the title; every following line is the body.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bots.commands.errors import CommandError
from bots.commands.parsing import tokenize
from bots.tasks.dates import DateParseError, parse_when

_TO = ("to", "宛先", "あて先", "送信先")
_AT = ("at", "公開", "公開日時", "掲載", "配信")
_UNTIL = ("until", "expires", "掲載期限", "期限", "終了")
_IMPORTANT = ("important", "重要", "!important")
_ACK = ("ack", "要確認", "確認要", "要了解")


@dataclass
class AnnouncementSpec:
    title: str = ""
    body: str = ""
    group: str | None = None
    publish_at: datetime | None = None
    expires_at: datetime | None = None
    important: bool = False
    ack_required: bool = False


def _norm(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


def _key(word: str) -> tuple[str, str] | None:
    """('to' | 'at' | 'until', the value written after the colon) for an option word."""
    text = unicodedata.normalize("NFKC", word)
    if ":" not in text:
        return None
    key, _, rest = text.partition(":")
    for name, keys in (("to", _TO), ("at", _AT), ("until", _UNTIL)):
        if key.casefold() in keys:
            return name, rest
    return None


def parse_announcement(
    text: str, now: datetime, tz: ZoneInfo, *, max_title: int, max_body: int
) -> AnnouncementSpec:
    """`text` is everything after the command name, line breaks kept."""
    first, _, body = text.strip("\n").partition("\n")
    words = tokenize(first)
    spec = AnnouncementSpec()
    title: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        keyed = _key(word)
        i += 1
        if keyed is not None:
            name, rest = keyed
            values = [rest] if rest else []
            if name == "to":
                if not values and i < len(words) and _norm(words[i]) not in (*_IMPORTANT, *_ACK):
                    values, i = [words[i]], i + 1
                spec.group = " ".join(values).strip() or None
                continue
            flags = (*_IMPORTANT, *_ACK)
            while i < len(words) and _key(words[i]) is None and _norm(words[i]) not in flags:
                values.append(words[i])
                i += 1
            # the date is the longest run of words that reads as one; the rest is the title
            when, used = _longest_date(values, now, tz)
            title.extend(values[used:])
            if name == "at":
                spec.publish_at = when
            else:
                spec.expires_at = when
        elif _norm(word) in _IMPORTANT:
            spec.important = True
        elif _norm(word) in _ACK:
            spec.ack_required = True
        else:
            title.append(word)
    spec.title = " ".join(title).strip()
    spec.body = body.strip("\n").rstrip()  # leading spaces may be Markdown (code blocks)
    if not spec.title:
        raise CommandError("announce.error.title_missing")
    if not spec.body:
        raise CommandError("announce.error.body_missing")
    if len(spec.title) > max_title:
        raise CommandError("announce.error.title_too_long", max=max_title)
    if len(spec.body) > max_body:
        raise CommandError("announce.error.body_too_long", max=max_body)
    start = spec.publish_at or now
    if spec.expires_at is not None and spec.expires_at <= start:
        raise CommandError("announce.error.expires_before_publish")
    return spec


def _longest_date(words: list[str], now: datetime, tz: ZoneInfo) -> tuple[datetime, int]:
    for used in range(min(len(words), 6), 0, -1):
        try:
            return parse_when(" ".join(words[:used]), now, tz), used
        except DateParseError as exc:
            if exc.reason == "past":
                raise CommandError(
                    "announce.error.date_past", value=" ".join(words[:used])
                ) from None
    return _when(" ".join(words[:1]), now, tz), 1


def _when(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    if not text.strip():
        raise CommandError("announce.error.date", value=text)
    try:
        return parse_when(text, now, tz)
    except DateParseError as exc:
        key = "announce.error.date_past" if exc.reason == "past" else "announce.error.date"
        raise CommandError(key, value=text) from None
