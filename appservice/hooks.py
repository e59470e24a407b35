"""Inbound webhooks: signed by the internal system, handled once, posted to the room.

`POST /hooks/{hook_id}` → verify the Standard Webhooks signature → once per webhook-id →
render the configured template over the JSON → post as the system's virtual user (or,
in an encrypted room, through a yakuba bot naming the system), or turn it into a task.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bots.config_bridge import Hook
from bots.matrix import content as mc
from bots.store.database import Database
from bots.tasks.model import Priority
from bots.tasks.syntax import parse_priority

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


class HookError(Exception):
    """Rejected input; `status` and a JSON-safe message for the caller."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Rendered:
    body: str
    html: str | None


class Templates:
    """Jinja2 in a sandbox: templates come from IT's config, payloads from outside."""

    def __init__(self) -> None:
        self._text = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._html = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)

    def render(self, hook: Hook, payload: Any) -> Rendered:
        assert hook.template is not None
        try:
            body = self._text.from_string(hook.template.body).render(payload=payload)
            html = (
                self._html.from_string(hook.template.html).render(payload=payload)
                if hook.template.html
                else None
            )
        except TemplateError as exc:
            raise HookError(
                422, "M_INVALID_PARAM", f"the payload does not fit the hook's template: {exc}"
            ) from None
        body = body.strip()
        if not body:
            raise HookError(422, "M_INVALID_PARAM", "the template rendered an empty message")
        return Rendered(body[:30_000], html[:60_000] if html else None)


def parse_payload(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise HookError(400, "M_NOT_JSON", "the body is not valid JSON") from None


def message_content(hook: Hook, rendered: Rendered, prefix: str | None = None) -> dict[str, Any]:
    """The Matrix message; `prefix` names the system when a bot posts for it."""
    body, html = rendered.body, rendered.html
    if prefix:
        body = f"[{prefix}] {body}"
        html = f"<b>[{mc.text_to_html(prefix)}]</b> {html or mc.text_to_html(rendered.body)}"
    return mc.message(body, html_body=html, msgtype="m.text", mention_room=hook.mention_room)


class ReceiptStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def first_time(self, hook_id: str, webhook_id: str, now_ms: int) -> bool:
        """Record a webhook-id; False if it was received before (a replay)."""
        changed = await self._db.execute(
            "INSERT INTO webhook_receipts (hook_id, webhook_id, received_at) VALUES (?, ?, ?)"
            " ON CONFLICT (hook_id, webhook_id) DO NOTHING",
            (hook_id, webhook_id[:200], now_ms),
        )
        return changed > 0

    async def seen(self, hook_id: str, webhook_id: str) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM webhook_receipts WHERE hook_id = ? AND webhook_id = ?",
            (hook_id, webhook_id[:200]),
        )
        return row is not None


def task_fields(payload: Any, max_title: int) -> tuple[str, list[str], datetime | None, Priority]:
    if not isinstance(payload, dict):
        raise HookError(400, "M_BAD_JSON", "a task hook needs a JSON object")
    title = payload.get("title")
    if not isinstance(title, str) or not title.strip():
        raise HookError(400, "M_BAD_JSON", "'title' must be a non-empty string")
    if len(title) > max_title:
        raise HookError(400, "M_BAD_JSON", f"'title' is longer than {max_title} characters")
    assignees = payload.get("assignees", [])
    if not isinstance(assignees, list) or not all(isinstance(a, str) for a in assignees):
        raise HookError(400, "M_BAD_JSON", "'assignees' must be a list of user IDs")
    due: datetime | None = None
    if payload.get("due") is not None:
        try:
            due = datetime.fromisoformat(str(payload["due"]))
        except ValueError:
            raise HookError(400, "M_BAD_JSON", "'due' must be an ISO 8601 date-time") from None
        if due.tzinfo is None:
            raise HookError(400, "M_BAD_JSON", "'due' needs a time zone offset")
    try:
        priority = parse_priority(str(payload.get("priority", "normal")))
    except Exception:
        raise HookError(400, "M_BAD_JSON", "'priority' must be high, normal or low") from None
    return title.strip(), assignees, due, priority
