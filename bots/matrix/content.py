"""Message contents as plain values: plain body, HTML body and `m.mentions` on every one."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

JsonDict = dict[str, Any]


def message(
    body: str,
    *,
    html_body: str | None = None,
    msgtype: str = "m.notice",
    mention_users: Sequence[str] = (),
    mention_room: bool = False,
    reply_to: str | None = None,
) -> JsonDict:
    """An `m.room.message` content. `html_body` defaults to the escaped plain text."""
    mentions: JsonDict = {}
    if mention_users:
        mentions["user_ids"] = sorted(set(mention_users))
    if mention_room:
        mentions["room"] = True
    content: JsonDict = {
        "msgtype": msgtype,
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": html_body if html_body is not None else text_to_html(body),
        "m.mentions": mentions,
    }
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return content


def text_to_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def lines_to_html(header: str, items: Sequence[str], footer: str | None = None) -> str:
    parts = [f"<p>{html.escape(header)}</p>", "<ul>"]
    parts += [f"<li>{html.escape(item)}</li>" for item in items]
    parts.append("</ul>")
    if footer:
        parts.append(f"<p>{html.escape(footer)}</p>")
    return "".join(parts)


def edit_content(event_id: str, new_content: JsonDict) -> JsonDict:
    """An m.replace edit of `event_id` with `new_content` (a full message content).

    The fallback body starts with "* " as clients expect; mentions in an edit only
    notify people who were not mentioned before, so the outer `m.mentions` is empty.
    """
    new = {k: v for k, v in new_content.items() if k != "m.relates_to"}
    outer: JsonDict = {
        "msgtype": new.get("msgtype", "m.text"),
        "body": "* " + str(new.get("body", "")),
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        "m.mentions": {},
    }
    if "formatted_body" in new:
        outer["format"] = "org.matrix.custom.html"
        outer["formatted_body"] = "* " + str(new["formatted_body"])
    return outer


def file_content(
    filename: str, mimetype: str, size: int, mxc: str, keys: JsonDict | None
) -> JsonDict:
    """An m.file message; `keys` (from an encrypted upload) turn `url` into `file`."""
    content: JsonDict = {
        "msgtype": "m.file",
        "body": filename,
        "filename": filename,
        "info": {"mimetype": mimetype, "size": size},
        "m.mentions": {},
    }
    if keys is not None:
        content["file"] = {"url": mxc, **keys}
    else:
        content["url"] = mxc
    return content
