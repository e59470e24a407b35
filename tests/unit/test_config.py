from __future__ import annotations

import pickle
import shutil
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bots.config import (
    Config,
    ConfigError,
    ConfigErrors,
    is_room_ref,
    is_user_id,
    load_config,
    parse_config,
    parse_user_id,
    server_of,
)
from bots.demo.city import ensure_secret_files
from bots.secrets import Secret

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"

MINIMAL = """\
homeserver:
  url: http://127.0.0.1:8008
  server_name: city.example.jp
bots:
  tasks:
    user_id: "@tasks:city.example.jp"
    password: s3cret-password
    pickle_key: 0123456789abcdef
    rooms: ["!abc:city.example.jp", "#soumu:city.example.jp"]
    features: [tasks]
"""

ENV = {
    "YAKUBA_TASKS_PASSWORD": "tasks-password",
    "YAKUBA_ANNOUNCEMENTS_PASSWORD": "announcements-password",
    "YAKUBA_ANNOUNCEMENTS_PICKLE_KEY": "announcements-pickle-key-0123456789",
    "YAKUBA_HOOK_UKETSUKE_SECRET": "whsec_aG9vay1zZWNyZXQ",
    "YAKUBA_OUTBOUND_UKETSUKE_SECRET": "outbound-secret",
}


def write(tmp_path: Path, text: str, name: str = "yakuba.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigErrors) as info:
        load_config(write(tmp_path, text), env=env or {})
    return {e.path: e.message for e in info.value.errors}


def with_bot(**changes: str) -> str:
    """MINIMAL with lines of the tasks bot replaced: key -> new YAML value."""
    lines = []
    for line in MINIMAL.splitlines():
        key = line.strip().split(":", 1)[0]
        if line.startswith("    ") and key in changes:
            line = f"    {key}: {changes[key]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- valid files


def test_example_loads(tmp_path: Path) -> None:
    shutil.copy(CONFIG_DIR / "yakuba.example.yaml", tmp_path / "yakuba.yaml")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "tasks.pickle").write_text("tasks-pickle-key-0123456789\n")
    (tmp_path / "secrets" / "alerts.password").write_text("alerts-password\n")
    (tmp_path / "secrets" / "alerts.pickle").write_text("alerts-pickle-key-0123456789\n")
    (tmp_path / "secrets" / "synapse-admin.token").write_text("syt_admin_token\n")

    config = load_config(tmp_path / "yakuba.yaml", env=ENV)

    assert set(config.bots) == {"tasks", "announcements", "alerts"}
    assert config.bot("tasks").password.get() == "tasks-password"
    assert config.bot("tasks").pickle_key.get() == "tasks-pickle-key-0123456789"
    assert config.bot("alerts").password.get() == "alerts-password"
    assert config.bot("announcements").pickle_key.get() == ENV["YAKUBA_ANNOUNCEMENTS_PICKLE_KEY"]
    assert [d.id for d in config.departments] == ["soumu", "bousai", "kensetsu"]
    bousai = config.department("bousai")
    assert bousai is not None
    assert bousai.name.get("ja") == "防災危機管理課"
    assert bousai.name.get("en") == "Disaster and Crisis Management Division"
    assert config.role("lead").power_level == 50
    assert config.bot_for_feature("alerts") == ("alerts", config.bot("alerts"))
    assert config.inviter_servers == frozenset({"city.example.jp", "pref.example.jp"})
    assert config.store.path == Path("/var/lib/yakuba/yakuba.db").resolve()
    assert config.language_for("@smith:city.example.jp") == "en"
    assert config.language_for("@tanaka:city.example.jp") == "ja"
    assert config.timezone_for("@smith:city.example.jp") == ZoneInfo("Europe/London")
    assert config.timezone_for("@tanaka:city.example.jp") == ZoneInfo("Asia/Tokyo")
    assert config.appservice is not None and config.appservice.id == "yakuba"
    assert [h.system for h in config.hooks] == ["uketsuke"]
    assert config.outbound.rules[0].task_events


