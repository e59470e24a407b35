"""Turning a message body into command words and arguments.

Full-width forms are normalised (NFKC), so `！ヘルプ` and `!ヘルプ` are the same command;
arguments may be quoted with "…" or 「…」; the ideographic space separates words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

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


class _PillText(HTMLParser):
    """Text of an HTML body with user pills turned back into user IDs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0  # inside <mx-reply> (a reply fallback)
        self._pill: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "mx-reply":
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "a" and not self._skip:
            href = dict(attrs).get("href") or ""
            match = _PILL.match(href)
            if match:
                self._pill = unquote(match.group(1))
                self.parts.append(self._pill)

    def handle_endtag(self, tag: str) -> None:
        if tag == "mx-reply" and self._skip:
            self._skip -= 1
        elif tag == "a":
            self._pill = None
        elif tag in ("p", "div", "li"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and self._pill is None:
            self.parts.append(data)


_PILL = re.compile(r"^https://matrix\.to/#/(@[^/?]+)")


def command_text(content: Mapping[str, Any]) -> str:
    """The text a command is read from.

    Element writes a mention pill as the person's display name in `body` (which may
    contain spaces) and as a matrix.to link in `formatted_body`; the link is what names
    the user, so the HTML body is preferred when there is one.
    """
    body = content.get("body")
    formatted = content.get("formatted_body")
    if content.get("format") == "org.matrix.custom.html" and isinstance(formatted, str):
        parser = _PillText()
        parser.feed(formatted)
        parser.close()
        return "".join(parser.parts).strip()
    return _strip_reply_fallback(body if isinstance(body, str) else "")


def _strip_reply_fallback(body: str) -> str:
    lines = body.split("\n")
    if lines and lines[0].startswith("> "):
        while lines and lines[0].startswith(">"):
            lines.pop(0)
        if lines and not lines[0].strip():
            lines.pop(0)
    return "\n".join(lines)
