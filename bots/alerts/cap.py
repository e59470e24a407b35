"""CAP 1.2 and 1.1 alerts → :class:`Alert`, validating what a consumer relies on."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar
from xml.etree.ElementTree import Element

from bots.alerts.capinfo import (
    DEFAULT_LANGUAGE,
    CapArea,
    CapDetails,
    CapInfo,
    CapResource,
    CapSeverity,
    Category,
    Certainty,
    Circle,
    NamedValue,
    Point,
    Polygon,
    ResponseType,
    Scope,
    Urgency,
)
from bots.alerts.levels import Severity
from bots.alerts.model import Alert, CapKey, CapReference, MsgType, Origin, Status
from bots.alerts.xmlnode import Node, parse_datetime
from bots.alerts.xmlsafe import AlertParseError, Problems, local_name, namespace

CAP_NAMESPACES = {
    "urn:oasis:names:tc:emergency:cap:1.2": "1.2",
    "urn:oasis:names:tc:emergency:cap:1.1": "1.1",
}
CAP_10_NAMESPACE = "http://www.incident.com/cap/1.0"
XMLDSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"

_STATUSES = {
    "Actual": Status.ACTUAL,
    "Exercise": Status.EXERCISE,
    "System": Status.SYSTEM,
    "Test": Status.TEST,
    "Draft": Status.DRAFT,
}
_MSG_TYPES = {
    "Alert": MsgType.ALERT,
    "Update": MsgType.UPDATE,
    "Cancel": MsgType.CANCEL,
    "Ack": MsgType.ACK,
    "Error": MsgType.ERROR,
}
# identifier and sender: no spaces, commas or restricted characters (< and &)
_BAD_ID_CHARS = re.compile(r"[\s,<&]")

E = TypeVar("E", bound=StrEnum)


def is_cap_alert(element: Element) -> bool:
    return local_name(element.tag) == "alert"


def cap_version(element: Element, path: str) -> str:
    """The CAP version of an ``<alert>`` element, or an error naming the namespace."""
    ns = namespace(element.tag)
    if ns in CAP_NAMESPACES:
        return CAP_NAMESPACES[ns]
    if ns == CAP_10_NAMESPACE:
        raise AlertParseError("CAP 1.0 is not supported (only CAP 1.2 and 1.1)", path)
    expected = " or ".join(CAP_NAMESPACES)
    found = f"namespace {ns!r}" if ns else "no namespace"
    raise AlertParseError(f"<alert> has {found}; expected {expected}", path)


def parse_cap_alert(element: Element, prefix: str = "") -> Alert:
    """Parse one ``<alert>`` element; ``prefix`` is its parent's path (in envelopes)."""
    path = f"{prefix}/{local_name(element.tag)}"
    version = cap_version(element, path)
    node = Node(element, path, namespace(element.tag))
    problems = Problems()

    identifier = _identifier(node, "identifier", problems)
    sender = _identifier(node, "sender", problems)
    sent = _datetime(node, "sent", problems, required=True)
    status_text = _required(node, "status", problems)
    status = _STATUSES.get(status_text)
    if status_text and status is None:
        problems.add(_not_one_of("status", status_text, _STATUSES), node.child_path("status"))
    msg_text = _required(node, "msgType", problems)
    msg_type = _MSG_TYPES.get(msg_text)
    if msg_text and msg_type is None:
        problems.add(_not_one_of("msgType", msg_text, _MSG_TYPES), node.child_path("msgType"))
    scope = _enum(node, "scope", Scope, problems, required=True)
    restriction = node.text_of("restriction")
    addresses = node.text_of("addresses")
    if scope is Scope.RESTRICTED and not restriction:
        problems.add("scope Restricted requires a <restriction>", node.child_path("restriction"))
    if scope is Scope.PRIVATE and not addresses:
        problems.add("scope Private requires <addresses>", node.child_path("addresses"))
    references = _references(node, msg_type, problems)
    infos = tuple(_info(info, problems) for info in node.children("info"))
    problems.raise_if_any()
    assert status is not None and msg_type is not None and scope is not None
    assert sent is not None

    expiries = [info.expires for info in infos if info.expires is not None]
    first = infos[0] if infos else None
    details = CapDetails(
        version=version,
        scope=scope,
        infos=infos,
        source=node.text_of("source"),
        restriction=restriction,
        addresses=addresses,
        codes=tuple(c for c in node.texts_of("code") if c),
        note=node.text_of("note"),
        incidents=tuple(node.text_of("incidents").split()),
        signed=any(
            local_name(c.tag) == "Signature" and namespace(c.tag) == XMLDSIG_NAMESPACE
            for c in element
            if isinstance(c.tag, str)
        ),
    )
    return Alert(
        origin=Origin.CAP,
        key=CapKey(sender, identifier),
        sent=sent,
        status=status,
        msg_type=msg_type,
        severity=max((i.severity.level() for i in infos), default=Severity.INFO),
        title=first.event if first else identifier,
        headline=first.headline if first else "",
        references=references,
        expires=max(expiries) if expiries else None,
        cap=details,
    )


