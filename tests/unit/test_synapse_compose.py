"""The deployment in synapse-compose/, checked without a Docker engine: the compose file
against the Compose specification's schema, pinned images, loopback ports, a non-root
yakuba, and generate.py's output against what compose.yaml mounts and names. The postgres
init script that creates yakuba's role and database also runs on the test suite's
PostgreSQL server, when there is one (tests/unit/conftest.py)."""

from __future__ import annotations

import asyncio
import base64
import copy
import glob
import hashlib
import hmac
import importlib.util
import json
import os
import posixpath
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, NoReturn
from urllib.parse import urlsplit

import jsonschema
import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bots.config import Config, parse_config
from bots.store.postgres import open_postgres
from tests.postgres import Server, in_ci

DIR = Path(__file__).resolve().parents[2] / "synapse-compose"
SERVER = "city.example.jp"
PUBLIC = "https://matrix.city.example.jp"
#: the script the postgres image runs once on an empty data volume
INIT_SQL = DIR / "postgres-init" / "yakuba.sql"
INITDB_DIR = "/docker-entrypoint-initdb.d"


# --------------------------------------------------------------------------- helpers


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _load_yaml(DIR / "compose.yaml")
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data = json.loads((DIR / "schema" / "compose-spec.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synapse_compose_generate", DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


#: The draft named by a schema's "$schema" (the compose spec of docker-compose 1.29.2 says
#: "http://json-schema.org/draft/2019-09/schema#", which jsonschema's own lookup, keyed by the
#: https:// form, does not recognise).
DRAFTS = {
    "draft-04/": jsonschema.Draft4Validator,
    "draft-06/": jsonschema.Draft6Validator,
    "draft-07/": jsonschema.Draft7Validator,
    "draft/2019-09/": jsonschema.Draft201909Validator,
    "draft/2020-12/": jsonschema.Draft202012Validator,
}


def _validator_class(schema: dict[str, Any]) -> Any:
    named = [cls for key, cls in DRAFTS.items() if key in schema["$schema"]]
    assert len(named) == 1, schema["$schema"]
    return named[0]


def _validator(schema: dict[str, Any]) -> Any:
    cls = _validator_class(schema)
    cls.check_schema(schema)
    return cls(schema)


def _defaults(value: str) -> str:
    """Compose interpolation with nothing set: ${NAME:-default} -> default, ${NAME} -> ''."""
    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}",
        lambda m: m.group(2) or "",
        value,
    )


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of a service's short-syntax volumes."""
    result = []
    for volume in service.get("volumes", []):
        assert isinstance(volume, str), "short syntax expected"
        source, target, *_ = volume.split(":")
        result.append((source, target))
    return result


def _host_path(out: Path, source: str) -> Path:
    """./data/x in compose.yaml is OUT/x for generate.py --out OUT."""
    assert source.startswith("./data/"), source
    return out / source.removeprefix("./data/")


def _host_of(out: Path, service: dict[str, Any], container_path: str) -> Path:
    """Where a path inside a container comes from on the host (the deepest bind mount)."""
    best: tuple[str, str] | None = None
    for source, target in _mounts(service):
        inside = container_path == target or container_path.startswith(target.rstrip("/") + "/")
        if inside and (best is None or len(target) > len(best[1])):
            best = (source, target)
    assert best is not None, f"{container_path} is not mounted"
    source, target = best
    rest = PurePosixPath(container_path).relative_to(target)
    return _host_path(out, source) / rest


def _secret_file(
    out: Path, compose: dict[str, Any], service: dict[str, Any], container_path: str
) -> Path:
    """/run/secrets/NAME: the service must use the secret; its file comes from ./data/secrets."""
    assert container_path.startswith("/run/secrets/"), container_path
    name = container_path.removeprefix("/run/secrets/")
    assert name in service.get("secrets", []), f"{name} is not given to the service"
    source = compose["secrets"][name]["file"]
    assert source.startswith("./data/secrets/"), source
    return _host_path(out, source)


