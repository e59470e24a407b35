"""What an announcement looks like in a room (pure)."""

from __future__ import annotations

import html
from typing import Any

from markdown_it import MarkdownIt

from bots.announcements.model import Announcement
from bots.i18n import Catalog, format_datetime
from bots.matrix import content as mc

# CommonMark without raw HTML: what people type is never markup for someone else's client
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def markdown_html(text: str) -> str:
    return str(_MARKDOWN.render(text)).strip()


def announcement_content(ann: Announcement, catalog: Catalog, lang: str, tz: Any) -> dict[str, Any]:
    t = catalog.t
    head = t(lang, "announce.message.head", number=ann.id, title=ann.title)
    lines = [head, "", ann.body]
    footer = []
    if ann.expires_at is not None:
        footer.append(
            t(lang, "announce.message.until", at=format_datetime(ann.expires_at, lang, tz))
        )
    if ann.ack_required:
        footer.append(t(lang, "announce.message.ack_hint"))
    text = "\n".join([*lines, "", *footer] if footer else lines)
    html_body = f"<h4>{html.escape(head)}</h4>{markdown_html(ann.body)}" + "".join(
        f"<p><i>{html.escape(f)}</i></p>" for f in footer
    )
    return mc.message(text, html_body=html_body, msgtype="m.text", mention_room=ann.important)


def retracted_note(ann: Announcement, catalog: Catalog, lang: str) -> str:
    return catalog.t(lang, "announce.retracted", number=ann.id)
