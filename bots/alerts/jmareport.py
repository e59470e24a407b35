"""What a JMA 防災情報XML report carries besides its key: head, areas and their levels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bots.alerts.levels import SeismicIntensity, Severity, TsunamiGrade

# Item statuses that mean "no longer / not in effect here"
INACTIVE_STATUSES = frozenset({"解除", "なし", "発表警報・注意報はなし", ""})


@dataclass(frozen=True)
class JmaCodedName:
    name: str
    code: str = ""


@dataclass(frozen=True)
class JmaHeadlineItem:
    """``Head/Headline/Information/Item``: kinds announced for a set of areas."""

    information_type: str  # Information/@type, e.g. 気象警報・注意報（市町村等）
    kinds: tuple[JmaCodedName, ...]
    areas: tuple[JmaCodedName, ...]
    conditions: tuple[str, ...] = ()  # Kind/Condition, e.g. 土砂災害、浸水害


@dataclass(frozen=True)
class JmaWarningKind:
    """One kind in one area: ``大雨特別警報`` with status ``発表``."""

    name: str
    code: str
    status: str  # 発表, 継続, 解除, 特別警報から警報, 発表警報・注意報はなし, なし…
    condition: str = ""
    last_kind: str = ""  # LastKind/Name: what was in effect before
    severity: Severity = Severity.INFO  # of the kind itself, whatever its status

    @property
    def active(self) -> bool:
        """In effect after this report (a 解除 is a normal 発表 whose item says 解除)."""
        return self.status not in INACTIVE_STATUSES and bool(self.name)


@dataclass(frozen=True)
class JmaWarningArea:
    """``Body/Warning/Item``: one area and its kinds."""

    warning_type: str  # Warning/@type, e.g. 気象警報・注意報（市町村等）
    name: str
    code: str  # municipalities: 7 digits (JIS X 0402 5 digits + 2)
    kinds: tuple[JmaWarningKind, ...]
    change_status: str = ""  # 警報・注意報種別に変化有, 変化無…

    @property
    def is_municipality(self) -> bool:
        return len(self.code) == 7 and self.code.isdigit()

    @property
    def jis_code(self) -> str:
        """The 5-digit JIS municipality code (``3220100`` → ``32201``); empty for
        codes that are not municipality codes."""
        return self.code[:5] if self.is_municipality else ""

    @property
    def active_kinds(self) -> tuple[JmaWarningKind, ...]:
        return tuple(k for k in self.kinds if k.active)

    @property
    def severity(self) -> Severity:
        return max((k.severity for k in self.active_kinds), default=Severity.INFO)


@dataclass(frozen=True)
class Hypocenter:
    name: str
    code: str = ""
    lat: float | None = None
    lon: float | None = None
    depth_km: float | None = None  # None when unknown
    description: str = (
        ""  # Coordinate/@description, e.g. 北緯３４．８度　東経１３８．５度　深さ　１０ｋｍ
    )


@dataclass(frozen=True)
class Earthquake:
    origin_time: datetime | None
    hypocenter: Hypocenter | None
    magnitude: float | None  # None when unknown (NaN in the XML)
    magnitude_type: str = ""  # Mj, Mw…
    magnitude_description: str = ""  # Ｍ５．９, Ｍ８を超える巨大地震…


@dataclass(frozen=True)
class IntensityArea:
    """An observed intensity for a prefecture, an area (細分区域) or a city (市町村)."""

    level: str  # "pref", "area" or "city"
    name: str
    code: str  # cities: 7-digit municipality codes
    intensity: SeismicIntensity | None  # None: not known (e.g. 震度５弱以上未入電)
    parent_code: str = ""
    condition: str = ""

    @property
    def jis_code(self) -> str:
        return self.code[:5] if self.level == "city" and len(self.code) == 7 else ""


@dataclass(frozen=True)
class IntensityForecastArea:
    """緊急地震速報: the intensity expected in one area."""

    name: str
    code: str
    kind: str  # 緊急地震速報（警報）, 緊急地震速報（予報）
    lowest: SeismicIntensity | None  # ForecastInt/From
    highest: SeismicIntensity | None  # ForecastInt/To; None with highest_over: "程度以上"
    highest_over: bool = False
    arrival_time: datetime | None = None
    condition: str = ""  # e.g. 既に主要動到達と推測


@dataclass(frozen=True)
class TsunamiForecast:
    """``Body/Tsunami/Forecast/Item``: one forecast area and its grade."""

    name: str
    code: str
    kind: str  # Category/Kind/Name as sent, e.g. 大津波警報：発表
    grade: TsunamiGrade
    last_kind: str = ""
    lifted: bool = False  # the kind says 解除
    first_arrival: datetime | None = None
    arrival_condition: str = ""  # e.g. 津波到達中と推測, ただちに津波来襲と予測
    max_height_m: float | None = None
    max_height_description: str = ""  # e.g. 巨大, 高い, ３ｍ


@dataclass(frozen=True)
class JmaDetails:
    """The JMA-only part of an alert."""

    control_title: str  # Control/Title: names the message type (series key part)
    editorial_office: str
    publishing_office: str
    title: str  # Head/Title
    report_datetime: datetime
    info_type: str  # 発表, 訂正, 遅延, 取消 as sent
    info_kind: str
    event_id: str = ""
    target_datetime: datetime | None = None
    serial: str = ""
    info_kind_version: str = ""
    headline: str = ""
    headline_items: tuple[JmaHeadlineItem, ...] = ()
    warnings: tuple[JmaWarningArea, ...] = ()
    earthquake: Earthquake | None = None
    max_intensity: SeismicIntensity | None = None  # observed, or EEW lower bound
    intensities: tuple[IntensityArea, ...] = ()
    intensity_forecast: tuple[IntensityForecastArea, ...] = ()
    tsunami: tuple[TsunamiForecast, ...] = ()
    text: str = ""  # Body/Text or Body/Comment/Text (e.g. a 取消's explanation)

    def warning_areas(self, warning_type_contains: str = "") -> tuple[JmaWarningArea, ...]:
        return tuple(w for w in self.warnings if warning_type_contains in w.warning_type)

    def municipalities(self) -> tuple[JmaWarningArea, ...]:
        """Warning areas that are municipalities (7-digit codes)."""
        return tuple(w for w in self.warnings if w.is_municipality)
