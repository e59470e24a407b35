"""JMA 防災情報XML reports → :class:`Alert`.

Elements are found by local name, so the several body namespaces (meteorology1,
seismology1, volcanology1…) and new report types need no code: Control and Head are
read for every report, and the body parts this module knows (Warning, Earthquake,
Intensity, Tsunami, Text) are read wherever they appear. A report type nobody wrote
code for still becomes a generic alert with its head.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element

from bots.alerts.jmabody import BodyParts, clean_text, parse_body
from bots.alerts.jmareport import JmaCodedName, JmaDetails, JmaHeadlineItem
from bots.alerts.levels import Severity, warning_kind_severity
from bots.alerts.model import Alert, JmaKey, JmaSeriesKey, MsgType, Origin, Status
from bots.alerts.xmlnode import Node, parse_datetime
from bots.alerts.xmlsafe import AlertParseError, local_name, namespace

JMX_NAMESPACE = "http://xml.kishou.go.jp/jmaxml1/"

_STATUSES = {"通常": Status.ACTUAL, "訓練": Status.EXERCISE, "試験": Status.TEST}
_INFO_TYPES = {
    "発表": MsgType.ALERT,
    "訂正": MsgType.UPDATE,
    "遅延": MsgType.ALERT,
    "取消": MsgType.CANCEL,
}


def is_jma_report(element: Element) -> bool:
    return local_name(element.tag) == "Report"


def parse_jma_report(element: Element) -> Alert:
    path = "/" + local_name(element.tag)
    ns = namespace(element.tag)
    if ns != JMX_NAMESPACE:
        found = f"namespace {ns!r}" if ns else "no namespace"
        raise AlertParseError(f"<Report> has {found}; expected {JMX_NAMESPACE}", path)
    root = Node(element, path)
    control = _section(root, "Control")
    head = _section(root, "Head")
    body = root.child("Body")

    control_title = _required(control, "Title")
    control_time = _required_datetime(control, "DateTime")
    office = _required(control, "EditorialOffice")
    status_text = _required(control, "Status")
    status = _STATUSES.get(status_text)
    if status is None:
        raise AlertParseError(
            f"<Status> {status_text!r} is not one of {', '.join(_STATUSES)}",
            control.child_path("Status"),
        )
    info_type = _required(head, "InfoType")
    msg_type = _INFO_TYPES.get(info_type)
    if msg_type is None:
        raise AlertParseError(
            f"<InfoType> {info_type!r} is not one of {', '.join(_INFO_TYPES)}",
            head.child_path("InfoType"),
        )
    title = _required(head, "Title")
    report_time = _required_datetime(head, "ReportDateTime")
    event_id = head.text_of("EventID")
    serial = head.text_of("Serial")
    headline_node = head.child("Headline")
    headline_items = _headline_items(headline_node) if headline_node is not None else ()
    parts = parse_body(body) if body is not None else BodyParts()

    details = JmaDetails(
        control_title=control_title,
        editorial_office=office,
        publishing_office=control.text_of("PublishingOffice"),
        title=title,
        report_datetime=report_time,
        info_type=info_type,
        info_kind=head.text_of("InfoKind"),
        event_id=event_id,
        target_datetime=_optional_datetime(head, "TargetDateTime"),
        serial=serial,
        info_kind_version=head.text_of("InfoKindVersion"),
        headline=clean_text(headline_node.text_of("Text")) if headline_node is not None else "",
        headline_items=headline_items,
        warnings=parts.warnings,
        earthquake=parts.earthquake,
        max_intensity=parts.max_intensity,
        intensities=parts.intensities,
        intensity_forecast=parts.intensity_forecast,
        tsunami=parts.tsunami,
        text=parts.text,
    )
    parts_of_id = [control_title, office, control_time.isoformat(), info_type, serial or "-"]
    if status is not Status.ACTUAL:  # a drill is never the real message sent after it
        parts_of_id.append(status_text)
    message_id = "|".join(parts_of_id)
    return Alert(
        origin=Origin.JMA,
        key=JmaKey(message_id, JmaSeriesKey(control_title, office, event_id)),
        sent=control_time,
        status=status,
        msg_type=msg_type,
        severity=_severity(details) if msg_type is not MsgType.CANCEL else Severity.INFO,
        title=title,
        headline=details.headline,
        expires=_optional_datetime(head, "ValidDateTime"),
        delayed=info_type == "遅延",
        max_intensity=details.max_intensity,
        jma=details,
    )


def _section(root: Node, name: str) -> Node:
    node = root.child(name)
    if node is None:
        raise AlertParseError(f"required element <{name}> is missing", root.child_path(name))
    return node


def _required(node: Node, name: str) -> str:
    child = node.child(name)
    if child is None:
        raise AlertParseError(f"required element <{name}> is missing", node.child_path(name))
    if not child.text:
        raise AlertParseError(f"<{name}> is empty", child.path)
    return child.text


def _required_datetime(node: Node, name: str) -> datetime:
    return parse_datetime(_required(node, name), node.child_path(name))


def _optional_datetime(node: Node, name: str) -> datetime | None:
    child = node.child(name)
    if child is None or not child.text:
        return None
    return parse_datetime(child.text, child.path)


def _headline_items(headline: Node) -> tuple[JmaHeadlineItem, ...]:
    items: list[JmaHeadlineItem] = []
    for information in headline.children("Information"):
        info_type = information.attr("type")
        for item in information.children("Item"):
            kinds = item.children("Kind")
            areas = [a for areas in item.children("Areas") for a in areas.children("Area")]
            items.append(
                JmaHeadlineItem(
                    information_type=info_type,
                    kinds=tuple(JmaCodedName(k.text_of("Name"), k.text_of("Code")) for k in kinds),
                    areas=tuple(JmaCodedName(a.text_of("Name"), a.text_of("Code")) for a in areas),
                    conditions=tuple(
                        k.text_of("Condition") for k in kinds if k.text_of("Condition")
                    ),
                )
            )
    return tuple(items)


def _severity(details: JmaDetails) -> Severity:
    levels: list[Severity] = [w.severity for w in details.warnings]
    levels += [t.grade.severity() for t in details.tsunami if not t.lifted]
    if details.max_intensity is not None:
        levels.append(details.max_intensity.severity())
    if details.intensity_forecast or "緊急地震速報" in details.control_title:
        eew_warning = "緊急地震速報（警報）" in details.control_title or any(
            "警報" in area.kind for area in details.intensity_forecast
        )
        if eew_warning:
            levels.append(Severity.EMERGENCY)
    if not levels:  # a report type without a body this module reads: use its headline
        levels = [
            warning_kind_severity(kind.name, item.information_type)
            for item in details.headline_items
            for kind in item.kinds
        ]
    return max(levels, default=Severity.INFO)
