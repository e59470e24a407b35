"""Parse XML from outside safely: size cap first, then defusedxml with no DTD at all.

Alert feeds are hostile until parsed. The rules, in order:

1. the size is checked before a single byte is parsed (default 5 MiB);
2. parsing uses defusedxml with ``forbid_dtd``, ``forbid_entities`` and
   ``forbid_external``: a ``<!DOCTYPE`` stops the parser where it starts, so no
   entity is ever declared or expanded (billion laughs), no external DTD or entity
   is fetched and no file is read (XXE);
3. element depth and count are bounded while the tree is built, so memory stays
   bounded even for a well-formed document within the size cap;
4. XInclude is never processed (ElementTree does not), and a document that contains
   an XInclude element is refused explicitly, so nobody downstream is tempted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import defusedxml.ElementTree as defused_etree  # type: ignore[import-untyped, unused-ignore]
from defusedxml import (  # type: ignore[import-untyped, unused-ignore]
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_ELEMENTS = 200_000

XINCLUDE_NS = "http://www.w3.org/2001/XInclude"

_POSITION = re.compile(r":\s*line \d+, column \d+$")


class AlertParseError(ValueError):
    """An alert document was refused.

    ``reason`` says what is wrong, ``where`` says where (an element path such as
    ``/alert/info[2]/urgency``, ``line 3, column 0``, or ``document`` for the whole
    input). ``problems`` lists every problem found, the first being
    ``(reason, where)``; validators collect them all so one run shows everything.
    """

    def __init__(self, reason: str, where: str, *, more: Sequence[tuple[str, str]] = ()) -> None:
        self.reason = reason
        self.where = where
        self.problems: tuple[tuple[str, str], ...] = ((reason, where), *more)
        text = f"{reason} (at {where})"
        if more:
            others = "; ".join(f"{r} (at {w})" for r, w in more)
            text += f"; {len(more)} more: {others}"
        super().__init__(text)

    def __reduce__(self) -> tuple[object, ...]:  # keep picklable despite the keyword
        return (_rebuild, (self.problems,))


def _rebuild(problems: tuple[tuple[str, str], ...]) -> AlertParseError:
    (reason, where), *more = problems
    return AlertParseError(reason, where, more=more)


class Problems:
    """Collects validation problems; raise them all at once at the end."""

    def __init__(self) -> None:
        self._items: list[tuple[str, str]] = []

    def add(self, reason: str, where: str) -> None:
        self._items.append((reason, where))

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        if self._items:
            (reason, where), *more = self._items
            raise AlertParseError(reason, where, more=more)


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on what :func:`parse_xml` accepts."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_elements: int = DEFAULT_MAX_ELEMENTS


class _LimitExceeded(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _BoundedTreeBuilder(TreeBuilder):
    """A TreeBuilder that refuses documents nested too deep or with too many elements."""

    def __init__(self, limits: XmlLimits) -> None:
        super().__init__()
        self._limits = limits
        self._depth = 0
        self._count = 0

    def start(self, tag: Any, attrs: Any, /) -> Element:
        self._depth += 1
        self._count += 1
        if self._depth > self._limits.max_depth:
            raise _LimitExceeded(
                f"elements are nested deeper than the limit of {self._limits.max_depth}"
            )
        if self._count > self._limits.max_elements:
            raise _LimitExceeded(
                f"document has more than the limit of {self._limits.max_elements} elements"
            )
        return super().start(tag, attrs)

    def end(self, tag: Any, /) -> Element:
        self._depth -= 1
        return super().end(tag)


def local_name(tag: str) -> str:
    """``{ns}name`` → ``name``."""
    return tag.rpartition("}")[2]


def namespace(tag: str) -> str:
    """``{ns}name`` → ``ns`` (empty when the element has no namespace)."""
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def parse_xml(data: bytes, *, limits: XmlLimits | None = None) -> Element:
    """Parse ``data`` into an element tree, or raise :class:`AlertParseError`."""
    limits = limits or XmlLimits()
    if not isinstance(data, bytes | bytearray | memoryview):
        raise AlertParseError(f"expected bytes, got {type(data).__name__}", "document")
    size = len(data)
    if size > limits.max_bytes:
        raise AlertParseError(
            f"document is {size} bytes, larger than the limit of {limits.max_bytes} bytes",
            "document",
        )
    if size == 0:
        raise AlertParseError("document is empty", "document")
    parser = defused_etree.DefusedXMLParser(
        target=_BoundedTreeBuilder(limits),
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    try:
        parser.feed(bytes(data))
        root = parser.close()
    except DTDForbidden as exc:
        raise AlertParseError(
            "a DTD (<!DOCTYPE ...>) is not allowed: it could declare entities "
            f"or load external files (doctype {exc.name!r})",
            _where(parser),
        ) from None
    except EntitiesForbidden as exc:
        raise AlertParseError(
            f"entity declarations are not allowed (entity {exc.name!r})", _where(parser)
        ) from None
    except ExternalReferenceForbidden as exc:
        raise AlertParseError(
            f"external references are not allowed ({exc.sysid!r})", _where(parser)
        ) from None
    except _LimitExceeded as exc:
        raise AlertParseError(exc.reason, _where(parser)) from None
    except ParseError as exc:
        line, column = exc.position
        message = _POSITION.sub("", str(exc))
        raise AlertParseError(
            f"not well-formed XML: {message}", f"line {line}, column {column}"
        ) from None
    except (ValueError, LookupError, UnicodeError) as exc:  # e.g. an unknown encoding
        raise AlertParseError(f"unreadable XML: {exc}", _where(parser)) from None
    if not isinstance(root, Element):  # pragma: no cover - TreeBuilder always returns one
        raise AlertParseError("document has no root element", "document")
    _refuse_xinclude(root)
    return root


def _where(parser: Any) -> str:
    expat = getattr(parser, "parser", None)
    line = getattr(expat, "CurrentLineNumber", None)
    column = getattr(expat, "CurrentColumnNumber", None)
    if isinstance(line, int) and isinstance(column, int):
        return f"line {line}, column {column}"
    return "document"  # pragma: no cover - expat always knows its position


def _refuse_xinclude(root: Element) -> None:
    # iterate with an explicit stack to build the element path of the offender
    stack: list[tuple[Element, str]] = [(root, "/" + local_name(root.tag))]
    while stack:
        element, path = stack.pop()
        if namespace(element.tag) == XINCLUDE_NS:
            raise AlertParseError(
                f"XInclude is not allowed (<xi:{local_name(element.tag)}> "
                "would pull in outside content)",
                path,
            )
        children = [c for c in element if isinstance(c.tag, str)]
        totals: dict[str, int] = {}
        for child in children:
            totals[local_name(child.tag)] = totals.get(local_name(child.tag), 0) + 1
        seen: dict[str, int] = {}
        for child in children:
            name = local_name(child.tag)
            seen[name] = seen.get(name, 0) + 1
            suffix = f"[{seen[name]}]" if totals[name] > 1 else ""
            stack.append((child, f"{path}/{name}{suffix}"))
