"""Ordered levels that routing rules compare: severity, seismic intensity, tsunami grade."""

from __future__ import annotations

import unicodedata
from enum import IntEnum


class Severity(IntEnum):
    """One scale for every origin, so a room can say "WARNING and above".

    - INFO: information, forecasts, lifted warnings, CAP severity Unknown
    - ADVISORY: 注意報, 津波注意報, CAP Minor, 震度4
    - WARNING: 警報, 土砂災害警戒情報, 記録的短時間大雨情報, 津波警報,
      CAP Moderate/Severe, 震度5弱–5強
    - EMERGENCY: 特別警報, 大津波警報, 緊急地震速報（警報）, CAP Extreme, 震度6弱 and above
    """

    INFO = 0
    ADVISORY = 1
    WARNING = 2
    EMERGENCY = 3

    def __json__(self) -> str:
        return self.name.lower()


_INTENSITY_LABELS = ("0", "1", "2", "3", "4", "5弱", "5強", "6弱", "6強", "7")
_INTENSITY_CODES = ("0", "1", "2", "3", "4", "5-", "5+", "6-", "6+", "7")


class SeismicIntensity(IntEnum):
    """JMA seismic intensity (震度) in its real order, so 震度5弱以上 is ``>= FIVE_LOWER``."""

    ZERO = 0
    ONE = 1
    TWO = 2
    THREE = 3
    FOUR = 4
    FIVE_LOWER = 5  # 5弱, coded "5-"
    FIVE_UPPER = 6  # 5強, coded "5+"
    SIX_LOWER = 7  # 6弱, coded "6-"
    SIX_UPPER = 8  # 6強, coded "6+"
    SEVEN = 9

    @property
    def label(self) -> str:
        """How people read it: ``震度5弱``."""
        return "震度" + _INTENSITY_LABELS[self.value]

    @property
    def code(self) -> str:
        """How JMA XML codes it: ``5-``."""
        return _INTENSITY_CODES[self.value]

    @classmethod
    def parse(cls, text: str) -> SeismicIntensity | None:
        """Read ``5-``, ``5+``, ``5弱``, ``震度５強``, ``7``…; ``None`` for anything else
        (``不明``, ``over``, empty)."""
        value = unicodedata.normalize("NFKC", text).strip().removeprefix("震度").strip()
        for table in (_INTENSITY_CODES, _INTENSITY_LABELS):
            if value in table:
                return cls(table.index(value))
        return None

    def __json__(self) -> str:
        return _INTENSITY_LABELS[self.value]

    def severity(self) -> Severity:
        if self >= SeismicIntensity.SIX_LOWER:
            return Severity.EMERGENCY
        if self >= SeismicIntensity.FIVE_LOWER:
            return Severity.WARNING
        if self >= SeismicIntensity.FOUR:
            return Severity.ADVISORY
        return Severity.INFO


class TsunamiGrade(IntEnum):
    """Grade of a tsunami forecast area (津波予報区)."""

    NONE = 0  # 津波なし, or a warning/advisory lifted (解除)
    FORECAST = 1  # 津波予報（若干の海面変動）
    ADVISORY = 2  # 津波注意報
    WARNING = 3  # 津波警報
    MAJOR_WARNING = 4  # 大津波警報

    @classmethod
    def from_kind(cls, name: str) -> TsunamiGrade:
        """From a ``Category/Kind/Name`` such as ``大津波警報：発表`` or ``津波注意報解除``."""
        if name.startswith("津波予報"):
            return cls.FORECAST
        if "解除" in name:
            return cls.NONE
        if name.startswith("大津波警報"):
            return cls.MAJOR_WARNING
        if name.startswith("津波警報"):
            return cls.WARNING
        if name.startswith("津波注意報"):
            return cls.ADVISORY
        return cls.NONE

    def severity(self) -> Severity:
        return {
            TsunamiGrade.MAJOR_WARNING: Severity.EMERGENCY,
            TsunamiGrade.WARNING: Severity.WARNING,
            TsunamiGrade.ADVISORY: Severity.ADVISORY,
        }.get(self, Severity.INFO)

    def __json__(self) -> str:
        return self.name.lower()


def warning_kind_severity(kind_name: str, warning_type: str) -> Severity:
    """Severity of one 気象警報・注意報 kind (``大雨特別警報``, ``レベル３大雨警報``,
    ``雷注意報``…), read from its name so new kinds and new names keep working."""
    if "特別警報" in kind_name:
        return Severity.EMERGENCY
    if "警報" in kind_name:
        return Severity.WARNING
    if "注意報" in kind_name:
        return Severity.ADVISORY
    if "土砂災害警戒情報" in warning_type or "記録的短時間大雨情報" in warning_type:
        return Severity.WARNING
    return Severity.INFO
