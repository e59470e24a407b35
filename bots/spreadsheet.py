"""CSV that Excel opens as it should (UTF-8 with BOM, CRLF) and cannot be made to run
a formula from free text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

#: a cell starting with one of these is a formula to a spreadsheet (full-width too)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def guard(text: str) -> str:
    """`text`, made inert if a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")