def test_demo_loads(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    shutil.copy(CONFIG_DIR / "demo.yaml", tmp_path / "config" / "demo.yaml")
    secrets = tmp_path / ".local" / "secrets"
    secrets.mkdir(parents=True)
    for bot in ("tasks", "announcements", "alerts"):
        (secrets / f"{bot}.password").write_text(f"{bot}-password\n")
        (secrets / f"{bot}.pickle").write_text(f"{bot}-pickle-key-0123456789\n")
    # what `make up` does first: every other secret file the demo names is generated
    ensure_secret_files(tmp_path / "config" / "demo.yaml")
    assert (secrets / "hook-uketsuke.secret").read_text().strip()

    config = load_config(tmp_path / "config" / "demo.yaml", env={})

    assert config.homeserver.server_name == "localhost"
    assert config.data_dir == (tmp_path / ".local" / "yakuba").resolve()
    assert config.store.path == config.data_dir / "yakuba.db"
    assert config.bot("tasks").password.get() == "tasks-password"
    assert {d.id: d.leads for d in config.departments} == {
        "soumu": ("@tanaka:localhost",),
        "bousai": ("@sato:localhost",),
        "kensetsu": ("@suzuki:localhost",),
    }
    assert config.role("disaster_officer").users == ("@sato:localhost",)


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert config.language == "ja"
    assert config.zone == ZoneInfo("Asia/Tokyo")
    assert config.store.type == "sqlite"
    assert config.logging.level == "INFO"
    assert config.departments == ()
    assert config.role("admin").users == ()
    assert config.role("admin").power_level is None
    assert config.inviter_servers == frozenset({"city.example.jp"})


def test_relative_paths_resolved(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "pickle").write_text("0123456789abcdef-from-file\n")
    text = (
        with_bot(pickle_key="{file: keys/pickle}") + "data_dir: state\nstore: {path: db.sqlite}\n"
    )

    config = load_config(write(tmp_path, text), env={})

    assert config.data_dir == (tmp_path / "state").resolve()
    assert config.store.path == (tmp_path / "state" / "db.sqlite").resolve()
    assert config.bot("tasks").pickle_key.get() == "0123456789abcdef-from-file"


def test_absolute_store_path_kept(tmp_path: Path) -> None:
    db = (tmp_path / "elsewhere" / "y.db").resolve()
    config = load_config(write(tmp_path, MINIMAL + f"store: {{path: '{db}'}}\n"), env={})
    assert config.store.path == db


def test_parse_config_takes_data(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load(with_bot(password="{env: PW}"))
    config = parse_config(data, base_dir=tmp_path, env={"PW": "from-env"})
    assert isinstance(config, Config)
    assert config.bot("tasks").password.get() == "from-env"


# --------------------------------------------------------------------------- errors


def test_all_errors_reported_with_paths(tmp_path: Path) -> None:
    text = MINIMAL.replace("http://127.0.0.1:8008", "127.0.0.1:8008").replace(
        '"#soumu:city.example.jp"]', '"#soumu:city.example.jp", soumu]'
    )
    text += "langauge: en\n"

    with pytest.raises(ConfigErrors) as info:
        load_config(write(tmp_path, text), env={})

    errors = {e.path: e.message for e in info.value.errors}
    assert set(errors) == {"homeserver.url", "bots.tasks.rooms[2]", "langauge"}
    assert errors["bots.tasks.rooms[2]"] == (
        "expected a room ID (!…) or alias (#…:server), got 'soumu'"
    )
    assert "http://" in errors["homeserver.url"]
    text_out = str(info.value)
    assert text_out.startswith(f"Error in configuration {tmp_path / 'yakuba.yaml'}:\n  ")
    assert "\n  bots.tasks.rooms[2]: expected a room ID" in text_out
    assert len(text_out.splitlines()) == 4


def test_unknown_key_lists_allowed_keys(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, MINIMAL.replace("    features:", "    feature:"))
    assert errors == {
        "bots.tasks.feature": "unknown key 'feature' (allowed: user_id, password, pickle_key,"
        " display_name, rooms, features)"
    }


def test_missing_key(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, MINIMAL.replace("  server_name: city.example.jp\n", ""))
    assert errors == {"homeserver.server_name": "required key is missing"}


def test_wrong_type(tmp_path: Path) -> None:
    text = MINIMAL + "roles:\n  lead:\n    power_level: abc\n"
    assert errors_of(tmp_path, text) == {"roles.lead.power_level": "expected an integer, got 'abc'"}


def test_unknown_role(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, MINIMAL + "roles:\n  boss: {users: []}\n")
    assert list(errors) == ["roles.boss"]
    assert "unknown role 'boss'" in errors["roles.boss"]
    assert "disaster_officer" in errors["roles.boss"]


def test_bad_literal(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, MINIMAL + "language: fr\n")
    assert errors == {"language": "expected one of 'ja' or 'en', got 'fr'"}


def test_missing_env_secret_names_path(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, with_bot(password="{env: YAKUBA_TASKS_PASSWORD}"))
    assert errors == {
        "bots.tasks.password": "environment variable YAKUBA_TASKS_PASSWORD is not set"
    }


def test_unreadable_secret_file_names_path(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, with_bot(pickle_key="{file: nope/key}"))
    message = errors["bots.tasks.pickle_key"]
    assert str(tmp_path / "nope" / "key") in message
    assert message.startswith("cannot read secret file")


def test_short_pickle_key(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, with_bot(pickle_key="short"))
    assert "at least 16 characters" in errors["bots.tasks.pickle_key"]
    assert "short" not in errors["bots.tasks.pickle_key"]


def test_bad_secret_form_does_not_echo_value(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, with_bot(password="{value: hunter2}"))
    assert "hunter2" not in errors["bots.tasks.password"]
    assert "{env: NAME}" in errors["bots.tasks.password"]


def test_secret_repr_hides_value(tmp_path: Path) -> None:
    secret = Secret("hunter2")
    assert repr(secret) == "Secret('***')"
    assert str(secret) == "Secret('***')"
    assert f"{secret}" == "Secret('***')"
    assert secret.get() == "hunter2"
    assert secret == Secret("hunter2")
    with pytest.raises(TypeError):
        pickle.dumps(secret)

    config = load_config(write(tmp_path, with_bot(password="hunter2")), env={})
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.bot("tasks"))
    assert "hunter2" not in config.model_dump_json()


def test_errors_do_not_chain_pydantic_error(tmp_path: Path) -> None:
    # the pydantic ValidationError would show the input values, secrets included
    with pytest.raises(ConfigErrors) as info:
        load_config(write(tmp_path, with_bot(password="hunter2", rooms="[bad]")), env={})
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_bad_timezone(tmp_path: Path) -> None:
    text = MINIMAL + "timezone: Asia/Tokio\nusers:\n  '@smith:city.example.jp': {timezone: Mars}\n"
    errors = errors_of(tmp_path, text)
    assert set(errors) == {"timezone", 'users["@smith:city.example.jp"].timezone'}
    assert "unknown time zone 'Asia/Tokio'" in errors["timezone"]


def test_bot_on_wrong_server(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, with_bot(user_id='"@tasks:other.example.jp"'))
    assert list(errors) == ["bots.tasks.user_id"]
    assert "city.example.jp" in errors["bots.tasks.user_id"]


def test_remote_role_holder_must_be_trusted(tmp_path: Path) -> None:
    text = MINIMAL + "roles:\n  lead:\n    users: ['@a:city.example.jp', '@b:pref.example.jp']\n"
    errors = errors_of(tmp_path, text)
    assert list(errors) == ["roles.lead.users"]
    assert "security.trusted_users" in errors["roles.lead.users"]

    trusted = text + "security:\n  trusted_users: ['@b:pref.example.jp']\n"
    config = load_config(write(tmp_path, trusted), env={})
    assert config.role("lead").users == ("@a:city.example.jp", "@b:pref.example.jp")


def test_bad_user_ids(tmp_path: Path) -> None:
    text = (
        MINIMAL + "roles:\n  lead:\n    users: [tanaka, '@Tanaka:city.example.jp', '@a:bad_host']\n"
    )
    errors = errors_of(tmp_path, text)
    assert set(errors) == {"roles.lead.users[0]", "roles.lead.users[1]", "roles.lead.users[2]"}
    assert "@tanaka:city.example.jp" in errors["roles.lead.users[1]"]
    assert "lowercase" in errors["roles.lead.users[1]"]


def test_duplicate_department_id(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent("""\
        departments:
          - {id: soumu, name: {ja: 総務課}}
          - {id: bousai, name: {ja: 防災危機管理課}}
          - {id: soumu, name: {ja: 総務課２}}
        """)
    errors = errors_of(tmp_path, text)
    assert errors == {"departments[2].id": "department id 'soumu' is used more than once"}


def test_feature_served_twice(tmp_path: Path) -> None:
    # MINIMAL ends inside the bots mapping: add a second bot serving the same feature
    text = MINIMAL + (
        "  other:\n"
        '    user_id: "@other:city.example.jp"\n'
        "    password: pw\n"
        "    pickle_key: 0123456789abcdef\n"
        "    features: [tasks]\n"
    )
    errors = errors_of(tmp_path, text)
    assert list(errors) == ["bots"]
    assert "'tasks'" in errors["bots"]


def test_bad_bot_name_and_no_bots(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, MINIMAL.replace("  tasks:", "  Tasks:"))
    assert list(errors) == ["bots.Tasks"]
    assert "bot name" in errors["bots.Tasks"]

    head = MINIMAL.split("bots:")[0]
    assert errors_of(tmp_path, head + "bots: {}\n") == {"bots": "at least one bot is required"}


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    text = MINIMAL + "logging:\n  level: INFO\n   bad: [\n"
    with pytest.raises(ConfigErrors) as info:
        load_config(write(tmp_path, text), env={})
    [error] = info.value.errors
    assert error.path == ""
    assert error.line == 13
    assert "line 13, column 7" in error.message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_config(write(tmp_path, MINIMAL + "language: en\nlanguage: ja\n"), env={})
    [error] = info.value.errors
    assert error.line == 12
    assert "'language' appears twice (first at line 11)" in error.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_config(tmp_path / "absent.yaml", env={})
    assert len(info.value.errors) == 1
    assert "cannot read the file" in str(info.value)


@pytest.mark.parametrize("text", ["", "- a\n- b\n"])
def test_top_level_not_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_config(write(tmp_path, text), env={})
    assert "mapping" in str(info.value)


def test_config_error_str() -> None:
    assert str(ConfigError("a.b[1]", "bad")) == "a.b[1]: bad"
    assert str(ConfigError("", "bad")) == "bad"
    errors = ConfigErrors([ConfigError("x", "one"), ConfigError("", "two")], "f.yaml")
    assert str(errors) == "Error in configuration f.yaml:\n  x: one\n  two"


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    with pytest.raises(ValueError, match="frozen"):
        config.language = "en"  # type: ignore[misc]


# --------------------------------------------------------------------------- ID helpers


def test_user_id_helpers() -> None:
    assert parse_user_id("@tanaka:city.example.jp") == ("tanaka", "city.example.jp")
    assert server_of("@a.b=c-d/e+f_g:localhost:8448") == "localhost:8448"
    assert server_of("@x:[::1]:8448") == "[::1]:8448"
    assert server_of("@x:192.168.0.1") == "192.168.0.1"
    assert is_user_id("@x:localhost")
    for bad in ("x:localhost", "@:localhost", "@x", "@X:localhost", "@x:bad host", "@x:h:99999"):
        assert not is_user_id(bad), bad
    with pytest.raises(ValueError, match="lowercase"):
        parse_user_id("@Tanaka:localhost")


def test_room_ref_helpers() -> None:
    for good in ("!abc", "!abc:localhost", "#soumu:localhost", "#防災:city.example.jp:8448"):
        assert is_room_ref(good), good
    for bad in ("soumu", "#soumu", "#:localhost", "!", "! x", "@a:localhost", 3):
        assert not is_room_ref(bad), bad


def test_empty_optional_keys_mean_default(tmp_path: Path) -> None:
    text = MINIMAL + "security:\nroles:\n  admin:\nusers:\n  '@a:city.example.jp':\nlogging:\n"
    config = load_config(write(tmp_path, text), env={})
    assert config.security.trusted_users == ()
    assert config.role("admin").users == ()
    assert config.language_for("@a:city.example.jp") == "ja"
    assert config.logging.level == "INFO"

    errors = errors_of(tmp_path, with_bot(password=""))
    assert errors == {
        "bots.tasks.password": "expected a string, {env: NAME} or {file: PATH}, got nothing (null)"
    }


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = MINIMAL + (
        "  other:\n"
        "    <<: {user_id: '@x:city.example.jp', password: pw, pickle_key: 0123456789abcdef}\n"
        "    user_id: '@other:city.example.jp'\n"
    )
    config = load_config(write(tmp_path, text), env={})
    assert config.bot("other").user_id == "@other:city.example.jp"


def test_default_data_dir_and_store_are_resolved(tmp_path: Path) -> None:
    """Left out, data_dir is <config folder>/data and the store lives inside it."""
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": "localhost"},
        "bots": {
            "tasks": {
                "user_id": "@tasks:localhost",
                "password": "pw",
                "pickle_key": "0123456789abcdef",
            }
        },
    }
    config = parse_config(data, base_dir=tmp_path, env={})
    assert config.data_dir == (tmp_path / "data").resolve()
    assert config.store.path == (tmp_path / "data" / "yakuba.db").resolve()


def test_hooks_name_configured_systems_and_unique_ids(tmp_path: Path) -> None:
    data = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": "localhost"},
        "bots": {
            "t": {"user_id": "@t:localhost", "password": "p", "pickle_key": "0123456789abcdef"}
        },
        "systems": [{"id": "uketsuke", "display_name": "窓口"}],
        "hooks": [
            {
                "id": "a",
                "system": "nosuch",
                "room": "#x:localhost",
                "secrets": ["s"],
                "template": {"body": "x"},
            },
            {"id": "a", "system": "uketsuke", "room": "#x:localhost", "secrets": ["s"]},
        ],
        "outbound": {"rules": [{"endpoint": "missing"}]},
    }
    with pytest.raises(ConfigErrors) as caught:
        parse_config(data, base_dir=tmp_path, env={})
    text = str(caught.value)
    assert "hooks[0].system: unknown system 'nosuch' (configured systems: uketsuke)" in text
    assert "hooks[1]" in text and "needs a template" in text
    assert "outbound" in text and "'missing'" in text
