"""The deployment in synapse-compose/, checked without a Docker engine: the compose file
against the Compose specification's schema, pinned images, loopback ports, a non-root
yakuba, and generate.py's output against what compose.yaml mounts and names."""

from __future__ import annotations

import copy
import importlib.util
import json
import posixpath
import re
import sys
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from bots.config import load_config

DIR = Path(__file__).resolve().parents[2] / "synapse-compose"
SERVER = "city.example.jp"
PUBLIC = "https://matrix.city.example.jp"


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
            if source.startswith("./"):
                assert _host_path(generated, source).exists(), source
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
    assert "secrets/synapse/signing.key" in secret_files
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
    config = load_config(config_path, env={})
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
