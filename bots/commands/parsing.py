"""Turning a message body into command words and arguments.

Full-width forms are normalised (NFKC), so `！ヘルプ` and `!ヘルプ` are the same command;
arguments may be quoted with "…" or 「…」; the ideographic space separates words.
"""

from __future__ import annotations

import unicodedata

PREFIXES = ("!", "！")
_QUOTES = {'"': '"', "「": "」", "“": "”"}


def is_command(body: str) -> bool:
    return body.lstrip().startswith(PREFIXES)


def tokenize(text: str) -> list[str]:
    """Split on any whitespace, keeping quoted parts together (without their quotes)."""
    tokens: list[str] = []
    current: list[str] = []
    closing: str | None = None
    quoted = False
    for ch in text:
        if closing is not None:
            if ch == closing:
                closing = None
            else:
                current.append(ch)
        elif ch in _QUOTES and not current:
            closing = _QUOTES[ch]
            quoted = True
        elif ch.isspace():
            if current or quoted:
                tokens.append("".join(current))
            current, quoted = [], False
        else:
            current.append(ch)
    if current or quoted:
        tokens.append("".join(current))
    return tokens


def command_words(body: str) -> list[str]:
    """The tokens of a command message, the prefix removed; [] if it is not a command."""
    stripped = body.strip()
    if not stripped.startswith(PREFIXES):
        return []
    return tokenize(stripped[1:])


def normalise_name(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()