def _required(node: Node, name: str, problems: Problems) -> str:
    child = node.child(name)
    if child is None:
        problems.add(f"required element <{name}> is missing", node.child_path(name))
        return ""
    if not child.text:
        problems.add(f"<{name}> is empty", child.path)
    return child.text


def _identifier(node: Node, name: str, problems: Problems) -> str:
    value = _required(node, name, problems)
    if value and _BAD_ID_CHARS.search(value):
        problems.add(
            f"<{name}> {value!r} contains a space, comma, '<' or '&', which CAP forbids",
            node.child_path(name),
        )
    return value


def _not_one_of(name: str, value: str, allowed: Iterable[str]) -> str:
    return f"<{name}> {value!r} is not one of {', '.join(allowed)}"


def _enum(node: Node, name: str, cls: type[E], problems: Problems, *, required: bool) -> E | None:
    child = node.child(name)
    if child is None or (not child.text and not required):
        if required:
            problems.add(f"required element <{name}> is missing", node.child_path(name))
        return None
    return _enum_value(child, cls, problems)


def _enum_value(child: Node, cls: type[E], problems: Problems) -> E | None:
    if not child.text:
        allowed = ", ".join(m.value for m in cls)
        problems.add(f"<{child.name}> is empty; expected one of {allowed}", child.path)
        return None
    try:
        return cls(child.text)
    except ValueError:
        problems.add(_not_one_of(child.name, child.text, [m.value for m in cls]), child.path)
        return None


def _datetime(node: Node, name: str, problems: Problems, *, required: bool) -> datetime | None:
    child = node.child(name)
    if child is None or not child.text:
        if required:
            text = "is missing" if child is None else "is empty"
            problems.add(f"required element <{name}> {text}", node.child_path(name))
        return None
    try:
        return parse_datetime(child.text, child.path)
    except AlertParseError as exc:
        problems.add(exc.reason, exc.where)
        return None


def _references(
    node: Node, msg_type: MsgType | None, problems: Problems
) -> tuple[CapReference, ...]:
    child = node.child("references")
    needs = msg_type in (MsgType.UPDATE, MsgType.CANCEL)
    if child is None or not child.text:
        if needs and msg_type is not None:
            what = "is missing" if child is None else "is empty"
            problems.add(
                f"<references> {what}, but msgType {msg_type.value.capitalize()} must reference "
                "the alerts it applies to",
                node.child_path("references"),
            )
        return ()  # an empty <references/> on an Alert says nothing
    found: list[CapReference] = []
    for triple in child.text.split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            problems.add(f"reference {triple!r} is not sender,identifier,sent", child.path)
            continue
        try:
            sent = parse_datetime(parts[2], child.path)
        except AlertParseError as exc:
            problems.add(f"reference {triple!r}: {exc.reason}", child.path)
            continue
        found.append(CapReference(parts[0], parts[1], sent))
    return tuple(found)


