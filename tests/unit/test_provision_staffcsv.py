"""The staff list reader (bots/provision/staffcsv.py): encodings, headers in Japanese and
English, roles from role words, and every bad input refused with its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bots.config_provision import DEFAULT_ROLE_WORDS, StaffColumns
from bots.i18n import Catalog
from bots.provision.staffcsv import (
    ListFormat,
    StaffListError,
    department_names,
    parse_staff_list,
    read_staff_list,
    roles_of,
)

SERVER = "city.example.jp"
CATALOG = Catalog.load()
FORMAT = ListFormat(
    server_name=SERVER,
    departments=department_names(
        [
            ("soumu", "総務課", "General Affairs Division"),
            ("kensetsu", "建設課", "Construction Division"),
        ],
        {"総務部総務課": "soumu"},
    ),
    role_words=DEFAULT_ROLE_WORDS,
)
HEADER = "職員番号,氏名,カナ,所属,役割,MatrixID"


def parse(text: str, encoding: str = "utf-8", fmt: ListFormat = FORMAT) -> list[Any]:
    return parse_staff_list(text.encode(encoding), "staff.csv", fmt)


def problems(text: str, encoding: str = "utf-8") -> list[tuple[int, str]]:
    with pytest.raises(StaffListError) as caught:
        parse(text, encoding)
    return [(p.line, p.key) for p in caught.value.problems]


def messages(text: str, lang: str = "ja") -> list[str]:
    with pytest.raises(StaffListError) as caught:
        parse(text)
    return caught.value.lines(lambda key, **p: CATALOG.t(lang, key, **p))


def test_a_japanese_export_is_read() -> None:
    people = parse(
        f"{HEADER}\r\n"
        "00123,田中 太郎,タナカ タロウ,総務課,課長,@tanaka:city.example.jp\r\n"
        "00124,山田 花子,ﾔﾏﾀﾞ ﾊﾅｺ,建設課,主事,yamada\r\n"
    )
    assert [(p.employee_number, p.department, p.roles, p.user_id, p.line) for p in people] == [
        ("00123", "soumu", ("lead",), "@tanaka:city.example.jp", 2),
        ("00124", "kensetsu", (), "@yamada:city.example.jp", 3),
    ]
    assert people[1].kana == "ヤマダ ハナコ"  # half-width katakana from old systems


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp932", b""), ("shift_jis", b"")],
)
def test_utf8_with_or_without_bom_and_shift_jis(encoding: str, prefix: bytes) -> None:
    text = f"{HEADER}\n00123,高橋 一郎,タカハシ,総務課,防災担当,takahashi\n"
    people = parse_staff_list(prefix + text.encode(encoding), "staff.csv", FORMAT)
    assert (people[0].employee_number, people[0].name) == ("00123", "高橋 一郎")
    assert people[0].roles == ("disaster_officer",)


def test_windows_characters_of_cp932() -> None:
    text = f"{HEADER}\n1,髙橋 ①,タカハシ,総務課,,takahashi\n"
    assert parse(text, "cp932")[0].name == "髙橋 ①"


def test_the_encoding_can_be_fixed_and_then_nothing_is_guessed() -> None:
    text = f"{HEADER}\n1,田中,タナカ,総務課,,tanaka\n".encode("cp932")
    fmt = ListFormat(SERVER, FORMAT.departments, encoding="utf-8")
    with pytest.raises(StaffListError) as caught:
        parse_staff_list(text, "staff.csv", fmt)
    assert [(p.line, p.key) for p in caught.value.problems] == [(1, "encoding")]  # the header


def test_neither_utf8_nor_shift_jis_is_refused_with_its_line() -> None:
    data = f"{HEADER}\n".encode() + b"1,\x82\xff\x80,x,soumu,,tanaka\n"
    with pytest.raises(StaffListError) as caught:
        parse_staff_list(data, "staff.csv", FORMAT)
    assert [(p.line, p.key) for p in caught.value.problems] == [(2, "encoding")]


def test_english_headers_and_tabs_and_quoted_cells() -> None:
    people = parse(
        "Employee Number\tName\tKana\tDepartment\tRole\tMatrix ID\n"
        '7\t"Smith, John"\tスミス\tConstruction Division\tlead, announcer\t@smith:city.example.jp\n'
    )
    assert people[0].name == "Smith, John"
    assert people[0].roles == ("announcer", "lead")
    assert people[0].department == "kensetsu"


def test_kana_and_role_columns_are_optional_and_extra_columns_ignored() -> None:
    people = parse("職員番号,氏名,所属,MatrixID,内線\n１２３,田中,総務部総務課,tanaka,1234\n")
    assert (people[0].employee_number, people[0].kana, people[0].roles) == ("123", "", ())
    assert people[0].department == "soumu"  # a configured name of the department


def test_configured_column_names() -> None:
    fmt = ListFormat(
        SERVER,
        FORMAT.departments,
        columns=StaffColumns(employee_number="社員番号", user_id="チャットID"),
    )
    text = "社員番号,氏名,所属,チャットID\n1,田中,総務課,tanaka\n"
    assert parse(text, fmt=fmt)[0].user_id == f"@tanaka:{SERVER}"


def test_a_quoted_cell_over_two_lines_counts_lines_right() -> None:
    with pytest.raises(StaffListError) as caught:
        parse(f'{HEADER}\n1,"田中\n太郎",,総務課,,tanaka\n2,山田,,税務課,,yamada\n')
    assert [(p.line, p.key) for p in caught.value.problems] == [(4, "unknown_department")]


def test_blank_lines_are_skipped() -> None:
    assert len(parse(f"{HEADER}\n\n1,田中,,総務課,,tanaka\n,,,,,\n")) == 1


def test_a_missing_column_names_it_and_the_header() -> None:
    assert problems("職員番号,氏名,所属\n1,田中,総務課\n") == [(1, "missing_column")]
    (line,) = messages("職員番号,氏名,所属\n1,田中,総務課\n")
    assert line.startswith("staff.csv 1行目: ")
    assert "MatrixID" in line and "matrix_id" in line and "職員番号、氏名、所属" in line
    (english,) = messages("職員番号,氏名,所属\n1,田中,総務課\n", "en")
    assert english.startswith('staff.csv line 1: the column "MatrixID"')


def test_a_column_given_twice_is_refused() -> None:
    text = "職員番号,employee_number,氏名,所属,MatrixID\n1,1,田中,総務課,tanaka\n"
    assert problems(text) == [(1, "duplicate_column")]


def test_every_problem_is_listed_at_once_with_its_line() -> None:
    text = (
        f"{HEADER}\n"
        "1,田中,,総務課,,tanaka\n"  # 2: fine
        "1,佐藤,,総務課,,sato\n"  # 3: duplicate employee number
        "2,鈴木,,税務課,,suzuki\n"  # 4: unknown department
        "3,Smith,,建設課,,@smith:other.example.org\n"  # 5: another homeserver
        "4,,,建設課,,kato\n"  # 6: empty name
        "5,伊藤,,建設課,,@Ito:city.example.jp\n"  # 7: uppercase
        "6,渡辺,,建設課,,@watanabe\n"  # 8: not a user id
        "7,田中二郎,,建設課,,tanaka\n"  # 9: the same Matrix ID as line 2
    )
    assert problems(text) == [
        (3, "duplicate_number"),
        (4, "unknown_department"),
        (5, "foreign_user"),
        (6, "empty_cell"),
        (7, "uppercase_user_id"),
        (8, "bad_user_id"),
        (9, "duplicate_user"),
    ]
    lines = messages(text)
    assert lines[0] == "staff.csv 3行目: 職員番号 1 が重複しています(2行目にもあります)"
    assert "税務課" in lines[1] and "kensetsu, soumu" in lines[1]
    assert "other.example.org" in lines[2] and SERVER in lines[2]
    assert "氏名" in lines[3]
    assert "@ito:city.example.jp" in lines[4]


@pytest.mark.parametrize(
    ("text", "key"),
    [("", "empty"), (f"{HEADER}\n", "no_staff"), (f"{HEADER}\n\n\n", "no_staff")],
)
def test_an_empty_list_is_refused(text: str, key: str) -> None:
    assert problems(text) == [(0, key)]


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(StaffListError) as caught:
        read_staff_list(tmp_path / "missing.csv", FORMAT)
    assert caught.value.problems[0].key == "unreadable"
    assert caught.value.source.endswith("missing.csv")


def test_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_bytes(f"{HEADER}\r\n1,田中,タナカ,総務課,係長,tanaka\r\n".encode("cp932"))
    assert read_staff_list(path, FORMAT)[0].roles == ("lead",)


@pytest.mark.parametrize(
    ("cell", "roles"),
    [
        ("課長", ("lead",)),
        ("課長補佐", ("lead",)),
        ("主事", ()),
        ("", ()),
        ("防災担当・広報担当", ("announcer", "disaster_officer")),
        ("係長/危機管理", ("disaster_officer", "lead")),
        ("Disaster Officer", ()),
        ("disaster_officer", ("disaster_officer",)),
        ("ＬＥＡＤ", ("lead",)),
    ],
)
def test_roles_from_role_words(cell: str, roles: tuple[str, ...]) -> None:
    assert roles_of(cell, DEFAULT_ROLE_WORDS) == roles
