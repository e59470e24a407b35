"""One entry point for any alert document: detect the format, parse it safely;
and ``yakuba alert parse FILE...``, which shows what each file yields as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bots.alerts.cap import is_cap_alert, parse_cap_alert
from bots.alerts.envelopes import (
    is_atom_feed,
    is_edxl_distribution,
    parse_atom,
    parse_edxl_distribution,
)
from bots.alerts.jma import is_jma_report, parse_jma_report
from bots.alerts.model import Alert, AlertDocument, DocumentFormat
from bots.alerts.xmlsafe import (
    DEFAULT_MAX_BYTES,
    AlertParseError,
    XmlLimits,
    local_name,
    namespace,
    parse_xml,
)


def parse_document(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> AlertDocument:
    """Parse a CAP alert, an EDXL-DE distribution, an Atom feed or a JMA report.

    Raises :class:`AlertParseError` for anything else, for unsafe or malformed XML,
    and for invalid alerts; never any other exception."""
    root = parse_xml(data, limits=XmlLimits(max_bytes=max_bytes))
    if is_cap_alert(root):
        return AlertDocument(DocumentFormat.CAP, (parse_cap_alert(root),))
    if is_edxl_distribution(root):
        return AlertDocument(DocumentFormat.EDXL_DE, parse_edxl_distribution(root))
    if is_atom_feed(root):
        alerts, links = parse_atom(root)
        return AlertDocument(DocumentFormat.ATOM, alerts, links)
    if is_jma_report(root):
        return AlertDocument(DocumentFormat.JMA, (parse_jma_report(root),))
    ns = namespace(root.tag)
    shown = f"<{local_name(root.tag)}>" + (f" in namespace {ns!r}" if ns else "")
    raise AlertParseError(
        f"not an alert document: root element {shown} is not a CAP <alert>, "
        "an EDXL-DE <EDXLDistribution>, an Atom <feed> or a JMA <Report>",
        "/" + local_name(root.tag),
    )


def parse_alert_document(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Alert]:
    """The alerts of a document (links of an Atom index feed: see :func:`parse_document`)."""
    return list(parse_document(data, max_bytes=max_bytes).alerts)


def read_documents(
    paths: Iterable[Path], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[tuple[Path, AlertDocument | AlertParseError]]:
    """Parse each file; an unreadable or oversized file is an error for that file only.

    Synchronous file I/O: for the CLI and tools, not for the event loop."""
    results: list[tuple[Path, AlertDocument | AlertParseError]] = []
    for path in paths:
        try:
            results.append((path, parse_document(_read(path, max_bytes), max_bytes=max_bytes)))
        except AlertParseError as exc:
            results.append((path, exc))
    return results


def parse_files(
    paths: Iterable[Path], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[tuple[Path, list[Alert] | AlertParseError]]:
    return [
        (path, result if isinstance(result, AlertParseError) else list(result.alerts))
        for path, result in read_documents(paths, max_bytes=max_bytes)
    ]


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # never read more than the cap
    except OSError as exc:
        raise AlertParseError(f"cannot read file: {exc.strerror or exc}", str(path)) from None
    if len(data) > max_bytes:
        raise AlertParseError(f"document is larger than the limit of {max_bytes} bytes", "document")
    return data


def alert_parse_cli(paths: list[Path], out: TextIO, err: TextIO) -> int:
    """Print one JSON object per file on ``out`` (``{"file", "format", "alerts",
    "links"}``) and each refusal on ``err`` as ``FILE: reason (at where)``.
    Returns 1 if any file was refused, else 0."""
    failed = False
    for path, result in read_documents(paths):
        if isinstance(result, AlertParseError):
            failed = True
            err.write(f"{path}: {result}\n")
            continue
        document = {"file": str(path), **result.to_json()}
        out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    return 1 if failed else 0
