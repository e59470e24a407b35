"""The `yakuba` command line: check-config."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from appservice.cli import main

VALID = """\
homeserver:
  url: http://127.0.0.1:8008
  server_name: city.example.jp
language: ja
data_dir: data
security:
  trusted_users: ["@guest:partner.example.org"]
bots:
  tasks:
    user_id: "@tasks:city.example.jp"
    password: tasks-password
    pickle_key: tasks-pickle-key-0123456789
    rooms: ["#soumu:city.example.jp"]
    features: [tasks]
  alerts:
    user_id: "@alerts:city.example.jp"
    password: alerts-password
    pickle_key: {file: alerts.pickle}
    rooms: ["#bousai:city.example.jp"]
    features: [alerts]
departments:
  - id: soumu
    name: {ja: 総務課, en: General Affairs Division}
    rooms: ["#soumu:city.example.jp"]
    leads: ["@tanaka:city.example.jp"]
roles:
  lead:
    power_level: 50
  announcer:
    users: ["@tanaka:city.example.jp", "@guest:partner.example.org"]
"""

# three independent mistakes: a bad URL, a short pickle key, an unknown language
THREE_MISTAKES = """\
homeserver:
  url: ftp://matrix.city.example.jp
  server_name: city.example.jp
language: fr
bots:
  tasks:
    user_id: "@tasks:city.example.jp"
    password: tasks-password
    pickle_key: tooshortkey
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "yakuba.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_check_config_accepts_a_valid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "alerts.pickle").write_text("alerts-pickle-key-0123456789\n", encoding="utf-8")
    path = write(tmp_path, VALID)

    assert main(["check-config", "-c", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "OK" in out
    assert err == ""


def test_check_config_lists_every_mistake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, THREE_MISTAKES)

    assert main(["check-config", "-c", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    for config_path in ("homeserver.url", "bots.tasks.pickle_key", "language"):
        assert config_path in err, f"{config_path} not reported:\n{err}"
    assert str(path) in err


def test_check_config_never_prints_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, THREE_MISTAKES)
    main(["check-config", "-c", str(path)])
    out, err = capsys.readouterr()
    assert "tooshortkey" not in out + err
    assert "tasks-password" not in out + err


def test_check_config_on_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-c", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml" in capsys.readouterr().err


def test_check_config_on_a_missing_secret_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, VALID)  # alerts.pickle is not written
    assert main(["check-config", "-c", str(path)]) == 1
    assert "bots.alerts.pickle_key" in capsys.readouterr().err


def test_check_config_requires_a_config(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check-config"])
    assert info.value.code == 2


def test_audit_reads_exports_and_verifies_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import csv
    import io

    from bots.audit import AuditLog
    from bots.store.database import Database

    (tmp_path / "alerts.pickle").write_text("alerts-pickle-key-0123456789\n", encoding="utf-8")
    path = write(tmp_path, VALID)

    async def fill() -> None:
        db = await Database.open(tmp_path / "data" / "yakuba.db")
        log = AuditLog(db, lambda: 1_800_000_000.0)  # 2027-01-15 17:00 in Tokyo
        await log.record("@sato:city.example.jp", "anpi start", "!bousai:c", "!安否 開始")
        await log.record("@tanaka:city.example.jp", "announce", "!soumu:c", "!お知らせ x")
        await db.close()

    asyncio.run(fill())
    assert main(["audit", "-c", str(path), "--action", "anpi"]) == 0
    out = capsys.readouterr().out
    assert "2027-01-15 17:00:00  @sato:city.example.jp  anpi start in !bousai:c  [ok]" in out
    assert "announce" not in out

    assert main(["audit", "-c", str(path), "--since", "2027-01-16", "--csv", "-"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert len(rows) == 1  # the header only

    assert main(["audit", "-c", str(path), "--verify"]) == 0
    assert "intact: 2 entries" in capsys.readouterr().out
    assert main(["audit", "-c", str(path), "--since", "yesterday"]) == 2
    assert "expected YYYY-MM-DD" in capsys.readouterr().err
