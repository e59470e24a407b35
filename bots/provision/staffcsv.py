"""Reading the staff list: CSV as personnel systems export it.

UTF-8 with or without a BOM, or Shift_JIS (cp932, Windows' Japanese), comma- or
tab-separated. Columns are found by their header (`provisioning.columns`, or the English
names). Every problem is collected, each naming its line, so that one run shows them all;
a list with any problem is refused as a whole.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bots.config_provision import StaffColumns, normalise_word
from bots.ids import parse_user_id
from bots.provision.model import Person

#: the English header of each column, always understood
ENGLISH = {
    "employee_number": ("employee_number", "employee number", "employee no", "employee id"),
    "name": ("name", "full name"),
    "kana": ("kana", "name kana", "reading"),
    "department": ("department", "division", "section"),
    "role": ("role", "roles", "position", "title"),
    "user_id": ("matrix_id", "matrix id", "user_id", "mxid"),
}
REQUIRED = ("employee_number", "name", "department", "user_id")
OPTIONAL = ("kana", "role")
#: the roles by their English names, as `normalise_word` writes them
_ROLE_NAMES = {normalise_word(r): r for r in ("lead", "announcer", "disaster_officer", "admin")}
_SEPARATORS = str.maketrans({c: " " for c in "、,，/／・;；|｜"})
_BOM = b"\xef\xbb\xbf"
#: problems listed at most (one broken column could give one per line)
MAX_PROBLEMS = 200


@dataclass(frozen=True)
class Problem:
    """One problem: its line (0: the file as a whole) and a catalog key (provision.csv.*)."""

    line: int
    key: str
    params: Mapping[str, str] = field(default_factory=dict)


class StaffListError(Exception):
    """The staff list is refused; `problems` says why, each with its line."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s)")

    def lines(self, t: Callable[..., str]) -> list[str]:
        """Each problem as a sentence in the catalog's language."""
        out = []
        for problem in self.problems:
            text = t(f"provision.csv.{problem.key}", **problem.params)
            if problem.line:
                out.append(t("provision.csv.at_line", file=self.source, line=problem.line) + text)
            else:
                out.append(f"{self.source}: {text}")
        return out


@dataclass(frozen=True)
class ListFormat:
    """How to read a list: its columns, role words, department names, the homeserver."""

    server_name: str
    #: normalised name (id, Japanese or English name, configured alias) -> department id
    departments: Mapping[str, str]
    columns: StaffColumns = field(default_factory=StaffColumns)
    role_words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    encoding: str = "auto"


def read_staff_list(path: Path, fmt: ListFormat) -> list[Person]:
    """The people of the staff list at `path`; `StaffListError` listing every problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StaffListError(str(path), [Problem(0, "unreadable", {"reason": reason})]) from None
    return parse_staff_list(data, str(path), fmt)


def parse_staff_list(data: bytes, source: str, fmt: ListFormat) -> list[Person]:
    text = _decode(data, source, fmt.encoding)
    rows = _rows(text)
    if not rows:
        raise StaffListError(source, [Problem(0, "empty")])
    header_line, header = rows[0]
    problems: list[Problem] = []
    where = _find_columns(header, fmt.columns, header_line, problems)
    if problems:
        raise StaffListError(source, problems)
    people: list[Person] = []
    numbers: dict[str, int] = {}
    users: dict[str, int] = {}
    for line, cells in rows[1:]:
        if not any(c.strip() for c in cells):
            continue  # a blank line
        number_at = where["employee_number"]
        number = _number(cells[number_at]) if number_at < len(cells) else ""
        if number in numbers:  # said even when the line has other problems too
            first = str(numbers[number])
            problems.append(Problem(line, "duplicate_number", {"value": number, "first": first}))
        elif number:
            numbers[number] = line
        person = _person(line, cells, where, fmt, problems)
        if person is None or numbers.get(number) != line:
            continue
        if person.user_id in users:
            first = str(users[person.user_id])
            problems.append(
                Problem(line, "duplicate_user", {"value": person.user_id, "first": first})
            )
            continue
        users[person.user_id] = line
        people.append(person)
    if not problems and not people:
        problems.append(Problem(0, "no_staff"))
    if problems:
        raise StaffListError(source, problems[:MAX_PROBLEMS])
    return people


def _decode(data: bytes, source: str, encoding: str) -> str:
    if data.startswith(_BOM) and encoding in ("auto", "utf-8"):
        data = data[len(_BOM) :]
        encoding = "utf-8"
    tried = ("utf-8", "cp932") if encoding == "auto" else (encoding,)
    first: UnicodeDecodeError | None = None
    for name in tried:
        try:
            return data.decode(name)
        except UnicodeDecodeError as exc:
            first = first or exc
    assert first is not None
    line = data.count(b"\n", 0, first.start) + 1
    raise StaffListError(
        source,
        [Problem(line, "encoding", {"offset": str(first.start), "encodings": " / ".join(tried)})],
    )


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, cells) of each record; a quoted cell may span lines."""
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    start = 1
    for cells in reader:
        rows.append((start, cells))
        start = reader.line_num + 1
    return rows


