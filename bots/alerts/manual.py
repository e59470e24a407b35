"""Manual alerts by disaster officers, written as CAP 1.2 so that they take exactly the
same path as official ones (parse → state → routing → fan-out)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape

from bots.commands.errors import CommandError

LEVELS = {
    "info": "info",
    "情報": "info",
    "お知らせ": "info",
    "advisory": "advisory",
    "注意報": "advisory",
    "注意": "advisory",
    "warning": "warning",
    "警報": "warning",
    "emergency": "emergency",
    "緊急": "emergency",
    "特別警報": "emergency",
}
_CAP_SEVERITY = {
    "info": "Unknown",
    "advisory": "Minor",
    "warning": "Severe",
    "emergency": "Extreme",
}


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text as XML character data: escaped, and without characters XML cannot carry (a
    form feed pasted from a PDF would otherwise make the document unreadable)."""
    return escape(_XML_ILLEGAL.sub(" ", text))


def parse_level(word: str) -> str:
    level = LEVELS.get(unicodedata.normalize("NFKC", word).strip().casefold())
    if level is None:
        raise CommandError("alert.error.level", value=word)
    return level


def manual_cap(
    number: int,
    author: str,
    level: str,
    title: str,
    body: str,
    sent: datetime,
    city_codes: Sequence[str],
    cancel_of: datetime | None = None,
) -> bytes:
    """The CAP document of manual alert `number` (or its Cancel, when `cancel_of` is the
    original's sent time)."""
    identifier = f"yakuba-manual-{number}"
    sender = xml_text(author)
    stamp = sent.isoformat(timespec="seconds")
    if cancel_of is not None:
        original = cancel_of.isoformat(timespec="seconds")
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
            f"<identifier>{identifier}-cancel</identifier><sender>{sender}</sender>"
            f"<sent>{stamp}</sent><status>Actual</status><msgType>Cancel</msgType>"
            f"<scope>Public</scope><references>{sender},{identifier},{original}</references>"
            "</alert>"
        ).encode()
    geocodes = "".join(
        f"<geocode><valueName>JIS</valueName><value>{xml_text(code)}</value></geocode>"
        for code in city_codes
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{identifier}</identifier><sender>{sender}</sender>"
        f"<sent>{stamp}</sent><status>Actual</status><msgType>Alert</msgType>"
        "<scope>Public</scope><info><language>ja-JP</language><category>Safety</category>"
        f"<event>{xml_text(title)}</event><urgency>Immediate</urgency>"
        f"<severity>{_CAP_SEVERITY[level]}</severity><certainty>Observed</certainty>"
        f"<senderName>{sender}</senderName><headline>{xml_text(title)}</headline>"
        f"<description>{xml_text(body or title)}</description>"
        f"<area><areaDesc>市内全域</areaDesc>{geocodes}</area></info></alert>"
    ).encode()
