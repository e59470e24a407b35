"""An alert as a room message: Japanese first, plain and HTML (pure)."""

from __future__ import annotations

import html
from typing import Any
from zoneinfo import ZoneInfo

from bots.alerts.levels import Severity
from bots.alerts.model import Alert, Status
from bots.alerts.routing import Concern
from bots.i18n import Catalog, format_datetime
from bots.matrix import content as mc

_ICON = {
    Severity.EMERGENCY: "🚨",
    Severity.WARNING: "⚠️",
    Severity.ADVISORY: "⚠",
    Severity.INFO: "ℹ️",
}
MAX_AREAS = 12


def alert_content(
    alert: Alert,
    concern: Concern,
    state: str,
    catalog: Catalog,
    lang: str,
    tz: ZoneInfo,
    notify_room: bool,
) -> dict[str, Any]:
    """`state`: active, withdrawn, lifted or expired."""
    t = catalog.t
    marks = ""
    if alert.status is Status.EXERCISE:
        marks += t(lang, "alert.mark.exercise")
    elif alert.status is Status.TEST:
        marks += t(lang, "alert.mark.test")
    if state in ("withdrawn", "lifted", "expired"):
        marks += t(lang, f"alert.mark.{state}")
    info = alert.infos_in(["ja", "en"] if lang == "ja" else ["en", "ja"])
    first = info[0] if info else None
    title = (first.headline or first.event) if first else (alert.headline or alert.title)
    if alert.jma is not None:
        title = alert.title
    head = f"{_ICON[concern.severity]} {marks}{title}"
    if alert.delayed:
        head += t(lang, "alert.mark.delayed")
    lines = [head]
    headline = alert.headline if alert.jma is not None else (first.description if first else "")
    if headline:
        lines.append(headline.strip())
    if concern.area_names:
        shown = list(concern.area_names[:MAX_AREAS])
        if len(concern.area_names) > MAX_AREAS:
            shown.append(t(lang, "alert.more_areas", count=len(concern.area_names) - MAX_AREAS))
        lines.append(t(lang, "alert.field.areas", areas="、".join(shown)))
    if concern.intensity is not None:
        lines.append(t(lang, "alert.field.intensity", intensity=concern.intensity.label[2:]))
    else:
        level = t(lang, f"alert.level.{concern.severity.name.lower()}")
        lines.append(t(lang, "alert.field.level", level=level))
    lines.append(t(lang, "alert.field.sent", at=format_datetime(alert.sent, lang, tz, year=True)))
    if first and first.instruction:
        lines.append(t(lang, "alert.field.instruction", text=first.instruction.strip()))
    source = (
        alert.jma.editorial_office
        if alert.jma is not None
        else (first.sender_name if first and first.sender_name else _sender(alert))
    )
    if source:
        lines.append(t(lang, "alert.field.source", source=source))
    link = first.web if first and first.web else None
    if link:
        lines.append(t(lang, "alert.field.link", url=link))
    body = "\n".join(lines)
    html_lines = [f"<h4>{html.escape(head)}</h4>"] + [
        f"<p>{html.escape(line)}</p>" for line in lines[1:] if not (link and line.endswith(link))
    ]
    if link:
        safe = html.escape(link, quote=True)
        html_lines.append(f'<p><a href="{safe}">{html.escape(link)}</a></p>')
    return mc.message(
        body,
        html_body="".join(html_lines),
        msgtype="m.text",
        mention_room=notify_room and state == "active",
    )


def _sender(alert: Alert) -> str:
    key = alert.key
    return str(getattr(key, "sender", ""))
