"""CAP 1.2/1.1 samples (../shared/samples/cap) parsed into the model: hand-checked values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bots.alerts import AlertParseError, CapKey, MsgType, Origin, Severity, Status
from bots.alerts.capinfo import CapSeverity, Category, Certainty, Circle, ResponseType, Urgency
from bots.alerts.model import Alert, CapReference
from bots.alerts.parse import parse_alert_document
from tests.samples import SAMPLES as shared_samples

SAMPLES = shared_samples
CAP = SAMPLES / "cap"
# the samples are part of the workplace (../shared beside the repository): never skip
assert CAP.is_dir(), f"alert samples not found at {CAP}"


def one(name: str) -> Alert:
    alerts = parse_alert_document((CAP / name).read_bytes())
    assert len(alerts) == 1
    return alerts[0]


def refusal(name: str) -> AlertParseError:
    with pytest.raises(AlertParseError) as caught:
        parse_alert_document((CAP / name).read_bytes())
    return caught.value


def tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def test_thunderstorm_oasis_example() -> None:
    alert = one("thunderstorm.cap")
    assert alert.origin is Origin.CAP
    assert alert.key == CapKey("KSTO@NWS.NOAA.GOV", "KSTO1055887203")
    assert alert.sent == datetime(2003, 6, 17, 14, 57, tzinfo=tz(-7))
    assert (alert.status, alert.msg_type) == (Status.ACTUAL, MsgType.ALERT)
    assert alert.is_real_alert
    assert alert.severity is Severity.WARNING  # CAP Severe
    assert alert.references == ()
    assert alert.expires == datetime(2003, 6, 17, 16, 0, tzinfo=tz(-7))
    assert alert.cap is not None and alert.cap.version == "1.2"
    (info,) = alert.cap.infos
    assert info.language == "en-US"  # no <language>: en-US
    assert info.categories == (Category.MET,)
    assert info.event == alert.title == "SEVERE THUNDERSTORM"
    assert (info.urgency, info.severity, info.certainty) == (
        Urgency.IMMEDIATE,
        CapSeverity.SEVERE,
        Certainty.OBSERVED,
    )
    assert info.response_types == (ResponseType.SHELTER,)
    assert info.event_code_values("SAME") == ("SVR",)
    assert info.headline == alert.headline == "SEVERE THUNDERSTORM WARNING"
    assert info.sender_name == "NATIONAL WEATHER SERVICE SACRAMENTO CA"
    assert info.instruction == "TAKE COVER IN A SUBSTANTIAL SHELTER UNTIL THE STORM PASSES."
    (area,) = info.areas
    assert area.description.startswith("EXTREME NORTH CENTRAL TUOLUMNE COUNTY")
    assert area.polygons == (
        ((38.47, -120.14), (38.34, -119.95), (38.52, -119.74), (38.62, -119.89), (38.47, -120.14)),
    )
    assert area.geocode_values("SAME") == ("006109", "006009", "006003")


def test_homeland_security_example_parameters_and_resource() -> None:
    alert = one("43b080713727.cap")
    assert alert.key == CapKey("hsas@dhs.gov", "43b080713727")
    assert alert.cap is not None
    (info,) = alert.cap.infos
    assert info.categories == (Category.SECURITY,)
    assert info.certainty is Certainty.LIKELY
    assert info.parameter_values("HSAS") == ("ORANGE",)
    assert info.web == "http://www.dhs.gov/dhspublic/display?theme=29"
    (resource,) = info.resources
    assert (resource.description, resource.mime_type) == ("Image file (GIF)", "image/gif")
    assert info.areas[0].description == "U.S. nationwide and interests worldwide"
    assert info.areas[0].polygons == () and info.areas[0].geocodes == ()


def test_amber_alert_cap_11() -> None:
    alert = one("KAR0-0306112239-SW.cap")
    assert alert.cap is not None and alert.cap.version == "1.1"
    assert alert.key == CapKey("KARO@CLETS.DOJ.CA.GOV", "KAR0-0306112239-SW")
    assert alert.cap.source == "SW"
    (info,) = alert.cap.infos
    assert (info.event, info.categories) == ("Child Abduction", (Category.RESCUE,))
    assert info.headline == "AMBER ALERT"
    assert info.contact.startswith("DET. SMITH, 77TH DIV")
    assert info.areas[0].geocode_map() == {"SAME": ("006037",)}
    assert alert.expires is None


def test_canada_update_two_references_two_languages() -> None:
    alert = one("canada.cap")
    assert alert.msg_type is MsgType.UPDATE
    assert alert.references == (
        CapReference(
            "cap@ec.gc.ca",
            "2.49.0.1.124.a3f342a4.2012",
            datetime(2012, 5, 2, 21, 45, 5, tzinfo=UTC),
        ),
        CapReference(
            "cap@ec.gc.ca",
            "2.49.0.1.124.60f31a3a.2012",
            datetime(2012, 5, 2, 21, 55, 21, tzinfo=UTC),
        ),
    )
    assert alert.references[0].key == CapKey("cap@ec.gc.ca", "2.49.0.1.124.a3f342a4.2012")
    assert alert.severity is Severity.ADVISORY  # Minor
    assert alert.expires == datetime(2012, 5, 3, 0, 20, tzinfo=UTC)
    assert alert.cap is not None
    assert alert.cap.languages == ("en-CA", "fr-CA")
    assert alert.cap.codes == ("profile:CAP-CP:0.4", "layer:EC-MSC-SMC:1.0", "layer:SOREM:1.0")
    assert alert.cap.restriction == "" and alert.cap.note == ""
    (french,) = alert.infos_in(["fr-CA"])
    assert (french.event, french.headline) == ("orages", "veille d'orages violents")
    assert alert.infos_in(["fr"])[0].event == "orages"  # primary language matches fr-CA
    # Japanese is not offered: en-US is not either, so English (en-CA) is the fallback
    (english,) = alert.infos_in(["ja-JP"])
    assert english.event == "thunderstorm"
    assert english.response_types == (ResponseType.ALL_CLEAR,)
    assert english.urgency is Urgency.PAST
    first, second = english.areas
    assert first.description == "Windsor - Leamington - Essex County"
    assert len(first.polygons[0]) == 17
    assert first.polygons[0][0] == first.polygons[0][-1] == (42.3481, -82.9314)
    assert first.geocode_values("layer:EC-MSC-SMC:1.0:CLC") == ("041420",)
    assert len(first.geocode_values("profile:CAP-CP:Location:0.3")) == 9
    assert second.geocode_values("profile:CAP-CP:Location:0.3") == ("3536020", "3536029")


def test_naad_alert_with_empty_references_and_signature() -> None:
    alert = one("CanadaNaad.xml")
    # an empty <references /> on an Alert says nothing; only Update/Cancel need it
    assert (alert.msg_type, alert.references) == (MsgType.ALERT, ())
    assert alert.key == CapKey("cap-pac@canada.ca", "urn:oid:2.49.0.1.124.3026064006.2019")
    assert alert.cap is not None and alert.cap.signed
    assert len(alert.cap.codes) == 6
    assert alert.cap.note.startswith("Service Notice: Changes to ECCC CAP")
    assert alert.cap.languages == ("en-CA", "fr-CA")
    assert alert.headline == "special weather statement in effect"
    assert alert.infos_in(["fr"])[0].headline == "bulletin météorologique spécial en vigueur"
    assert alert.infos_in()[0].instruction == ""  # <instruction /> is empty
    assert alert.expires == datetime(2019, 7, 13, 1, 59, 29, tzinfo=UTC)


def test_nws_hurricane_update_with_several_references_and_polygons() -> None:
    alert = one("NOAA_MultiplePolygons.txt")
    assert alert.msg_type is MsgType.UPDATE
    assert alert.severity is Severity.EMERGENCY  # Extreme
    assert len(alert.references) == 8
    assert alert.references[0] == CapReference(
        "w-nws.webmaster@noaa.gov",
        "NWS-IDP-PROD-4410291-3675936",
        datetime(2020, 8, 25, 10, 32, tzinfo=tz(-5)),
    )
    assert alert.references[-1].identifier == "NWS-IDP-PROD-4411932-3677173"
    assert alert.infos_in()[0].event == "Hurricane Warning"
    assert alert.infos_in()[0].parameter_values("BLOCKCHANNEL") == ("EAS", "NWEM", "CMAS")
    (area,) = alert.infos_in()[0].areas
    assert area.description == "Acadia"
    assert [len(p) for p in area.polygons] == [4, 69]
    assert area.geocode_map() == {"UGC": ("LAZ043",), "SAME": ("022001",)}


def test_tsunami_update_without_language_defaults_to_en_us() -> None:
    alert = one("wcatwc-warning.cap")
    assert alert.key == CapKey("http://newwcatwc.arh.noaa.gov/tsuPortal/", "PAAQ-2-lqw6d6")
    assert alert.msg_type is MsgType.UPDATE
    assert alert.references == (
        CapReference("PAAQ", "PAAQ-1-lqw6d6", datetime(2011, 9, 2, 10, 55, 55, tzinfo=UTC)),
    )
    assert alert.severity is Severity.EMERGENCY
    assert alert.cap is not None and alert.cap.languages == ("en-US",)
    assert alert.cap.incidents == ("lqw6d6",)
    info = alert.infos_in(["ja"])[0]
    assert info.event == "Tsunami Warning" and info.categories == (Category.GEO,)
    assert len(info.parameter_values("predictedArrivalTime")) == 25
    assert info.areas[0].geocode_values("UGC") == ("AKZ185", "AKZ187")


def test_australia_two_blocks_in_one_language_form_a_sequence() -> None:
    alert = one("australia.cap")
    assert alert.cap is not None and alert.cap.languages == ("en-AU",)
    first, second = alert.infos_in(["en-AU"])
    assert first.categories == (Category.FIRE, Category.MET)
    assert first.areas[0].circles == (Circle(-35.3888, 147.0598, 25.0),)
    assert first.areas[0].geocode_values("http://www.iso.org/iso/country_codes.html") == ("AU-NSW",)
    assert second.areas[0].geocode_values(
        "http://www.psma.com.au/?product=postcode-boundaries"
    ) == ("2642",)
    assert first.parameter_values("AllocatedResources") == ("",)  # <cap:value />
    assert first.event_code_values("non-standard secondary event code") == ("structure_fire",)
    assert alert.severity is Severity.ADVISORY


def test_ipaws_cancel_without_info() -> None:
    alert = one("no_info_tag.cap")
    assert alert.msg_type is MsgType.CANCEL and alert.is_real_alert
    assert alert.key == CapKey("AtHoc", "1017033100951096-517189320160225203219800_Cancel")
    assert alert.references == (
        CapReference(
            "AtHoc",
            "1017033100951096-517189320160225203219800",
            datetime(2016, 2, 25, 12, 32, 19, tzinfo=tz(-8)),
        ),
    )
    assert alert.cap is not None and alert.cap.infos == () and alert.cap.signed
    assert alert.severity is Severity.INFO and alert.expires is None
    assert alert.infos_in(["en"]) == ()


def test_minimal_cap_11_alert() -> None:
    alert = one("no_optional_fields.cap")
    assert alert.cap is not None and alert.cap.version == "1.1" and alert.cap.infos == ()
    assert alert.key.identifier == "USGS-earthquakes-us2010apcd.6.20100831T000925.496Z"  # type: ignore[union-attr]
    assert alert.title == alert.key.identifier  # type: ignore[union-attr]
    assert alert.sent == datetime(2010, 8, 31, 0, 9, 25, tzinfo=tz(-5))


def test_philippines_test_status_is_not_a_real_alert() -> None:
    alert = one("ph.cap")
    assert alert.status is Status.TEST and alert.msg_type is MsgType.ALERT
    assert not alert.is_real_alert
    assert alert.cap is not None and alert.cap.signed
    assert alert.infos_in()[0].areas[0].polygons[0][0] == (21.0, 120.0)


def test_taiwan_chinese_with_byte_order_mark() -> None:
    alert = one("taiwan.cap")
    assert alert.key == CapKey("ddmt01@wra.gov.tw", "WRA_ReservoirWarn_201405142010")
    assert alert.cap is not None and alert.cap.languages == ("zh-tw",)
    assert alert.title == "水庫洩洪" and alert.headline == "明德水庫:洩洪中"
    assert alert.severity is Severity.WARNING  # Moderate
    assert alert.infos_in(["zh-TW"])[0].areas[0].geocode_map() == {
        "Taiwan_Geocode_100": ("1000512",)
    }
    assert alert.expires == datetime(2014, 5, 14, 21, 10, tzinfo=tz(8))
    assert alert.is_expired(datetime(2014, 5, 14, 13, 10, tzinfo=UTC))
    assert not alert.is_expired(datetime(2014, 5, 14, 13, 9, tzinfo=UTC))


def test_nws_cap_11_with_empty_event_code_value() -> None:
    alert = one("weather.cap")
    assert alert.cap is not None and alert.cap.version == "1.1"
    info = alert.infos_in()[0]
    assert info.event == "Wind Advisory" and info.severity is CapSeverity.MINOR
    assert info.event_code_values("SAME") == ("",)
    assert alert.severity is Severity.ADVISORY


# ---- refused samples: the precise reason and where --------------------------------


def test_missing_scope() -> None:
    error = refusal("invalid.cap")
    assert (error.reason, error.where) == ("required element <scope> is missing", "/alert/scope")
    assert len(error.problems) == 1


def test_wrong_namespace() -> None:
    error = refusal("invalid_xmlns.cap")
    assert error.where == "/alert"
    assert "namespace 'urn:oasis:names:tc:emergency:alerts:1.2'" in error.reason
    assert "expected urn:oasis:names:tc:emergency:cap:1.2" in error.reason


def test_update_with_empty_references() -> None:
    error = refusal("canada_errors.cap")
    assert error.where == "/alert/references"
    assert error.reason == (
        "<references> is empty, but msgType Update must reference the alerts it applies to"
    )
    assert len(error.problems) == 1


def test_nws_errors_are_all_reported() -> None:
    # msgType Alert, so its empty <references> is not the problem; these are:
    error = refusal("noaa_errors.cap")
    assert error.problems == (
        (
            "<urgency> is empty; expected one of Immediate, Expected, Future, Past, Unknown",
            "/alert/info/urgency",
        ),
        (
            "<severity> is empty; expected one of Extreme, Severe, Moderate, Minor, Unknown",
            "/alert/info/severity",
        ),
        (
            "<certainty> is empty; expected one of Observed, Likely, Possible, Unlikely, "
            "Unknown, Very Likely",
            "/alert/info/certainty",
        ),
        (
            "polygon point '+40.85,-118.09,' is not 'lat,lon' in WGS 84 range",
            "/alert/info/area/polygon",
        ),
    )
    assert str(error).startswith("<urgency> is empty")


def test_external_entity_attack_is_refused_at_the_doctype() -> None:
    error = refusal("xee.cap")
    assert error.reason.startswith("a DTD (<!DOCTYPE ...>) is not allowed")
    assert error.where.startswith("line 3,")


# ---- derived variants --------------------------------------------------------------

THUNDERSTORM = (CAP / "thunderstorm.cap").read_bytes() if CAP.is_dir() else b""


def variant(old: bytes, new: bytes, source: bytes = THUNDERSTORM) -> bytes:
    assert old in source
    return source.replace(old, new, 1)


def parse_one(data: bytes) -> Alert:
    (alert,) = parse_alert_document(data)
    return alert


@pytest.mark.parametrize("msg_type", [b"Ack", b"Error"])
def test_ack_and_error_are_parsed_but_not_alerts(msg_type: bytes) -> None:
    alert = parse_one(variant(b"<msgType>Alert</msgType>", b"<msgType>" + msg_type + b"</msgType>"))
    assert alert.msg_type is MsgType(msg_type.decode().lower())
    assert not alert.msg_type.is_alert and not alert.is_real_alert


@pytest.mark.parametrize(
    ("status", "expected"),
    [(b"Exercise", Status.EXERCISE), (b"System", Status.SYSTEM), (b"Draft", Status.DRAFT)],
)
def test_non_actual_statuses(status: bytes, expected: Status) -> None:
    alert = parse_one(variant(b"<status>Actual</status>", b"<status>" + status + b"</status>"))
    assert alert.status is expected and not alert.is_real_alert


def test_cancel_needs_references() -> None:
    with pytest.raises(AlertParseError) as caught:
        parse_one(variant(b"<msgType>Alert</msgType>", b"<msgType>Cancel</msgType>"))
    assert caught.value.where == "/alert/references"
    assert "is missing, but msgType Cancel must reference" in caught.value.reason


def test_malformed_reference_triple() -> None:
    data = variant(
        b"<scope>Public</scope>",
        b"<scope>Public</scope><references>a,b,2003-06-17T14:57:00-07:00 only-two,x</references>",
    )
    with pytest.raises(AlertParseError) as caught:
        parse_one(data)
    assert caught.value.reason == "reference 'only-two,x' is not sender,identifier,sent"


def test_bad_values_are_named() -> None:
    data = variant(b"<status>Actual</status>", b"<status>Real</status>")
    data = variant(
        b"<sent>2003-06-17T14:57:00-07:00</sent>", b"<sent>2003-06-17T14:57:00</sent>", data
    )
    data = variant(b"<category>Met</category>", b"<category>Weather</category>", data)
    with pytest.raises(AlertParseError) as caught:
        parse_one(data)
    assert caught.value.problems == (
        ("date-time '2003-06-17T14:57:00' has no UTC offset", "/alert/sent"),
        (
            "<status> 'Real' is not one of Actual, Exercise, System, Test, Draft",
            "/alert/status",
        ),
        (
            "<category> 'Weather' is not one of Geo, Met, Safety, Security, Rescue, Fire, "
            "Health, Env, Transport, Infra, CBRNE, Other",
            "/alert/info/category",
        ),
    )


def test_missing_info_elements_are_named_with_their_path() -> None:
    data = variant(b"<event>SEVERE THUNDERSTORM</event>", b"")
    data = variant(b"<certainty>Observed</certainty>", b"", data)
    with pytest.raises(AlertParseError) as caught:
        parse_one(data)
    assert [w for _, w in caught.value.problems] == ["/alert/info/event", "/alert/info/certainty"]


def test_restricted_scope_needs_a_restriction() -> None:
    with pytest.raises(AlertParseError) as caught:
        parse_one(variant(b"<scope>Public</scope>", b"<scope>Restricted</scope>"))
    assert caught.value.reason == "scope Restricted requires a <restriction>"


def test_unclosed_polygon() -> None:
    data = variant(b"38.62,-119.89 38.47,-120.14</polygon>", b"38.62,-119.89</polygon>")
    with pytest.raises(AlertParseError) as caught:
        parse_one(data)
    assert caught.value.where == "/alert/info/area/polygon"
    assert "polygon has 4 points and is not closed" in caught.value.reason


def test_cap_10_is_not_supported() -> None:
    data = variant(b"urn:oasis:names:tc:emergency:cap:1.2", b"http://www.incident.com/cap/1.0")
    with pytest.raises(AlertParseError) as caught:
        parse_one(data)
    assert caught.value.reason == "CAP 1.0 is not supported (only CAP 1.2 and 1.1)"


def test_several_languages_keep_document_order_and_fallback() -> None:
    french = b"<info><language>fr-CA</language><category>Met</category><event>orage</event>"
    french += b"<urgency>Immediate</urgency><severity>Extreme</severity>"
    french += b"<certainty>Observed</certainty></info>"
    data = variant(b"</info>", b"</info>" + french)
    alert = parse_one(data)
    assert alert.cap is not None and alert.cap.languages == ("en-US", "fr-CA")
    assert alert.infos_in(["fr"])[0].event == "orage"
    assert alert.infos_in(["ja"])[0].event == "SEVERE THUNDERSTORM"  # en-US fallback
    assert alert.severity is Severity.EMERGENCY  # the most severe block counts
