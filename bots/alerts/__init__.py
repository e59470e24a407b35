"""Official alerts (CAP, EDXL-DE, Atom, JMA 防災情報XML) parsed safely into one model."""

from __future__ import annotations

from bots.alerts.levels import SeismicIntensity, Severity, TsunamiGrade
from bots.alerts.model import (
    Alert,
    AlertDocument,
    AlertKey,
    CapKey,
    CapReference,
    DocumentFormat,
    FeedLink,
    JmaKey,
    JmaSeriesKey,
    MsgType,
    Origin,
    Status,
)
from bots.alerts.parse import parse_alert_document, parse_document, parse_files
from bots.alerts.xmlsafe import AlertParseError

__all__ = [
    "Alert",
    "AlertDocument",
    "AlertKey",
    "AlertParseError",
    "CapKey",
    "CapReference",
    "DocumentFormat",
    "FeedLink",
    "JmaKey",
    "JmaSeriesKey",
    "MsgType",
    "Origin",
    "SeismicIntensity",
    "Severity",
    "Status",
    "TsunamiGrade",
    "parse_alert_document",
    "parse_document",
    "parse_files",
]
