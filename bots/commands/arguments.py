"""Typed command arguments. Each knows how to read itself from the remaining words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bots.commands.errors import UsageError

_USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-\[\]:]+$")


@dataclass(frozen=True)
class Arg:
    """Base: one word. `label` is a catalog key shown in usage texts."""

    name: str
    label: str = "arg.text"
    optional: bool = False

    def usage(self, t: Any) -> str:
        text = t(self.label)
        return f"[{text}]" if self.optional else f"<{text}>"

    def take(self, words: list[str], mentions: Sequence[str]) -> Any:
        if not words:
            if self.optional:
                return None
            raise UsageError("error.missing_argument", argument=self.name)
        return self.convert(words.pop(0))

    def convert(self, word: str) -> Any:
        return word


@dataclass(frozen=True)
class Word(Arg):
    pass


@dataclass(frozen=True)
class Number(Arg):
    label: str = "arg.number"

    def convert(self, word: str) -> Any:
        try:
            return int(unicodedata.normalize("NFKC", word))
        except ValueError:
            raise UsageError("error.bad_argument", argument=self.name, problem=word) from None


@dataclass(frozen=True)
class User(Arg):
    """A full user ID, typed or from a mention pill (Element puts the pill's user in
    `m.mentions.user_ids` and its display name in the body)."""

    label: str = "arg.user"

    def take(self, words: list[str], mentions: Sequence[str]) -> Any:
        if words and _USER_ID.match(words[0]):
            return words.pop(0)
        if words and mentions:
            # the body holds the pill's display name: consume it, trust m.mentions
            words.pop(0)
            return mentions[0]
        return super().take(words, mentions)

    def convert(self, word: str) -> Any:
        raise UsageError("error.bad_argument", argument=self.name, problem=word)


@dataclass(frozen=True)
class Rest(Arg):
    """Everything that is left, joined by spaces."""

    def take(self, words: list[str], mentions: Sequence[str]) -> Any:
        if not words:
            return super().take(words, mentions)
        text = " ".join(words)
        words.clear()
        return text
