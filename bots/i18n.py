"""Message catalogs: every user-facing text, in Japanese and English.

Catalogs are YAML files under `bots/locales/` (one per language, flat dotted keys). A key
missing in a language falls back to Japanese, the default; a key missing everywhere is a
programming error and fails loudly in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"


class Catalog:
    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self._messages = messages

    @classmethod
    def load(cls) -> Catalog:
        messages: dict[str, dict[str, str]] = {}
        for lang in LANGUAGES:
            text = resources.files("bots.locales").joinpath(f"{lang}.yaml").read_text("utf-8")
            data = yaml.safe_load(text) or {}
            messages[lang] = {str(k): str(v) for k, v in data.items()}
        return cls(messages)

    def keys(self, lang: str) -> set[str]:
        return set(self._messages.get(lang, {}))

    def t(self, lang: str, key: str, /, **params: Any) -> str:
        table = self._messages.get(lang) or self._messages[DEFAULT_LANGUAGE]
        template = table.get(key)
        if template is None:
            template = self._messages[DEFAULT_LANGUAGE][key]
        return template.format(**params) if params else template


_JA_WEEKDAYS = "月火水木金土日"
_EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_datetime(value: datetime, lang: str, tz: tzinfo, *, year: bool = False) -> str:
    """'12月3日(木) 17:00' / 'Thu 3 Dec 17:00' in the reader's time zone."""
    local = value.astimezone(tz)
    if lang == "en":
        text = f"{_EN_WEEKDAYS[local.weekday()]} {local.day} {_EN_MONTHS[local.month - 1]}"
        if year:
            text += f" {local.year}"
        return f"{text} {local:%H:%M}"
    prefix = f"{local.year}年" if year else ""
    return f"{prefix}{local.month}月{local.day}日({_JA_WEEKDAYS[local.weekday()]}) {local:%H:%M}"