def _on_host(value: Any, out: Path, compose: dict[str, Any], service: dict[str, Any]) -> Any:
    """Parsed YAML with every ``{file: /run/secrets/NAME}`` replaced by the host file of the
    compose secret NAME, which the service must be given."""
    if isinstance(value, dict):
        target = value.get("file")
        if set(value) == {"file"} and isinstance(target, str) and target.startswith("/run/"):
            return {"file": str(_secret_file(out, compose, service, target))}
        return {k: _on_host(v, out, compose, service) for k, v in value.items()}
    if isinstance(value, list):
        return [_on_host(v, out, compose, service) for v in value]
    return value


def _yakuba_config(out: Path, compose: dict[str, Any]) -> Config:
    """yakuba.yaml through yakuba's own loader, with the files the container would read:
    relative secrets from the mounted folder, /run/secrets/NAME from compose's secrets."""
    path = out / "yakuba/yakuba.yaml"
    data = _on_host(_load_yaml(path), out, compose, compose["services"]["yakuba"])
    return parse_config(data, base_dir=path.resolve().parent, env={}, source=str(path))


@dataclass(frozen=True)
class InitScript:
    """What postgres-init/yakuba.sql does, read from its statements."""

    password_file: str
    role: str
    database: str
    owner: str


def _init_script() -> InitScript:
    text = INIT_SQL.read_text(encoding="utf-8")
    password = re.search(r"^\\set password `cat (/run/secrets/[\w.-]+)`$", text, re.M)
    role = re.search(r"^CREATE ROLE (\w+) LOGIN PASSWORD :'password';$", text, re.M)
    database = re.search(
        r"^CREATE DATABASE (\w+) OWNER (\w+) ENCODING 'UTF8' TEMPLATE template0;$", text, re.M
    )
    assert password and role and database, text
    # the password is checked before it is used, and never written into the script
    assert text.index(":yakuba_no_password") < role.start()
    return InitScript(password.group(1), role.group(1), database.group(1), database.group(2))


