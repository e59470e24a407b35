"""`yakuba provision`'s configuration and what it refuses before touching anything: a
bad staff list (every problem with its line, no database, no homeserver contacted), no
provisioning section."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import pytest

from appservice import provision_cli
from bots.config import Config, ConfigErrors, parse_config
from bots.provision.org import list_format, org_chart

SERVER = "city.example.jp"


def config_data(**provisioning: Any) -> dict[str, Any]:
    return {
        # a port nothing listens on: a test that reached the homeserver would fail
        "homeserver": {"url": "http://127.0.0.1:9", "server_name": SERVER},
        "data_dir": "data",
        "bots": {
            "tasks": {
                "user_id": f"@tasks:{SERVER}",
                "password": "secret",
                "pickle_key": "0123456789abcdef",
                "features": ["tasks"],
                "rooms": [f"#soumu:{SERVER}"],
            }
        },
        "departments": [
            {
                "id": "soumu",
                "name": {"ja": "総務課", "en": "General Affairs"},
                "rooms": [f"#soumu:{SERVER}"],
            },
            {"id": "kensetsu", "name": {"ja": "建設課"}},
        ],
        "roles": {"disaster_officer": {"power_level": 75}},
        "provisioning": {"admin_token": {"env": "ADMIN_TOKEN"}, **provisioning},
    }


def make_config(tmp_path: Path, **provisioning: Any) -> Config:
    return parse_config(config_data(**provisioning), base_dir=tmp_path, env={"ADMIN_TOKEN": "t"})


def errors_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        parse_config(data, base_dir=tmp_path, env={"ADMIN_TOKEN": "t"})
    return [str(e) for e in caught.value.errors]


# --- configuration ---------------------------------------------------------------------


def test_defaults_and_the_org_chart(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        space={"alias": f"#city:{SERVER}", "name": "みどり市役所"},
        power_levels={"announcer": 40},
        department_names={"総務部 総務課": "soumu"},
    )
    settings = config.provisioning
    assert settings is not None and settings.admin_token.get() == "t"
    assert settings.columns.employee_number == "職員番号" and not settings.deactivate_leavers
    org = org_chart(config, admin=f"@admin:{SERVER}")
    assert org.power == {"lead": 50, "announcer": 40, "disaster_officer": 75, "admin": 100}
    assert org.space_alias == f"#city:{SERVER}" and org.bots == {
        f"@tasks:{SERVER}": (f"#soumu:{SERVER}",)
    }
    assert list_format(config).departments["総務部総務課"] == "soumu"
    assert list_format(config).departments["generalaffairs"] == "soumu"


def test_configuration_errors_name_their_path(tmp_path: Path) -> None:
    data = config_data(
        space={"alias": "#city:other.example.org", "name": "x"},
        department_names={"税務課": "zeimu"},
        power_levels={"lead": 150},
        columns={"name": "職員番号"},
    )
    data["provisioning"].pop("admin_token")
    errors = errors_of(tmp_path, data)
    assert any(e.startswith("provisioning.admin_token:") for e in errors)
    assert any(e.startswith("provisioning.space.alias:") and "this homeserver" in e for e in errors)
    assert any(e.startswith("provisioning.department_names:") and "zeimu" in e for e in errors)
    assert any(e.startswith("provisioning.power_levels.lead:") for e in errors)
    assert any(e.startswith("provisioning.columns:") and "same header" in e for e in errors)


# --- the command refuses before touching anything ----------------------------------------


def args(staff: Path, **extra: Any) -> argparse.Namespace:
    values = {"staff": staff, "dry_run": False, "lang": None, "allow_many_leavers": False}
    return argparse.Namespace(**{**values, **extra})


async def test_a_bad_staff_list_is_refused_with_every_line_and_nothing_is_touched(
    tmp_path: Path,
) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_bytes(
        "職員番号,氏名,カナ,所属,役割,MatrixID\n"
        "1,田中,タナカ,総務課,課長,tanaka\n"
        "1,山田,ヤマダ,税務課,,@yamada:other.example.org\n".encode("cp932")
    )
    config = make_config(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert await provision_cli.run(args(staff), config, out, err) == 1
    text = err.getvalue()
    assert f"職員名簿 {staff} を受け付けませんでした(3 件の問題)" in text
    assert f"{staff} 3行目: 職員番号 1 が重複しています" in text
    assert "税務課" in text and "other.example.org" in text
    assert out.getvalue() == ""
    assert not (tmp_path / "data").exists()  # no database opened, let alone changed


async def test_errors_in_english(tmp_path: Path) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text("employee_number,name,department\n1,Tanaka,soumu\n")
    err = io.StringIO()
    code = await provision_cli.run(
        args(staff, lang="en"), make_config(tmp_path), io.StringIO(), err
    )
    assert code == 1
    assert f'{staff} line 1: the column "MatrixID" (matrix_id) is missing' in err.getvalue()


async def test_without_a_provisioning_section(tmp_path: Path) -> None:
    data = config_data()
    data.pop("provisioning")
    config = parse_config(data, base_dir=tmp_path, env={})
    err = io.StringIO()
    assert await provision_cli.run(args(tmp_path / "x.csv"), config, io.StringIO(), err) == 1
    assert "provisioning セクションがありません" in err.getvalue()


def test_the_parser() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    provision_cli.add_parser(sub)
    parsed = parser.parse_args(["provision", "-c", "y.yaml", "--staff", "s.csv", "--dry-run"])
    assert (parsed.command, parsed.dry_run, parsed.lang) == ("provision", True, None)
    assert parsed.staff == Path("s.csv") and not parsed.allow_many_leavers


async def test_an_unreachable_homeserver_leaves_nothing_behind(tmp_path: Path) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text("職員番号,氏名,所属,MatrixID\n1,田中,総務課,tanaka\n")
    err = io.StringIO()
    assert await provision_cli.run(args(staff), make_config(tmp_path), io.StringIO(), err) == 1
    assert "Synapse (http://127.0.0.1:9) から読み取れませんでした" in err.getvalue()
    assert not (tmp_path / "data").exists()