def _info(node: Node, problems: Problems) -> CapInfo:
    categories = tuple(
        c for c in (_enum_value(n, Category, problems) for n in node.children("category")) if c
    )
    if not node.children("category"):
        problems.add("required element <category> is missing", node.child_path("category"))
    event = _required(node, "event", problems)
    urgency = _enum(node, "urgency", Urgency, problems, required=True)
    severity = _enum(node, "severity", CapSeverity, problems, required=True)
    certainty = _enum(node, "certainty", Certainty, problems, required=True)
    response_types = tuple(
        r
        for r in (_enum_value(n, ResponseType, problems) for n in node.children("responseType"))
        if r
    )
    return CapInfo(
        language=node.text_of("language") or DEFAULT_LANGUAGE,
        categories=categories,
        event=event,
        urgency=urgency or Urgency.UNKNOWN,
        severity=severity or CapSeverity.UNKNOWN,
        certainty=certainty or Certainty.UNKNOWN,
        response_types=response_types,
        audience=node.text_of("audience"),
        event_codes=_named_values(node, "eventCode", problems),
        effective=_datetime(node, "effective", problems, required=False),
        onset=_datetime(node, "onset", problems, required=False),
        expires=_datetime(node, "expires", problems, required=False),
        sender_name=node.text_of("senderName"),
        headline=node.text_of("headline"),
        description=node.text_of("description"),
        instruction=node.text_of("instruction"),
        web=node.text_of("web"),
        contact=node.text_of("contact"),
        parameters=_named_values(node, "parameter", problems),
        resources=tuple(_resource(r, problems) for r in node.children("resource")),
        areas=tuple(_area(a, problems) for a in node.children("area")),
    )


def _named_values(node: Node, name: str, problems: Problems) -> tuple[NamedValue, ...]:
    pairs: list[NamedValue] = []
    for child in node.children(name):
        if child.child("valueName") is None or not child.text_of("valueName"):
            problems.add(f"<{name}> has no <valueName>", child.child_path("valueName"))
            continue
        pairs.append(NamedValue(child.text_of("valueName"), child.text_of("value")))
    return tuple(pairs)


def _resource(node: Node, problems: Problems) -> CapResource:
    size_text = node.text_of("size")
    size: int | None = None
    if size_text:
        if size_text.isdigit():
            size = int(size_text)
        else:
            problems.add(f"<size> {size_text!r} is not a whole number", node.child_path("size"))
    return CapResource(
        description=_required(node, "resourceDesc", problems),
        mime_type=node.text_of("mimeType"),
        uri=node.text_of("uri"),
        size=size,
        digest=node.text_of("digest"),
    )


def _area(node: Node, problems: Problems) -> CapArea:
    polygons: list[Polygon] = []
    for child in node.children("polygon"):
        if child.text:  # an empty <polygon/> (seen in feeds) describes nothing
            polygon = _polygon(child, problems)
            if polygon:
                polygons.append(polygon)
    circles = [c for c in (_circle(n, problems) for n in node.children("circle") if n.text) if c]
    return CapArea(
        description=_required(node, "areaDesc", problems),
        polygons=tuple(polygons),
        circles=tuple(circles),
        geocodes=_named_values(node, "geocode", problems),
        altitude=_number(node, "altitude", problems),
        ceiling=_number(node, "ceiling", problems),
    )


def _point(text: str) -> Point | None:
    lat_text, comma, lon_text = text.partition(",")
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        return None
    if not comma or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return (lat, lon)


def _polygon(node: Node, problems: Problems) -> Polygon | None:
    points: list[Point] = []
    for pair in node.text.split():
        point = _point(pair)
        if point is None:
            problems.add(f"polygon point {pair!r} is not 'lat,lon' in WGS 84 range", node.path)
            return None
        points.append(point)
    if len(points) < 4 or points[0] != points[-1]:
        problems.add(
            f"polygon has {len(points)} points and is "
            f"{'closed' if points and points[0] == points[-1] else 'not closed'}; "
            "CAP needs 4 or more with the first repeated last",
            node.path,
        )
        return None
    return tuple(points)


def _circle(node: Node, problems: Problems) -> Circle | None:
    centre, _, radius_text = node.text.partition(" ")
    point = _point(centre)
    try:
        radius = float(radius_text)
    except ValueError:
        radius = math.nan
    if point is None or not (radius >= 0 and math.isfinite(radius)):
        problems.add(f"circle {node.text!r} is not 'lat,lon radius_km'", node.path)
        return None
    return Circle(point[0], point[1], radius)


def _number(node: Node, name: str, problems: Problems) -> float | None:
    text = node.text_of(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.add(f"<{name}> {text!r} is not a number", node.child_path(name))
        return None
    return value
