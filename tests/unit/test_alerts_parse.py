"""Format detection, envelopes (EDXL-DE, Atom), every sample file, files and the CLI."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots.alerts import (
    AlertParseError,
    CapKey,
    DocumentFormat,
    MsgType,
    Severity,
    Status,
    parse_alert_document,
    parse_document,
    parse_files,
)
from bots.alerts.parse import alert_parse_cli
from tests.samples import SAMPLES as shared_samples

SAMPLES = shared_samples
# the samples are part of the workplace (../shared beside the repository): never skip
assert SAMPLES.is_dir(), f"samples not found at {SAMPLES}"

# What every sample file yields: (format, number of alerts, number of links) or the
# start of the reason it is refused. A new file in the folders fails the coverage test
# until it is listed here.
EXPECTED: dict[str, tuple[DocumentFormat, int, int] | str] = {
    "cap/43b080713727.cap": (DocumentFormat.CAP, 1, 0),
    "cap/CanadaNaad.xml": (DocumentFormat.CAP, 1, 0),
    "cap/KAR0-0306112239-SW.cap": (DocumentFormat.CAP, 1, 0),
    "cap/NOAA_MultiplePolygons.txt": (DocumentFormat.CAP, 1, 0),
    "cap/australia.cap": (DocumentFormat.CAP, 1, 0),
    "cap/bushfire_invalid.edxlde": "required element <identifier> is missing",
    "cap/bushfire_valid.edxlde": (DocumentFormat.EDXL_DE, 59, 0),
    "cap/canada.cap": (DocumentFormat.CAP, 1, 0),
    "cap/canada_errors.cap": "<references> is empty, but msgType Update",
    "cap/invalid.cap": "required element <scope> is missing",
    "cap/invalid_xmlns.cap": "<alert> has namespace 'urn:oasis:names:tc:emergency:alerts:1.2'",
    "cap/no_entries.atom": (DocumentFormat.ATOM, 0, 0),
    "cap/no_info_tag.cap": (DocumentFormat.CAP, 1, 0),
    "cap/no_optional_fields.cap": (DocumentFormat.CAP, 1, 0),
    "cap/noaa_errors.cap": "<urgency> is empty",
    "cap/ph.cap": (DocumentFormat.CAP, 1, 0),
    "cap/rfs.xml": (DocumentFormat.EDXL_DE, 1, 0),
    "cap/taiwan.cap": (DocumentFormat.CAP, 1, 0),
    "cap/thunderstorm.cap": (DocumentFormat.CAP, 1, 0),
    "cap/us_nws_weather.atom": (DocumentFormat.ATOM, 0, 2),
    "cap/wcatwc-warning.cap": (DocumentFormat.CAP, 1, 0),
    "cap/weather.cap": (DocumentFormat.CAP, 1, 0),
    "cap/weather_invalid.atom": "<identifier> 'INVALID,' contains a space, comma",
    "cap/xee.atom": "a DTD (<!DOCTYPE ...>) is not allowed",
    "cap/xee.cap": "a DTD (<!DOCTYPE ...>) is not allowed",
    **{
        f"jma/{name}": (DocumentFormat.JMA, 1, 0)
        for name in (
            "01_01_03_091210_VGSK50.xml",
            "06_02_01_100514_VPTI50.xml",
            "15_12_01_161130_VPWW53.xml",
            "15_12_01_161130_VPWW54.xml",
            "15_15_01_220314_VPWW54.xml",
            "15_17_01_250630_VPWW55.xml",
            "17_01_01_190529_VXWW50.xml",
            "18_03_01_190412_VPOA50.xml",
            "32-35_01_01_100806_VXSE51.xml",
            "32-35_01_03_240613_VXSE53.xml",
            "32-35_04_04_240613_VXSE53.xml",
            "32-35_06_06_100915_VXSE53.xml",
            "32-35_10_01_220510_VXSE51.xml",
            "32-39_11_02_250206_VTSE41.xml",
            "37_01_03_240613_VXSE43.xml",
            "38-39_03_01_210805_VTSE41.xml",
            "54_01_01_100514_VXSE42.xml",
            "74_03_01_220318_VYSE50.xml",
        )
    },
}


def sample_files() -> list[str]:
    names = [
        f"{folder}/{path.name}"
        for folder in ("cap", "jma")
        for path in sorted((SAMPLES / folder).iterdir())
        if path.is_file() and not path.name.startswith("LICENSE")
    ]
    return names


def test_every_sample_file_has_an_expectation() -> None:
    assert sorted(sample_files()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(AlertParseError) as caught:
            parse_document(data)
        assert caught.value.reason.startswith(expected), caught.value.reason
        return
    document = parse_document(data)
    assert (document.format, len(document.alerts), len(document.links)) == expected
    for alert in document.alerts:
        assert alert.sent.utcoffset() is not None
        encoded = json.dumps(alert.to_json(), ensure_ascii=False)  # JSON-able all the way
        assert json.loads(encoded)["origin"] == alert.origin.value


def test_edxl_de_refusal_names_the_content_object() -> None:
    with pytest.raises(AlertParseError) as caught:
        parse_document((SAMPLES / "cap/bushfire_invalid.edxlde").read_bytes())
    assert caught.value.where == (
        "/EDXLDistribution/contentObject[2]/xmlContent/embeddedXMLContent/alert/identifier"
    )
    # an empty <alert> misses every required element; all are reported
    assert [r for r, _ in caught.value.problems] == [
        f"required element <{name}> is missing"
        for name in ("identifier", "sender", "sent", "status", "msgType", "scope")
    ]


def test_edxl_de_alerts_in_order() -> None:
    alerts = parse_alert_document((SAMPLES / "cap/bushfire_valid.edxlde").read_bytes())
    assert alerts[0].key == CapKey("webmaster@rfs.nsw.gov.au", "2014-11-09T23:04:00-00:00:177062")
    assert (
        alerts[0].title == "Other Non-Urgent Alerts" and alerts[0].headline == "Barham Rd, Barham"
    )
    assert alerts[-1].key == CapKey("webmaster@rfs.nsw.gov.au", "2014-11-10T05:09:00-00:00:175789")
    assert [a.title for a in alerts].count("Bushfire") == 40
    assert {a.severity for a in alerts} == {Severity.ADVISORY, Severity.WARNING}
    assert len({a.key for a in alerts}) == 59
    (single,) = parse_alert_document((SAMPLES / "cap/rfs.xml").read_bytes())
    assert single.title == "Other Non-Urgent Alerts"
    assert single.infos_in()[0].areas[0].circles[0].radius_km == 0.0


def test_atom_index_feed_yields_links_to_fetch() -> None:
    document = parse_document((SAMPLES / "cap/us_nws_weather.atom").read_bytes())
    assert document.alerts == ()
    first, second = document.links
    assert first.href.endswith(
        "WindAdvisory.125154105F10NM.ABQNPWABQ.2d2ce3a407282ee33ba256baac0e8f3c"
    )
    assert first.href == first.entry_id
    assert first.title.startswith("Wind Advisory issued May 10")
    assert second.title.startswith("High Wind Warning")
    assert first.updated == datetime(2014, 5, 11, 4, 0, tzinfo=UTC)


def test_empty_feed_is_not_an_error() -> None:
    # An active-alerts feed with nothing active is normal. The <alert> directly under
    # <feed> is foreign markup (RFC 4287 section 6), not an entry, so it is ignored.
    document = parse_document((SAMPLES / "cap/no_entries.atom").read_bytes())
    assert (document.format, document.alerts, document.links) == (DocumentFormat.ATOM, (), ())


ATOM_WITH_CAP = b"""<feed xmlns="http://www.w3.org/2005/Atom"><id>f</id>
<entry><id>e1</id><title>t</title><updated>2003-06-17T21:57:00Z</updated>
<content type="application/cap+xml">%s</content></entry>
<entry><id>e2</id><link rel="self" href="http://x/self"/><link href="http://x/alert.xml"/></entry>
<entry><id>e3</id><content type="application/cap+xml" src="http://x/src.cap"/></entry>
</feed>"""


def test_atom_entries_carrying_cap_and_linking_to_it() -> None:
    thunderstorm = (SAMPLES / "cap/thunderstorm.cap").read_bytes().split(b"?>", 1)[1]
    document = parse_document(ATOM_WITH_CAP % thunderstorm)
    (alert,) = document.alerts
    assert alert.key == CapKey("KSTO@NWS.NOAA.GOV", "KSTO1055887203")
    assert [(link.entry_id, link.href) for link in document.links] == [
        ("e2", "http://x/alert.xml"),
        ("e3", "http://x/src.cap"),
    ]


def test_atom_feed_of_cap_11_alerts_with_an_invalid_one() -> None:
    with pytest.raises(AlertParseError) as caught:
        parse_document((SAMPLES / "cap/weather_invalid.atom").read_bytes())
    assert caught.value.where == "/feed/entry/content/alert/identifier"


def test_xee_atom_is_refused_before_anything_is_read() -> None:
    with pytest.raises(AlertParseError) as caught:
        parse_document((SAMPLES / "cap/xee.atom").read_bytes())
    assert caught.value.reason.startswith("a DTD (<!DOCTYPE ...>) is not allowed")


def test_unknown_documents_are_refused_by_their_root() -> None:
    with pytest.raises(AlertParseError) as caught:
        parse_document(b"<html xmlns='http://www.w3.org/1999/xhtml'><body/></html>")
    assert caught.value.where == "/html"
    assert caught.value.reason.startswith("not an alert document: root element <html>")


def test_parse_files_and_the_cli(tmp_path: Path) -> None:
    good = SAMPLES / "cap/no_info_tag.cap"
    bad = SAMPLES / "cap/invalid.cap"
    missing = tmp_path / "missing.xml"
    results = dict(parse_files([good, bad, missing]))
    alerts = results[good]
    assert isinstance(alerts, list) and alerts[0].msg_type is MsgType.CANCEL
    assert isinstance(results[bad], AlertParseError)
    assert isinstance(results[missing], AlertParseError)

    out, err = io.StringIO(), io.StringIO()
    assert alert_parse_cli([good, SAMPLES / "jma/54_01_01_100514_VXSE42.xml"], out, err) == 0
    assert err.getvalue() == ""
    decoder = json.JSONDecoder()
    text = out.getvalue()
    first, end = decoder.raw_decode(text)
    second, _ = decoder.raw_decode(text, end + 1)
    assert first["file"] == str(good) and first["alerts"][0]["msg_type"] == "cancel"
    assert first["alerts"][0]["key"] == {
        "sender": "AtHoc",
        "identifier": "1017033100951096-517189320160225203219800_Cancel",
    }
    assert second["alerts"][0]["status"] == Status.TEST.value
    assert second["alerts"][0]["is_real_alert"] is False
    assert second["alerts"][0]["title"] == "緊急地震速報配信テスト"  # not escaped

    out, err = io.StringIO(), io.StringIO()
    assert alert_parse_cli([good, bad], out, err) == 1
    assert err.getvalue() == (f"{bad}: required element <scope> is missing (at /alert/scope)\n")


def test_oversized_file_is_not_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"<a>" + b" " * (6 * 1024 * 1024) + b"</a>")
    ((_, result),) = parse_files([big])
    assert isinstance(result, AlertParseError)
    assert result.reason == "document is larger than the limit of 5242880 bytes"
