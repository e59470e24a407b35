"""Containers of CAP alerts: EDXL-DE distributions and Atom feeds."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from bots.alerts.cap import is_cap_alert, parse_cap_alert
from bots.alerts.model import Alert, FeedLink
from bots.alerts.xmlnode import Node, parse_datetime
from bots.alerts.xmlsafe import AlertParseError, local_name, namespace

EDXL_DE_NAMESPACES = (
    "urn:oasis:names:tc:emergency:EDXL:DE:1.0",
    "urn:oasis:names:tc:emergency:EDXL:DE:2.0",
)
ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"


def is_edxl_distribution(element: Element) -> bool:
    return local_name(element.tag) == "EDXLDistribution"


def parse_edxl_distribution(element: Element) -> tuple[Alert, ...]:
    """Every CAP alert embedded in the distribution's content objects, in order.

    One invalid alert refuses the whole distribution: nothing from a rejected input is
    acted upon, and the error names the content object."""
    path = "/" + local_name(element.tag)
    ns = namespace(element.tag)
    if ns not in EDXL_DE_NAMESPACES:
        found = f"namespace {ns!r}" if ns else "no namespace"
        raise AlertParseError(
            f"<EDXLDistribution> has {found}; expected {' or '.join(EDXL_DE_NAMESPACES)}", path
        )
    root = Node(element, path)
    alerts: list[Alert] = []
    for content in root.children("contentObject"):
        for holder in _embedded(content):
            for child in holder.elements():
                if is_cap_alert(child.element):
                    alerts.append(parse_cap_alert(child.element, prefix=holder.path))
    return tuple(alerts)


def _embedded(content: Node) -> list[Node]:
    """``embeddedXMLContent`` under ``xmlContent`` (1.0) or ``contentXML`` (2.0)."""
    found: list[Node] = []
    for wrapper in ("xmlContent", "contentXML"):
        for holder in content.children(wrapper):
            found.extend(holder.children("embeddedXMLContent"))
    return found


def is_atom_feed(element: Element) -> bool:
    return local_name(element.tag) in ("feed", "entry") and namespace(element.tag) == ATOM_NAMESPACE


def parse_atom(element: Element) -> tuple[tuple[Alert, ...], tuple[FeedLink, ...]]:
    """Alerts carried in entries' ``<content>``, and links for entries that only point
    to an alert (a poller fetches those).

    Only ``<entry>`` elements count: anything else in the feed, even a CAP alert, is
    foreign markup that Atom readers ignore (RFC 4287, section 6). A feed with no
    entries is valid and yields nothing: it is how a feed says "no active alerts"."""
    root = Node(element, "/" + local_name(element.tag), ATOM_NAMESPACE)
    entries = [root] if root.name == "entry" else root.children("entry")
    alerts: list[Alert] = []
    links: list[FeedLink] = []
    for entry in entries:
        content = entry.child("content")
        carried = (
            [c for c in content.elements() if is_cap_alert(c.element)]
            if content is not None
            else []
        )
        if carried:
            assert content is not None
            alerts.extend(parse_cap_alert(c.element, prefix=content.path) for c in carried)
            continue
        link = _entry_link(entry, content)
        if link is not None:
            links.append(link)
    return tuple(alerts), tuple(links)


def _entry_link(entry: Node, content: Node | None) -> FeedLink | None:
    href = content.attr("src") if content is not None else ""
    if not href:
        candidates = entry.children("link")
        alternates = [n for n in candidates if n.attr("rel") in ("", "alternate")]
        chosen = alternates or candidates
        href = chosen[0].attr("href") if chosen else ""
    if not href:
        return None
    updated = entry.child("updated")
    return FeedLink(
        entry_id=entry.text_of("id"),
        href=href,
        title=entry.text_of("title"),
        updated=parse_datetime(updated.text, updated.path)
        if updated is not None and updated.text
        else None,
    )
