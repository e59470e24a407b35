"""The internal alert model: one shape for CAP and JMA alerts, plain frozen values.

Everything downstream (state, routing, delivery) works on :class:`Alert`:

- ``key`` identifies the message: :class:`CapKey` (sender, identifier) or
  :class:`JmaKey` (the message's own id plus the :class:`JmaSeriesKey` a 取消 or 訂正
  is matched by);
- ``status`` and ``msg_type`` say whether it is real and what it does;
  ``is_real_alert`` is the one test for "may reach staff as a real alert";
- ``references`` (CAP) name the alerts an Update replaces or a Cancel withdraws;
- ``severity`` and ``max_intensity`` are ordered, for routing thresholds;
- ``cap`` or ``jma`` hold the origin-specific detail.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from bots.alerts.capinfo import CapDetails, CapInfo
from bots.alerts.jmareport import JmaDetails
from bots.alerts.levels import SeismicIntensity, Severity


class Origin(StrEnum):
    CAP = "cap"
    JMA = "jma"


class Status(StrEnum):
    """CAP status; JMA Control/Status 通常 → ACTUAL, 訓練 → EXERCISE, 試験 → TEST."""

    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"
    SYSTEM = "system"
    DRAFT = "draft"


class MsgType(StrEnum):
    """CAP msgType; JMA InfoType 発表 → ALERT, 訂正 → UPDATE, 遅延 → ALERT (delayed),
    取消 → CANCEL."""

    ALERT = "alert"
    UPDATE = "update"
    CANCEL = "cancel"
    ACK = "ack"
    ERROR = "error"

    @property
    def is_alert(self) -> bool:
        """Ack and Error are messages about messages, not alerts."""
        return self in (MsgType.ALERT, MsgType.UPDATE, MsgType.CANCEL)


@dataclass(frozen=True)
class CapKey:
    """A CAP alert is identified by (sender, identifier)."""

    sender: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.sender},{self.identifier}"


@dataclass(frozen=True)
class CapReference:
    """One ``sender,identifier,sent`` triple of ``<references>``."""

    sender: str
    identifier: str
    sent: datetime

    @property
    def key(self) -> CapKey:
        return CapKey(self.sender, self.identifier)


@dataclass(frozen=True)
class JmaSeriesKey:
    """What a 取消 or 訂正 is matched by: Control/Title, EditorialOffice and EventID
    (a 取消 names no message id)."""

    title: str
    editorial_office: str
    event_id: str

    def __str__(self) -> str:
        return f"{self.title}|{self.editorial_office}|{self.event_id}"


@dataclass(frozen=True)
class JmaKey:
    """A JMA message: its own id (Control/Title, EditorialOffice, Control/DateTime,
    InfoType and Serial; stable across re-deliveries of the same message) and its
    series."""

    message_id: str
    series: JmaSeriesKey

    def __str__(self) -> str:
        return self.message_id


AlertKey = CapKey | JmaKey


@dataclass(frozen=True)
class Alert:
    origin: Origin
    key: AlertKey
    sent: datetime  # aware; CAP <sent>, JMA Control/DateTime
    status: Status
    msg_type: MsgType
    severity: Severity  # normalised, for routing thresholds
    title: str  # CAP: event of the first info (or the identifier); JMA: Head/Title
    headline: str = ""  # CAP: headline of the first info; JMA: Head/Headline/Text
    references: tuple[CapReference, ...] = ()
    expires: datetime | None = None  # latest <expires> of the infos; JMA: ValidDateTime
    delayed: bool = False  # JMA 遅延
    max_intensity: SeismicIntensity | None = None  # earthquakes: observed or EEW lower bound
    cap: CapDetails | None = field(default=None, repr=False)
    jma: JmaDetails | None = field(default=None, repr=False)

    @property
    def is_real_alert(self) -> bool:
        """Status Actual and msgType Alert/Update/Cancel: may reach staff as real.
        Exercise, Test, System, Draft, Ack and Error never do."""
        return self.status is Status.ACTUAL and self.msg_type.is_alert

    def is_expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires

    def infos_in(self, preferred: Sequence[str] = ()) -> tuple[CapInfo, ...]:
        """CAP: the info blocks in the reader's language (see :meth:`CapDetails.infos_in`)."""
        return self.cap.infos_in(preferred) if self.cap is not None else ()

    def to_json(self) -> dict[str, JsonValue]:
        out = to_jsonable(self)
        assert isinstance(out, dict)
        out["key"] = _key_json(self.key)
        out["is_real_alert"] = self.is_real_alert
        return out


def _key_json(key: AlertKey) -> dict[str, JsonValue]:
    if isinstance(key, CapKey):
        return {"sender": key.sender, "identifier": key.identifier}
    return {"message_id": key.message_id, "series": to_jsonable(key.series)}


@dataclass(frozen=True)
class FeedLink:
    """An Atom entry that only links to an alert: a poller fetches ``href``."""

    entry_id: str
    href: str
    title: str = ""
    updated: datetime | None = None


class DocumentFormat(StrEnum):
    CAP = "cap"
    EDXL_DE = "edxl-de"
    ATOM = "atom"
    JMA = "jma"


@dataclass(frozen=True)
class AlertDocument:
    """Everything one document yielded: alerts, and (Atom) links to fetch."""

    format: DocumentFormat
    alerts: tuple[Alert, ...] = ()
    links: tuple[FeedLink, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "format": self.format.value,
            "alerts": [a.to_json() for a in self.alerts],
            "links": [to_jsonable(link) for link in self.links],
        }


JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def to_jsonable(value: Any) -> JsonValue:
    """Dataclasses → dicts (empty and ``None`` fields left out), tuples → lists,
    datetimes → ISO 8601, enums → their ``__json__`` or value."""
    hook = getattr(value, "__json__", None)
    if callable(hook):
        result: JsonValue = hook()
        return result
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, JsonValue] = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if item is None or item == () or item == "":
                continue
            out[field.name] = to_jsonable(item)
        return out
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot turn {type(value).__name__} into JSON")