@pytest.fixture
def generated(gen: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "data"
    argv = ["--server-name", SERVER, "--public-url", PUBLIC, "--out", str(out), "--no-chown"]
    assert gen.main(argv) == 0
    printed = capsys.readouterr().out
    assert "register_new_matrix_user" in printed and "override_ratelimit" in printed
    return out


# --------------------------------------------------------------------------- compose.yaml


def test_schema_is_the_compose_spec(schema: dict[str, Any]) -> None:
    assert schema["$schema"].startswith("http://json-schema.org/")
    assert set(schema["properties"]) >= {"services", "volumes", "secrets", "networks"}
    assert (DIR / "schema" / "NOTICE").is_file()
    assert _validator_class(schema) is jsonschema.Draft201909Validator


def test_compose_file_validates(compose: dict[str, Any], schema: dict[str, Any]) -> None:
    errors = sorted(_validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    # the schema uses only keywords Draft 7 knows too: it passes there as well
    jsonschema.Draft7Validator(schema).validate(compose)


def test_schema_rejects_an_unknown_top_level_key(
    compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    bad = copy.deepcopy(compose)
    bad["servicez"] = {}
    assert not _validator(schema).is_valid(bad)
    bad = copy.deepcopy(compose)
    bad["services"]["synapse"]["imagee"] = "typo"
    assert not _validator(schema).is_valid(bad)


@pytest.mark.parametrize("port", [True, {"target": "8008"}, {"published": 8008.5, "target": 1}])
def test_schema_rejects_a_bad_port(
    compose: dict[str, Any], schema: dict[str, Any], port: Any
) -> None:
    bad = copy.deepcopy(compose)
    bad["services"]["synapse"]["ports"] = [port]
    assert not _validator(schema).is_valid(bad)


def test_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "synapse", "yakuba", "element", "synapse-pref"} <= set(services)
    assert services["synapse-pref"]["profiles"] == ["federation"]
    for name in ("postgres", "synapse", "yakuba", "element"):
        assert "profiles" not in services[name], name
    assert services["synapse"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]
    assert "synapse" in services["yakuba"]["depends_on"]
    # yakuba's store is on postgres: it waits until the server (and its database) is up
    assert services["yakuba"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["yakuba"]["build"]["context"] == ".."
    assert (DIR / ".." / services["yakuba"]["build"]["dockerfile"]).resolve() == (
        DIR / "Dockerfile"
    )
    assert services["yakuba"]["command"] == ["yakuba", "run", "-c", "/config/yakuba.yaml"]
    initdb = services["postgres"]["environment"]["POSTGRES_INITDB_ARGS"].split()
    assert {"--encoding=UTF8", "--lc-collate=C", "--lc-ctype=C"} <= set(initdb)


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = _defaults(service["image"])
        repository, sep, tag = image.rpartition(":")
        assert sep and "/" not in tag and repository, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
    base = re.search(r"^FROM\s+(\S+)", (DIR / "Dockerfile").read_text(), re.M)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), base.group(1)


def test_ports_bind_loopback_by_default(compose: dict[str, Any]) -> None:
    published = 0
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use HOST_IP:HOST:CONTAINER"
            host_ip, _host, _container = _defaults(port).split(":")
            assert host_ip == "127.0.0.1", f"{name}: {port}"
            published += 1
    assert published >= 4
    assert "ports" not in compose["services"]["postgres"]


def test_yakuba_runs_as_non_root(compose: dict[str, Any], gen: ModuleType) -> None:
    dockerfile = (DIR / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users, "the Dockerfile has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    uid = re.search(
        rf"useradd\b[^\n]*(?:\\\n[^\n]*)*--uid\s+(\d+)[^\n]*(?:\\\n[^\n]*)*\b{user}\b", dockerfile
    )
    assert uid is not None and int(uid.group(1)) == gen.YAKUBA_UID
    compose_user = compose["services"]["yakuba"].get("user")
    if compose_user is not None:
        assert compose_user.split(":")[0] == str(gen.YAKUBA_UID)
    assert re.search(r'^CMD \["yakuba", "run", "-c", "/config/yakuba.yaml"\]', dockerfile, re.M)


def test_no_inline_secrets(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        assert isinstance(env, dict)
        for key in env:
            if re.search(r"PASSWORD|SECRET|TOKEN|KEY", key):
                assert key.endswith("_FILE"), f"{name}: {key}"
    for name, item in compose["secrets"].items():
        assert set(item) == {"file"} and item["file"].startswith("./data/secrets/"), name


# --------------------------------------------------------------------------- generate.py


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_generate_creates_everything_compose_needs(
    generated: Path, compose: dict[str, Any]
) -> None:
    for name, item in compose["secrets"].items():
        path = _host_path(generated, item["file"])
        assert path.is_file() and path.read_text().strip(), name
        assert path.stat().st_mode & 0o077 == 0, f"{name} is readable by others"
    for service in compose["services"].values():
        for source, _target in _mounts(service):
            if source.startswith("./data/"):
                assert _host_path(generated, source).exists(), source
            elif source.startswith("./"):  # a file of this folder, e.g. the init script
                assert (DIR / source).is_file(), source
    key = (generated / "secrets/synapse/signing.key").read_text().strip()
    algorithm, version, seed = key.split(" ")
    assert algorithm == "ed25519" and re.fullmatch(r"a_[A-Za-z0-9]{4}", version)
    assert "=" not in seed
    import base64

    assert len(base64.b64decode(seed + "=" * (-len(seed) % 4))) == 32


def test_generate_is_idempotent(
    gen: ModuleType, generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(generated)
    argv = ["--server-name", SERVER, "--public-url", PUBLIC, "--out", str(generated), "--no-chown"]
    assert gen.main(argv) == 0
    assert "created" not in capsys.readouterr().out
    assert _files(generated) == before
    # rewriting the configs keeps every secret and the signing keys
    assert gen.main([*argv, "--rewrite-config"]) == 0
    after = _files(generated)
    secret_files = [name for name in before if name.startswith("secrets/")]
    assert {
        "secrets/synapse/signing.key",
        "secrets/postgres/password",
        "secrets/postgres/yakuba_password",
        "secrets/yakuba/store.dsn",
    } <= set(secret_files)
    assert {n: after[n] for n in secret_files} == {n: before[n] for n in secret_files}
    assert after["appservice/registration.yaml"] == before["appservice/registration.yaml"]


def test_homeserver_matches_compose(
    generated: Path, compose: dict[str, Any], gen: ModuleType
) -> None:
    services = compose["services"]
    synapse = services["synapse"]
    hs = _load_yaml(generated / "synapse/homeserver.yaml")
    assert _host_of(generated, synapse, "/data/homeserver.yaml") == (
        generated / "synapse/homeserver.yaml"
    )
    assert synapse["environment"]["SYNAPSE_CONFIG_PATH"] == "/data/homeserver.yaml"
    # the database: the compose postgres service, its database and user
    db = hs["database"]
    assert db["name"] == "psycopg2"
    assert db["args"]["host"] == "postgres" and "postgres" in services
    env = services["postgres"]["environment"]
    assert db["args"]["dbname"] == env["POSTGRES_DB"]
    assert db["args"]["user"] == env["POSTGRES_USER"]
    assert "password" not in db["args"]
    passfile = _secret_file(generated, compose, synapse, db["args"]["passfile"])
    host, port, dbname, user, password = passfile.read_text().strip().split(":")
    assert (host, int(port), dbname, user) == (
        "postgres",
        5432,
        env["POSTGRES_DB"],
        env["POSTGRES_USER"],
    )
    pg_secret = env["POSTGRES_PASSWORD_FILE"]
    assert (
        password
        == _secret_file(generated, compose, services["postgres"], pg_secret).read_text().strip()
    )
    # secrets by path, each given to the synapse container
    for key in (
        "signing_key_path",
        "registration_shared_secret_path",
        "macaroon_secret_key_path",
        "form_secret_path",
    ):
        assert _secret_file(generated, compose, synapse, hs[key]).is_file(), key
    for inline in ("macaroon_secret_key", "form_secret", "registration_shared_secret"):
        assert inline not in hs
    # the appservice registration is where compose mounts it
    (registration_path,) = hs["app_service_config_files"]
    assert registration_path == gen.REGISTRATION_PATH
    assert _host_of(generated, synapse, registration_path) == (
        generated / "appservice/registration.yaml"
    )
    # the listener is the port compose publishes; closed network settings
    (listener,) = hs["listeners"]
    assert listener["x_forwarded"] is True
    assert {"client", "federation"} <= set(listener["resources"][0]["names"])
    assert any(_defaults(p).endswith(f":{listener['port']}") for p in synapse["ports"])
    assert hs["trusted_key_servers"] == []
    assert hs["report_stats"] is False
    assert hs["url_preview_enabled"] is False
    assert hs["enable_registration"] is False
    assert hs["public_baseurl"] == PUBLIC + "/"
    assert "federation_domain_whitelist" not in hs
    assert "# federation_domain_whitelist:" in (generated / "synapse/homeserver.yaml").read_text()
    assert _host_of(generated, synapse, hs["media_store_path"]).is_dir()
    assert _host_of(generated, synapse, hs["log_config"]).is_file()


def test_prefecture_homeserver(generated: Path, compose: dict[str, Any]) -> None:
    pref = compose["services"]["synapse-pref"]
    hs = _load_yaml(_host_of(generated, pref, "/data/homeserver.yaml"))
    assert hs["server_name"] == "pref.example.jp"
    assert hs["database"]["name"] == "sqlite3"
    assert _host_of(generated, pref, hs["database"]["args"]["database"]).parent.is_dir()
    assert hs["trusted_key_servers"] == [] and hs["report_stats"] is False
    for key in ("signing_key_path", "registration_shared_secret_path", "form_secret_path"):
        assert _secret_file(generated, compose, pref, hs[key]).is_file(), key
    main_key = (generated / "secrets/synapse/signing.key").read_text()
    assert _secret_file(generated, compose, pref, hs["signing_key_path"]).read_text() != main_key


def test_registration_and_yakuba_config(generated: Path, compose: dict[str, Any]) -> None:
    services = compose["services"]
    yakuba = services["yakuba"]
    registration = _load_yaml(generated / "appservice/registration.yaml")
    url = urlsplit(registration["url"])
    config_path = _host_of(generated, yakuba, "/config/yakuba.yaml")
    assert config_path == generated / "yakuba/yakuba.yaml"
    config = _yakuba_config(generated, compose)
    assert config.appservice is not None
    # Synapse reaches yakuba by its service name on the port the appservice listens on
    assert url.hostname == "yakuba" and "yakuba" in services
    assert url.port == config.appservice.listen.port
    assert config.appservice.listen.host == "0.0.0.0"
    assert any(_defaults(p).endswith(f":{url.port}") for p in yakuba["ports"])
    assert registration["url"] == config.appservice.url
    # the tokens are the generated files
    assert config.appservice.as_token is not None and config.appservice.hs_token is not None
    assert registration["as_token"] == config.appservice.as_token.get()
    assert registration["hs_token"] == config.appservice.hs_token.get()
    assert registration["rate_limited"] is False
    # yakuba reaches Synapse by its service name and listener port
    homeserver = urlsplit(config.homeserver.url)
    assert homeserver.hostname == "synapse" and "synapse" in services
    hs = _load_yaml(generated / "synapse/homeserver.yaml")
    assert homeserver.port == hs["listeners"][0]["port"]
    assert config.homeserver.server_name == SERVER == hs["server_name"]
    # every bot is ours, with its secrets from files
    assert set(config.bots) == {"tasks", "announcements", "alerts"}
    for name, bot in config.bots.items():
        assert bot.user_id.endswith(":" + SERVER)
        assert (
            bot.password.get()
            == (generated / f"secrets/yakuba/{name}.password").read_text().strip()
        )
        assert len(bot.pickle_key.get()) >= 16
    raw = _load_yaml(config_path)
    for bot in raw["bots"].values():
        assert set(bot["password"]) == {"file"} and set(bot["pickle_key"]) == {"file"}
        # the same relative path resolves in the container to a mount of the same files
        inside = posixpath.normpath(posixpath.join("/config", bot["password"]["file"]))
        assert (
            _host_of(generated, yakuba, inside)
            == (config_path.parent / bot["password"]["file"]).resolve()
        )
    # data_dir is a volume of the yakuba service
    assert any(target == str(config.data_dir) for _s, target in _mounts(yakuba))


def test_element_config(generated: Path, compose: dict[str, Any]) -> None:
    element = compose["services"]["element"]
    path = _host_of(generated, element, "/app/config.json")
    config = json.loads(path.read_text())
    assert config["default_server_config"]["m.homeserver"] == {
        "base_url": PUBLIC,
        "server_name": SERVER,
    }
    assert config["disable_guests"] is True
    assert config["integrations_ui_url"] == "" and config["integrations_rest_url"] == ""
    assert config["piwik"] is False
    assert config["show_labs_settings"] is False
    assert "bug_report_endpoint_url" not in config
    text = path.read_text()
    assert "http" not in text.replace(PUBLIC, ""), "nothing but our homeserver is named"


# --------------------------------------------------------------------------- yakuba's store


def test_yakuba_store_is_the_compose_postgres(
    generated: Path, compose: dict[str, Any], gen: ModuleType
) -> None:
    services = compose["services"]
    yakuba, postgres = services["yakuba"], services["postgres"]
    raw = _load_yaml(generated / "yakuba/yakuba.yaml")
    assert raw["store"] == {"type": "postgresql", "dsn": {"file": "/run/secrets/yakuba_store_dsn"}}
    # the DSN is a compose secret given to yakuba (and only to yakuba), 0600
    dsn_file = _secret_file(generated, compose, yakuba, raw["store"]["dsn"]["file"])
    assert dsn_file == generated / "secrets/yakuba/store.dsn"
    assert dsn_file.stat().st_mode & 0o777 == 0o600
    for name, service in services.items():
        if name != "yakuba":
            assert "yakuba_store_dsn" not in service.get("secrets", []), name
    # yakuba's own loader reads it, as the container would
    config = _yakuba_config(generated, compose)
    assert config.store.type == "postgresql" and config.store.dsn is not None
    dsn = conninfo_to_dict(config.store.dsn.get())
    assert set(dsn) == {"host", "port", "dbname", "user", "password"}
    # ... naming the postgres service on the port its image listens on
    assert dsn["host"] == "postgres" and "postgres" in services
    assert "ports" not in postgres and "PGPORT" not in postgres["environment"]
    assert dsn["port"] == "5432" == str(gen.POSTGRES_PORT)
    # ... and the role and database the init script creates, with the password it reads
    script = _init_script()
    assert (dsn["user"], dsn["dbname"]) == (script.role, script.database)
    assert script.owner == script.role != postgres["environment"]["POSTGRES_USER"]
    password_file = _secret_file(generated, compose, postgres, script.password_file)
    assert password_file == generated / "secrets/postgres/yakuba_password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert dsn["password"] == password_file.read_text().strip()
    assert dsn["password"] != (generated / "secrets/postgres/password").read_text().strip()
    # generate.py reads the same file on the host (to write the registration)
    host = gen.host_view(copy.deepcopy(raw), generated)
    assert host["store"]["dsn"] == {"file": str(dsn_file)}


def test_init_script_is_mounted_into_postgres(compose: dict[str, Any], gen: ModuleType) -> None:
    postgres = compose["services"]["postgres"]
    (source,) = [s for s, t in _mounts(postgres) if t.startswith(INITDB_DIR + "/")]
    assert (DIR / source).resolve() == INIT_SQL
    assert f"{source}:{INITDB_DIR}/yakuba.sql:ro" in postgres["volumes"]
    # the image's postgres user runs the script: generate.py gives it the password file
    # (uid 70 is the alpine images' postgres user)
    assert postgres["image"].endswith("-alpine") and gen.POSTGRES_UID == 70
    out = Path("/data")
    assert (out / "secrets/postgres/yakuba_password", 70) in gen.ownership(out)
    assert (out / "secrets/yakuba", gen.YAKUBA_UID) in gen.ownership(out)
    # the healthcheck asks over TCP: not healthy while the init scripts run (socket only)
    assert "--host=127.0.0.1" in postgres["healthcheck"]["test"]


def test_store_dsn_quotes_the_password(gen: ModuleType) -> None:
    password = "p@ss:w/o?r#d% 'x'"
    dsn = conninfo_to_dict(gen.store_dsn(password))
    assert dsn == {
        "user": "yakuba",
        "password": password,
        "host": "postgres",
        "port": "5432",
        "dbname": "yakuba",
    }


def test_readme_names_what_exists(generated: Path) -> None:
    """Every data/... path the README names is made by generate.py; every other file of
    this folder it names is in the repository."""
    text = (DIR / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w/.-])data/[\w./-]*[\w/]", text))
    concrete = {p for p in named if not re.search(r"[$<…]", p)}
    assert {"data/secrets/yakuba/store.dsn", "data/secrets/postgres/yakuba_password"} <= concrete
    for path in sorted(concrete):
        assert (generated / path.removeprefix("data/")).exists(), path
    assert "`postgres-init/yakuba.sql`" in text and INIT_SQL.is_file()


def _unavailable(problem: str) -> NoReturn:
    if in_ci():  # CI has a PostgreSQL server: a skip there would hide a gap
        pytest.fail(problem)
    pytest.skip(problem)


def _psql() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return found[-1] if found else shutil.which("psql")


def _scram_matches(verifier: str, password: str) -> bool:
    """Whether PostgreSQL's SCRAM-SHA-256 verifier (pg_authid.rolpassword) is of
    ``password`` (RFC 5802: StoredKey = H(HMAC(SaltedPassword, "Client Key")))."""
    match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", verifier)
    assert match, "not a SCRAM-SHA-256 verifier"
    iterations, salt, stored_key = int(match[1]), base64.b64decode(match[2]), match[3]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))


async def test_init_script_on_postgresql(
    postgres_server: Server, generated: Path, compose: dict[str, Any], tmp_path: Path
) -> None:
    """The init script run as the image runs it (psql -v ON_ERROR_STOP=1 -f), on the test
    suite's server: it creates a login role with the DSN's password and a UTF8 database it
    owns, where yakuba's store migrates as that role (no superuser)."""
    if postgres_server.problem:
        _unavailable(postgres_server.problem)
    psql = _psql()
    if psql is None:
        _unavailable("no psql on this machine (Debian: postgresql-client)")
    admin = postgres_server.dsn
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        row = await (
            await conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ).fetchone()
    if not (row and row[0]):
        _unavailable("the test server's role is not a superuser: it cannot create roles")

    config = _yakuba_config(generated, compose)
    assert config.store.dsn is not None
    password = str(conninfo_to_dict(config.store.dsn.get())["password"])
    script = _init_script()
    postgres = compose["services"]["postgres"]
    password_file = _secret_file(generated, compose, postgres, script.password_file)
    # the same script, under a name of this run (roles are global to a server) and with
    # the secret's host file in place of its path in the container
    name = f"yakuba_compose_{os.getpid()}"
    text, count = re.subn(
        rf"\b(ROLE|DATABASE|OWNER) {script.role}\b", rf"\1 {name}", INIT_SQL.read_text()
    )
    assert count == 3
    assert script.password_file in text
    sql = tmp_path / "yakuba.sql"
    sql.write_text(text.replace(script.password_file, str(password_file)), encoding="utf-8")

    async def admin_sql(*statements: str) -> None:
        async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
            for statement in statements:
                await conn.execute(statement)

    drop = (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"DROP ROLE IF EXISTS {name}")
    await admin_sql(*drop)
    try:
        process = await asyncio.create_subprocess_exec(
            psql,
            "-v",
            "ON_ERROR_STOP=1",
            "--no-psqlrc",
            "--dbname",
            admin,
            "-f",
            str(sql),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
            role = await (
                await conn.execute(
                    "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolpassword"
                    " FROM pg_authid WHERE rolname = %s",
                    [name],
                )
            ).fetchone()
            database = await (
                await conn.execute(
                    "SELECT pg_encoding_to_char(encoding), pg_get_userbyid(datdba)"
                    " FROM pg_database WHERE datname = %s",
                    [name],
                )
            ).fetchone()
        assert role is not None and database is not None
        assert role[:4] == (True, False, False, False)
        assert _scram_matches(role[4], password)
        assert not _scram_matches(role[4], password + "x")
        assert database == ("UTF8", name)
        # yakuba's store creates its tables there, as the role, with the DSN's password
        store = await open_postgres(make_conninfo(admin, user=name, dbname=name, password=password))
        await store.close()
    finally:
        await admin_sql(*drop)
