"""Walk a parsed tree by local name while keeping each element's path for errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from bots.alerts.xmlsafe import AlertParseError, local_name, namespace


@dataclass(frozen=True)
class Node:
    """An element, its path from the root (``/alert/info[2]/area``), and the namespace
    its children are looked up in (``None``: any namespace, by local name only)."""

    element: Element
    path: str
    ns: str | None = None

    @classmethod
    def root(cls, element: Element, ns: str | None = None, prefix: str = "") -> Node:
        return cls(element, f"{prefix}/{local_name(element.tag)}", ns)

    @property
    def name(self) -> str:
        return local_name(self.element.tag)

    @property
    def namespace(self) -> str:
        return namespace(self.element.tag)

    def _matches(self, child: Element, name: str) -> bool:
        tag = child.tag
        if not isinstance(tag, str) or local_name(tag) != name:
            return False
        return self.ns is None or namespace(tag) == self.ns

    def children(self, name: str) -> list[Node]:
        found = [c for c in self.element if self._matches(c, name)]
        if len(found) == 1:
            return [Node(found[0], f"{self.path}/{name}", self.ns)]
        return [Node(c, f"{self.path}/{name}[{i}]", self.ns) for i, c in enumerate(found, 1)]

    def child(self, name: str) -> Node | None:
        for c in self.element:
            if self._matches(c, name):
                return Node(c, f"{self.path}/{name}", self.ns)
        return None

    def elements(self) -> Iterator[Node]:
        """Every child element, whatever its name (paths indexed when repeated)."""
        seen: dict[str, int] = {}
        kids = [c for c in self.element if isinstance(c.tag, str)]
        totals: dict[str, int] = {}
        for c in kids:
            totals[local_name(c.tag)] = totals.get(local_name(c.tag), 0) + 1
        for c in kids:
            name = local_name(c.tag)
            seen[name] = seen.get(name, 0) + 1
            suffix = f"[{seen[name]}]" if totals[name] > 1 else ""
            yield Node(c, f"{self.path}/{name}{suffix}", self.ns)

    def descend(self, *names: str) -> Node | None:
        node: Node | None = self
        for name in names:
            if node is None:
                return None
            node = node.child(name)
        return node

    @property
    def text(self) -> str:
        """The element's own text, stripped (empty when it has none)."""
        return (self.element.text or "").strip()

    def text_of(self, name: str) -> str:
        """Text of the first child ``name``; empty when absent or empty."""
        node = self.child(name)
        return node.text if node is not None else ""

    def texts_of(self, name: str) -> tuple[str, ...]:
        return tuple(n.text for n in self.children(name))

    def attr(self, name: str) -> str:
        return (self.element.get(name) or "").strip()

    def child_path(self, name: str) -> str:
        return f"{self.path}/{name}"


def parse_datetime(value: str, where: str) -> datetime:
    """An ISO 8601 date-time that must carry its UTC offset (``Z`` or ``±hh:mm``)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise AlertParseError(
            f"{value!r} is not a date-time (expected e.g. 2003-06-17T14:57:00-07:00)", where
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise AlertParseError(f"date-time {value!r} has no UTC offset", where)
    return parsed
