"""Hostile XML: size cap before parsing, no DTD/entities/XInclude, bounded trees, and
nothing but AlertParseError for any input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.alerts import AlertParseError, parse_alert_document, parse_document
from bots.alerts.xmlsafe import XmlLimits, parse_xml
from tests.samples import SAMPLES as shared_samples

SAMPLES = shared_samples
CAP = b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">%s</alert>'


def refused(data: bytes, **kwargs: int) -> AlertParseError:
    with pytest.raises(AlertParseError) as caught:
        parse_document(data, **kwargs)
    return caught.value


def billion_laughs() -> bytes:
    entities = [b'<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        entities.append(b'<!ENTITY lol%d "%s">' % (level, b"&lol%d;" % (level - 1) * 10))
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
        + b"\n".join(entities)
        + b"\n]>\n<lolz>&lol9;</lolz>\n"
    )


def test_billion_laughs_is_refused_at_the_doctype() -> None:
    error = refused(billion_laughs())
    assert error.reason.startswith("a DTD (<!DOCTYPE ...>) is not allowed")
    assert error.where.startswith("line 2,")


def test_external_entity_without_doctype_is_just_undefined() -> None:
    error = refused(CAP % b"<identifier>&xxe;</identifier>")
    assert error.reason == "not well-formed XML: undefined entity"
    assert error.where == "line 1, column 64"  # where &xxe; starts


def test_fifty_megabytes_are_refused_before_parsing() -> None:
    body = b"<a>" + b"x" * (50 * 1024 * 1024) + b"</a>"
    error = refused(body)
    assert error.reason == f"document is {len(body)} bytes, larger than the limit of 5242880 bytes"
    assert error.where == "document"


def test_size_cap_is_configurable() -> None:
    assert refused(b"<a/>" + b" " * 100, max_bytes=64).reason.endswith("limit of 64 bytes")
    with pytest.raises(AlertParseError):
        parse_xml(b"<a/>", limits=XmlLimits(max_bytes=3))


def test_xinclude_is_refused_explicitly() -> None:
    # xee.cap without its DOCTYPE: the XInclude element itself is the reason
    source = (SAMPLES / "cap/xee.cap").read_bytes()  # the samples are always beside us
    start, end = source.index(b"<!DOCTYPE"), source.index(b"]>") + 2
    without_dtd = (source[:start] + source[end:]).replace(b"&xxe;", b"")
    error = refused(without_dtd)
    assert error.reason == "XInclude is not allowed (<xi:include> would pull in outside content)"
    assert error.where == "/alert/x/include"


def test_deep_nesting_and_element_floods_are_bounded() -> None:
    deep = refused(b"<a>" * 100_000 + b"</a>" * 100_000)
    assert deep.reason == "elements are nested deeper than the limit of 64"
    with pytest.raises(AlertParseError) as caught:
        parse_xml(b"<a>" + b"<b/>" * 1000 + b"</a>", limits=XmlLimits(max_elements=500))
    assert caught.value.reason == "document has more than the limit of 500 elements"


@pytest.mark.parametrize(
    ("data", "reason", "where"),
    [
        (b"", "document is empty", "document"),
        (b"<a>", "not well-formed XML: no element found", "line 1, column 3"),
        (b"<a>\n<b></a>", "not well-formed XML: mismatched tag", "line 2, column 5"),
        (b"\xff\xfe\x00garbage", "not well-formed XML: syntax error", "line 1, column 1"),
        (
            b'<?xml version="1.0" encoding="x-unknown"?><a/>',
            "unreadable XML: unknown encoding: x-unknown",
            "line 1, column 30",
        ),
    ],
)
def test_malformed_xml_says_where(data: bytes, reason: str, where: str) -> None:
    error = refused(data)
    assert (error.reason, error.where) == (reason, where)
    assert str(error) == f"{reason} (at {where})"


def test_non_bytes_are_refused() -> None:
    with pytest.raises(AlertParseError) as caught:
        parse_document("<alert/>")  # type: ignore[arg-type]
    assert caught.value.reason == "expected bytes, got str"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_alert_parse_error(data: bytes) -> None:
    with contextlib.suppress(AlertParseError):
        parse_alert_document(data)


SEEDS = [
    name
    for name in (
        "cap/thunderstorm.cap",
        "cap/canada.cap",
        "cap/no_info_tag.cap",
        "cap/rfs.xml",
        "jma/18_03_01_190412_VPOA50.xml",
        "jma/32-35_06_06_100915_VXSE53.xml",
    )
    if (SAMPLES / name).is_file()
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), st.binary(max_size=12)), max_size=4),
)
def test_mutated_real_alerts_raise_only_alert_parse_error(
    seed: str, edits: list[tuple[float, int, bytes]]
) -> None:
    data = bytearray((SAMPLES / seed).read_bytes())
    for where, cut, insert in edits:
        at = int(where * len(data))
        data[at : at + cut] = insert
    with contextlib.suppress(AlertParseError):
        parse_alert_document(bytes(data))


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.sampled_from(
            [
                b"<identifier>x</identifier>",
                b"<sender>s</sender>",
                b"<sent>2003-06-17T14:57:00-07:00</sent>",
                b"<status>Actual</status>",
                b"<msgType>Cancel</msgType>",
                b"<scope>Private</scope>",
                b"<references>a,b,c</references>",
                b"<polygon>1,2 3,4</polygon>",
                b"<circle>1,2</circle>",
                b"<geocode/>",
                b"<severity>Extreme</severity>",
                b"<language/>",
                b"text",
            ]
        ),
        lambda inner: st.tuples(
            st.sampled_from([b"info", b"area", b"parameter", b"resource", b"alert"]),
            st.lists(inner, max_size=4),
        ).map(lambda t: b"<" + t[0] + b">" + b"".join(t[1]) + b"</" + t[0] + b">"),
        max_leaves=12,
    )
)
def test_cap_shaped_junk_raises_only_alert_parse_error(body: bytes) -> None:
    with contextlib.suppress(AlertParseError):
        parse_alert_document(CAP % body)
