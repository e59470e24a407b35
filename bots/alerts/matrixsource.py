"""Alerts posted in Matrix rooms: whether an event is one to take (pure).

`alerts.matrix_sources` names a room (e.g. the prefecture's shared disaster room, reached
over federation), the senders whose alerts the city takes, and the event form: a custom
event type carrying the CAP or JMA XML under a content key, or a text message whose body
is the XML. The sender of a federated event is vouched for by its homeserver's signature,
so a full user ID is what trust is decided by; display names never count.

The decision sees plain values. The alerts feature finds the sources of the event's room,
ingests what is taken (same safe parsing and size cap as webhooks and feeds) and logs
what is refused, never the content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bots.config_alerts import MESSAGE_EVENT_TYPE, MatrixSource


class Verdict(Enum):
    #: from a listed sender, with XML to parse
    TAKE = "take"
    #: the alert form, from someone the source does not list: ignored and logged
    UNTRUSTED = "untrusted"
    #: the alert form from a listed sender, but no XML string where config says
    UNREADABLE = "unreadable"
    #: not an alert event (another type, or chat in a room that takes text messages)
    NONE = "none"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    #: the XML, UTF-8 (TAKE only)
    document: bytes = b""
    #: why it is refused (for the log; never quotes the content)
    reason: str = ""


NOT_AN_ALERT = Decision(Verdict.NONE)


def sources_of_type(sources: Sequence[MatrixSource], event_type: str) -> list[MatrixSource]:
    return [s for s in sources if s.event_type == event_type]


def looks_like_xml(text: str) -> bool:
    """A text message that is meant as an XML document (a chat line never starts so)."""
    return text.lstrip("\ufeff \t\r\n").startswith("<")


def decide(
    sources: Sequence[MatrixSource],
    sender: str,
    event_type: str,
    content: Mapping[str, Any],
) -> Decision:
    """What to do with an event of the room these `sources` name.

    A text message (`m.room.message`) counts only when it is an `m.text` whose body is
    XML: the room's ordinary chat is none of the alerts' business.
    """
    matching = sources_of_type(sources, event_type)
    if not matching:
        return NOT_AN_ALERT
    if event_type == MESSAGE_EVENT_TYPE:
        body = content.get("body")
        if content.get("msgtype") != "m.text" or not isinstance(body, str):
            return NOT_AN_ALERT
        if not looks_like_xml(body):
            return NOT_AN_ALERT
    trusted = next((s for s in matching if sender in s.senders), None)
    if trusted is None:
        return Decision(
            Verdict.UNTRUSTED, reason="the sender is not listed in alerts.matrix_sources"
        )
    value = content.get(trusted.key)
    if not isinstance(value, str) or not value.strip():
        return Decision(
            Verdict.UNREADABLE, reason=f"no XML string under the content key {trusted.key!r}"
        )
    return Decision(Verdict.TAKE, document=value.encode("utf-8"))
