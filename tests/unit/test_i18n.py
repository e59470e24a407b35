"""Message catalogs: Japanese and English with the same keys and placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bots.commands.router import Role
from bots.i18n import DEFAULT_LANGUAGE, LANGUAGES, Catalog

BOTS_DIR = Path(__file__).resolve().parents[2] / "bots"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_languages() -> None:
    assert set(LANGUAGES) == {"ja", "en"}
    assert DEFAULT_LANGUAGE == "ja"


def test_catalogs_have_the_same_keys(catalog: Catalog) -> None:
    ja, en = catalog.keys("ja"), catalog.keys("en")
    assert ja, "the Japanese catalog is empty"
    assert sorted(ja - en) == [], "missing in en.yaml"
    assert sorted(en - ja) == [], "missing in ja.yaml"


def test_every_japanese_placeholder_is_in_the_english_message(catalog: Catalog) -> None:
    problems = {}
    for key in sorted(catalog.keys("ja")):
        missing = placeholders(catalog.t("ja", key)) - placeholders(catalog.t("en", key))
        if missing:
            problems[key] = sorted(missing)
    assert problems == {}


def test_english_uses_no_placeholder_unknown_to_japanese(catalog: Catalog) -> None:
    problems = {}
    for key in sorted(catalog.keys("en")):
        extra = placeholders(catalog.t("en", key)) - placeholders(catalog.t("ja", key))
        if extra:
            problems[key] = sorted(extra)
    assert problems == {}


def test_every_message_formats_with_its_placeholders(catalog: Catalog) -> None:
    for lang in LANGUAGES:
        for key in catalog.keys(lang):
            params = {name: "X" for name in placeholders(catalog.t(lang, key))}
            if params:
                assert "{" not in catalog.t(lang, key, **params), (lang, key)


def test_unknown_language_falls_back_to_japanese(catalog: Catalog) -> None:
    assert catalog.t("fr", "help.header") == catalog.t("ja", "help.header")
    assert catalog.t("fr", "error.usage", usage="!x") == catalog.t("ja", "error.usage", usage="!x")


def test_key_missing_in_a_language_falls_back_to_japanese() -> None:
    catalog = Catalog({"ja": {"only.ja": "日本語 {n}"}, "en": {}})
    assert catalog.t("en", "only.ja", n=1) == "日本語 1"


def test_key_missing_everywhere_fails_loudly(catalog: Catalog) -> None:
    with pytest.raises(KeyError):
        catalog.t("en", "no.such.key")


def test_messages_are_really_translated(catalog: Catalog) -> None:
    assert catalog.t("en", "help.header") != catalog.t("ja", "help.header")
    assert catalog.t("en", "error.internal") != catalog.t("ja", "error.internal")


def test_every_role_has_a_name(catalog: Catalog) -> None:
    for role in Role:
        assert f"role.{role.value}" in catalog.keys("ja")


def test_keys_used_in_the_code_exist(catalog: Catalog) -> None:
    prefixes = sorted({key.split(".", 1)[0] for key in catalog.keys("ja")})
    alternatives = "|".join(prefixes)
    pattern = re.compile(rf"[\"']((?:{alternatives})\.[a-z_]+(?:\.[a-z_]+)*)[\"']")
    used: set[str] = set()
    for path in BOTS_DIR.rglob("*.py"):
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert used, "no catalog keys found in the code: the pattern is wrong"
    assert sorted(used - catalog.keys("ja")) == []