def _find_columns(
    header: list[str], columns: StaffColumns, line: int, problems: list[Problem]
) -> dict[str, int]:
    names = [normalise_word(h) for h in header]
    where: dict[str, int] = {}
    for key, configured in columns.model_dump().items():
        wanted = {normalise_word(configured), *(normalise_word(e) for e in ENGLISH[key])}
        found = [i for i, name in enumerate(names) if name in wanted]
        if len(found) > 1:
            problems.append(Problem(line, "duplicate_column", {"column": header[found[1]]}))
        elif found:
            where[key] = found[0]
        elif key in REQUIRED:
            shown = "、".join(h for h in header if h.strip()) or "-"
            problems.append(
                Problem(
                    line,
                    "missing_column",
                    {"column": configured, "english": ENGLISH[key][0], "header": shown},
                )
            )
    return where


def _person(
    line: int, cells: list[str], where: Mapping[str, int], fmt: ListFormat, problems: list[Problem]
) -> Person | None:
    def cell(key: str) -> str:
        index = where.get(key)
        if index is None or index >= len(cells):
            return ""
        return cells[index].strip()

    before = len(problems)
    for key in REQUIRED:
        if not cell(key):
            problems.append(Problem(line, "empty_cell", {"column": _header_of(key, fmt)}))
    if len(problems) > before:
        return None
    number = _number(cell("employee_number"))
    raw_department = cell("department")
    department = fmt.departments.get(normalise_word(raw_department))
    if department is None:
        known = sorted(set(fmt.departments.values()))
        problems.append(
            Problem(
                line,
                "unknown_department",
                {"value": raw_department, "known": ", ".join(known) or "-"},
            )
        )
    user_id = _user_id(line, cell("user_id"), fmt.server_name, problems)
    if department is None or user_id is None:
        return None
    return Person(
        employee_number=number,
        name=cell("name"),
        kana=unicodedata.normalize("NFKC", cell("kana")),
        department=department,
        roles=roles_of(cell("role"), fmt.role_words),
        user_id=user_id,
        line=line,
    )


def _number(cell: str) -> str:
    """An employee number as written (leading zeros kept), full-width digits as ASCII."""
    return unicodedata.normalize("NFKC", cell).strip()


def _header_of(key: str, fmt: ListFormat) -> str:
    return str(getattr(fmt.columns, key))


def _user_id(line: int, raw: str, server: str, problems: list[Problem]) -> str | None:
    value = unicodedata.normalize("NFKC", raw).strip()
    if not value.startswith("@") and ":" not in value:
        value = f"@{value}:{server}"  # a login name: an account of this homeserver
    try:
        localpart, its_server = parse_user_id(value)
    except ValueError:
        lowered = value.lower()
        try:
            parse_user_id(lowered)
        except ValueError:
            problems.append(Problem(line, "bad_user_id", {"value": raw, "server": server}))
        else:
            problems.append(Problem(line, "uppercase_user_id", {"value": raw, "lower": lowered}))
        return None
    if its_server != server:
        problems.append(
            Problem(line, "foreign_user", {"value": raw, "server": its_server, "ours": server})
        )
        return None
    return f"@{localpart}:{its_server}"


def roles_of(cell: str, role_words: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The roles a role cell gives: each word (split at 、 , / ・ ; | and spaces) that is or
    contains a role word; the English role names themselves too. Other words give none."""
    words = {normalise_word(w): roles for w, roles in role_words.items()}
    found: set[str] = set()
    for token in unicodedata.normalize("NFKC", cell).translate(_SEPARATORS).split():
        word = normalise_word(token)
        if word in _ROLE_NAMES:
            found.add(_ROLE_NAMES[word])
            continue
        if word in words:
            found.update(words[word])
            continue
        for known, roles in words.items():
            if known in word:
                found.update(roles)
    return tuple(sorted(found))


def department_names(
    departments: Sequence[tuple[str, str, str | None]], aliases: Mapping[str, str]
) -> dict[str, str]:
    """normalised name -> department id, from (id, name.ja, name.en) and configured aliases."""
    names: dict[str, str] = {}
    for department_id, ja, en in departments:
        for name in (department_id, ja, en):
            if name:
                names.setdefault(normalise_word(name), department_id)
    for name, department_id in aliases.items():
        names[normalise_word(name)] = department_id
    return names
