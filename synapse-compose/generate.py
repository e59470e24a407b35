"""Create the data folder that synapse-compose/compose.yaml runs on.

    python synapse-compose/generate.py --server-name city.example.jp \\
        [--public-url https://matrix.city.example.jp] [--out synapse-compose/data]

Secrets (passwords, tokens, keys) are made once and never overwritten: running the script
again keeps them, so it is safe to re-run. Config files are written when missing, or again
with --rewrite-config (they hold no secrets, only paths to them). Nothing here talks to the
network.

Layout of the data folder (compose.yaml mounts these paths):

    secrets/postgres/password             the database password (postgres reads it as root)
    secrets/postgres/yakuba_password      yakuba's database password (for postgres-init/yakuba.sql)
    secrets/synapse/*                     Synapse's signing key, shared secrets, db passfile
    secrets/synapse-pref/*                the same for the prefecture's homeserver (profile)
    secrets/yakuba/*                      bot passwords, pickle keys, as_token, hs_token
    secrets/yakuba/store.dsn              yakuba's store: postgresql://yakuba:...@postgres:5432/yakuba
    synapse/homeserver.yaml, log.config   Synapse's config (no secrets in it), media_store/
    synapse-pref/...                      the prefecture's homeserver (SQLite)
    appservice/registration.yaml          yakuba's registration, read by Synapse
    yakuba/yakuba.yaml                    yakuba's config (secrets as {file: ...})
    element/config.json                   Element Web's config
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import string
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Names shared with compose.yaml (tests/unit/test_synapse_compose.py checks they agree).
POSTGRES_SERVICE = "postgres"
POSTGRES_PORT = 5432
POSTGRES_DB = "synapse"
POSTGRES_USER = "synapse"
#: yakuba's role and database in the same server (created by postgres-init/yakuba.sql)
YAKUBA_DB = "yakuba"
YAKUBA_DB_USER = "yakuba"
SYNAPSE_SERVICE = "synapse"
SYNAPSE_PORT = 8008
YAKUBA_SERVICE = "yakuba"
APPSERVICE_PORT = 9010
#: where compose mounts ./data/appservice in the synapse container
REGISTRATION_PATH = "/data/appservice/registration.yaml"
#: the users the containers run as (synapse image: UID/GID in compose; yakuba: Dockerfile)
SYNAPSE_UID = 991
YAKUBA_UID = 10001
#: the postgres image's user (uid 70 in the alpine images): it runs the init scripts, which
#: read yakuba's database password (root reads only POSTGRES_PASSWORD_FILE)
POSTGRES_UID = 70
#: yakuba.yaml lives in ./data/yakuba (mounted at /config) and its secrets in
#: ./data/secrets/yakuba (mounted at /secrets/yakuba): the same relative path works in the
#: container and for `yakuba check-config` on the host.
YAKUBA_SECRETS_REL = "../secrets/yakuba"
YAKUBA_DATA_DIR = "/var/lib/yakuba"
#: yakuba's store DSN is the compose secret of this name, at /run/secrets/<name> in the
#: yakuba container; on the host it is this file of the data folder (compose.yaml agrees)
YAKUBA_STORE_DSN_SECRET = "yakuba_store_dsn"
YAKUBA_STORE_DSN_FILE = "secrets/yakuba/store.dsn"

#: (name, localpart, display name, feature): the default bots, one account each.
BOTS = (
    ("tasks", "tasks", "タスク係", "tasks"),
    ("announcements", "announcements", "お知らせ係", "announcements"),
    ("alerts", "alerts", "防災情報", "alerts"),
)


# --------------------------------------------------------------------------- files


@dataclass
class Report:
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600; fails if it exists (never overwrite a secret)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except PermissionError:
        sys.exit(
            f"cannot read {path}: it belongs to a container user now; run this script with"
            " sudo (or as root) to use the existing secrets"
        )


def secret(path: Path, report: Report, make: Any = None) -> Path:
    """Make the secret file once: a random token, or ``make()``'s text."""
    if path.exists():
        report.kept.append(path)
        return path
    value = make() if make is not None else secrets.token_urlsafe(32)
    _write_private(path, value + "\n")
    report.created.append(path)
    return path


def signing_key() -> str:
    """A Synapse signing key: ``ed25519 a_<4 letters> <unpadded base64 of the seed>``."""
    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    version = "a_" + "".join(secrets.choice(string.ascii_letters) for _ in range(4))
    return f"ed25519 {version} {base64.b64encode(seed).decode().rstrip('=')}"


def config_file(
    path: Path, text: str, report: Report, *, rewrite: bool, private: bool = False
) -> None:
    if path.exists() and not rewrite:
        report.kept.append(path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:
        path.unlink(missing_ok=True)
        _write_private(path, text)
    else:
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
    report.created.append(path)


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# --------------------------------------------------------------------------- Synapse


def log_config() -> str:
    """Synapse logs to stdout (``docker compose logs synapse``)."""
    return _yaml(
        {
            "version": 1,
            "formatters": {
                "precise": {"format": "%(asctime)s - %(name)s - %(levelname)s - %(message)s"}
            },
            "handlers": {
                "console": {
                    "class": "logging.StreamHandler",
                    "formatter": "precise",
                    "stream": "ext://sys.stdout",
                }
            },
            "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
            "root": {"level": "INFO", "handlers": ["console"]},
            "disable_existing_loggers": False,
        }
    )


FEDERATION_NOTES = """
# --- Federation (IT decides; see synapse-compose/README.md) ---------------------------
# Only these homeservers may federate with us. Uncomment and list the prefecture and the
# neighbouring cities; left commented, any reachable server may federate. An empty list
# turns federation off entirely.
# federation_domain_whitelist:
#   - pref.example.jp
#
# Synapse refuses outbound requests to private addresses by default. If the partners'
# homeservers are on private / LGWAN addresses, allow exactly those ranges:
# ip_range_whitelist:
#   - 10.20.0.0/16
#
# Federation is always HTTPS. If partners use certificates of an internal CA, give Synapse
# that CA (mount the file into the container first):
# federation_custom_ca_list:
#   - /data/lgwan-ca.pem
"""


def synapse_config(
    *,
    server_name: str,
    public_url: str,
    secret_prefix: str,
    database: dict[str, Any],
    appservices: list[str],
) -> dict[str, Any]:
    """homeserver.yaml for the image's layout: config in /data, secrets in /run/secrets."""
    run = f"/run/secrets/{secret_prefix}"
    return {
        "server_name": server_name,
        "public_baseurl": public_url.rstrip("/") + "/",
        "listeners": [
            {
                "port": SYNAPSE_PORT,
                # inside the container; compose decides what the host publishes
                "bind_addresses": ["0.0.0.0"],
                "type": "http",
                "tls": False,
                # behind the city's reverse proxy (TLS ends there)
                "x_forwarded": True,
                "resources": [{"names": ["client", "federation"], "compress": False}],
            }
        ],
        "database": database,
        "log_config": "/data/log.config",
        "media_store_path": "/data/media_store",
        "max_upload_size": "50M",
        "signing_key_path": f"{run}_signing_key",
        "registration_shared_secret_path": f"{run}_registration_shared_secret",
        "macaroon_secret_key_path": f"{run}_macaroon_secret_key",
        "form_secret_path": f"{run}_form_secret",
        # Closed network (LGWAN): nothing that would call out to the internet.
        "report_stats": False,
        "enable_metrics": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "url_preview_enabled": False,
        # Accounts are made by IT (register_new_matrix_user or the admin API).
        "enable_registration": False,
        "allow_guest_access": False,
        "require_auth_for_profile_requests": True,
        "allow_public_rooms_over_federation": False,
        "allow_public_rooms_without_auth": False,
        "app_service_config_files": appservices,
    }


def postgres_database() -> dict[str, Any]:
    return {
        "name": "psycopg2",
        "txn_limit": 10000,
        "args": {
            "user": POSTGRES_USER,
            "dbname": POSTGRES_DB,
            "host": POSTGRES_SERVICE,
            "port": POSTGRES_PORT,
            # libpq reads the password from this file (host:port:db:user:password)
            "passfile": "/run/secrets/synapse_db_passfile",
            "cp_min": 5,
            "cp_max": 10,
        },
    }


def homeserver_yaml(config: dict[str, Any], title: str) -> str:
    header = (
        f"# {title}\n"
        "# Written by synapse-compose/generate.py; edit freely (it is not rewritten unless\n"
        "# you pass --rewrite-config). Secrets are files under /run/secrets (compose secrets).\n"
        "# Reference: https://element-hq.github.io/synapse/latest/usage/configuration/\n\n"
    )
    return header + _yaml(config) + FEDERATION_NOTES


# --------------------------------------------------------------------------- yakuba


def store_dsn(password: str) -> str:
    """yakuba's store: its role and database on the compose postgres service (libpq URI)."""
    user = quote(YAKUBA_DB_USER, safe="")
    return (
        f"postgresql://{user}:{quote(password, safe='')}@{POSTGRES_SERVICE}:{POSTGRES_PORT}"
        f"/{quote(YAKUBA_DB, safe='')}"
    )


def yakuba_config(server_name: str) -> dict[str, Any]:
    def file(name: str) -> dict[str, str]:
        return {"file": f"{YAKUBA_SECRETS_REL}/{name}"}

    return {
        "homeserver": {
            "url": f"http://{SYNAPSE_SERVICE}:{SYNAPSE_PORT}",
            "server_name": server_name,
        },
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "data_dir": YAKUBA_DATA_DIR,
        "store": {
            "type": "postgresql",
            "dsn": {"file": f"/run/secrets/{YAKUBA_STORE_DSN_SECRET}"},
        },
        "bots": {
            name: {
                "user_id": f"@{localpart}:{server_name}",
                "password": file(f"{name}.password"),
                "pickle_key": file(f"{name}.pickle_key"),
                "display_name": display,
                "rooms": [],
                "features": [feature],
            }
            for name, localpart, display, feature in BOTS
        },
        "appservice": {
            "id": "yakuba",
            "url": f"http://{YAKUBA_SERVICE}:{APPSERVICE_PORT}",
            "listen": {"host": "0.0.0.0", "port": APPSERVICE_PORT},
            "sender_localpart": "_yakuba_bridge",
            "user_prefix": "_yakuba_",
            "as_token": file("as_token"),
            "hs_token": file("hs_token"),
        },
    }


YAKUBA_HEADER = """\
# yakuba for synapse-compose (written by synapse-compose/generate.py).
# Add departments, roles, rooms, systems, hooks and alerts as config/yakuba.example.yaml
# explains, then check it:
#   docker compose run --rm --no-deps yakuba yakuba check-config -c /config/yakuba.yaml
# Secrets are files: ../secrets/yakuba/ is ./data/secrets/yakuba on the host and
# /secrets/yakuba in the container. The store's connection string (it holds the password)
# is the compose secret yakuba_store_dsn: ./data/secrets/yakuba/store.dsn on the host.
# Changing the appservice section? Regenerate the registration:
#   python synapse-compose/generate.py ... --rewrite-config
"""


def host_view(data: Any, out: Path) -> Any:
    """yakuba.yaml's parsed ``data`` as seen on the host: the store's compose secret
    (/run/secrets/yakuba_store_dsn in the container) is its file in the data folder."""
    store = data.get("store") if isinstance(data, dict) else None
    if isinstance(store, dict) and store.get("dsn") == {
        "file": f"/run/secrets/{YAKUBA_STORE_DSN_SECRET}"
    }:
        store["dsn"] = {"file": str(out / YAKUBA_STORE_DSN_FILE)}
    return data


def registration_yaml(yakuba_path: Path, out: Path) -> str:
    """The registration Synapse reads, built by yakuba itself from the config just written."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from appservice.registration import Tokens, registration
    from bots.config import ConfigErrors, parse_config

    try:
        data = yaml.safe_load(yakuba_path.read_text(encoding="utf-8"))
        config = parse_config(
            host_view(data, out),
            base_dir=yakuba_path.resolve().parent,
            env={},
            source=str(yakuba_path),
        )
    except yaml.YAMLError as exc:
        sys.exit(f"{yakuba_path} is not valid YAML:\n{exc}")
    except ConfigErrors as exc:
        sys.exit(f"{yakuba_path} is not valid:\n{exc}")
    settings = config.appservice
    if settings is None or settings.as_token is None or settings.hs_token is None:
        sys.exit(f"{yakuba_path}: the appservice section with as_token and hs_token is needed")
    tokens = Tokens(settings.as_token.get(), settings.hs_token.get())
    return "# yakuba application service registration (generated by generate.py)\n" + _yaml(
        registration(config, settings, tokens)
    )


# --------------------------------------------------------------------------- Element


def element_config(server_name: str, public_url: str) -> dict[str, Any]:
    """Element Web pointed at our homeserver, with nothing that reaches the internet."""
    return {
        "default_server_config": {
            "m.homeserver": {"base_url": public_url.rstrip("/"), "server_name": server_name}
        },
        "disable_custom_urls": True,
        "disable_guests": True,
        "disable_3pid_login": True,
        "brand": "Element",
        "default_country_code": "JP",
        "room_directory": {"servers": [server_name]},
        # no integration manager (scalar.vector.im), no analytics, no bug reports
        "integrations_ui_url": "",
        "integrations_rest_url": "",
        "integrations_widgets_urls": [],
        "piwik": False,
        "show_labs_settings": False,
        "setting_defaults": {
            "UIFeature.registration": False,
            "UIFeature.passwordReset": False,
            "UIFeature.identityServer": False,
            "UIFeature.thirdPartyId": False,
            "UIFeature.feedback": False,
            "UIFeature.shareSocial": False,
            "UIFeature.locationSharing": False,
            "UIFeature.widgets": False,
            "UIFeature.urlPreviews": False,
        },
    }


# --------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Options:
    server_name: str
    public_url: str
    out: Path
    pref_server_name: str
    rewrite: bool
    chown: bool


def generate(opts: Options) -> Report:
    out = opts.out
    report = Report()
    for folder in (out, out / "secrets"):
        folder.mkdir(parents=True, exist_ok=True)
    (out / "secrets").chmod(0o700)

    # --- secrets, once
    pg_password = secret(out / "secrets/postgres/password", report)
    yakuba_db_password = secret(out / "secrets/postgres/yakuba_password", report)
    s = out / "secrets/synapse"
    secret(
        s / "db.pgpass",
        report,
        lambda: (
            f"{POSTGRES_SERVICE}:{POSTGRES_PORT}:{POSTGRES_DB}:{POSTGRES_USER}:{_read(pg_password)}"
        ),
    )
    for prefix in ("synapse", "synapse-pref"):
        d = out / "secrets" / prefix
        secret(d / "signing.key", report, signing_key)
        for name in ("registration_shared_secret", "macaroon_secret_key", "form_secret"):
            secret(d / name, report)
    y = out / "secrets/yakuba"
    for name in ("as_token", "hs_token"):
        secret(y / name, report)
    for name, *_ in BOTS:
        secret(y / f"{name}.password", report, lambda: secrets.token_urlsafe(24))
        secret(y / f"{name}.pickle_key", report)
    secret(out / YAKUBA_STORE_DSN_FILE, report, lambda: store_dsn(_read(yakuba_db_password)))

    # --- configs (no secrets in them but the registration's tokens)
    rewrite = opts.rewrite
    synapse = synapse_config(
        server_name=opts.server_name,
        public_url=opts.public_url,
        secret_prefix="synapse",
        database=postgres_database(),
        appservices=[REGISTRATION_PATH],
    )
    config_file(
        out / "synapse/homeserver.yaml",
        homeserver_yaml(synapse, f"Synapse for {opts.server_name}"),
        report,
        rewrite=rewrite,
    )
    pref = synapse_config(
        server_name=opts.pref_server_name,
        public_url=f"http://127.0.0.1:{SYNAPSE_PORT + 1}",
        secret_prefix="pref",
        database={"name": "sqlite3", "args": {"database": "/data/homeserver.db"}},
        appservices=[],
    )
    config_file(
        out / "synapse-pref/homeserver.yaml",
        homeserver_yaml(pref, f"Synapse for {opts.pref_server_name} (profile: federation)"),
        report,
        rewrite=rewrite,
    )
    for server in ("synapse", "synapse-pref"):
        config_file(out / server / "log.config", log_config(), report, rewrite=rewrite)
        (out / server / "media_store").mkdir(exist_ok=True)
    # the mount point of ./data/appservice inside ./data/synapse (mounted at /data)
    (out / "synapse/appservice").mkdir(exist_ok=True)

    yakuba_path = out / "yakuba/yakuba.yaml"
    config_file(
        yakuba_path,
        YAKUBA_HEADER + _yaml(yakuba_config(opts.server_name)),
        report,
        rewrite=rewrite,
    )
    registration_path = out / "appservice/registration.yaml"
    if rewrite or not registration_path.exists():
        text = registration_yaml(yakuba_path, out)
        config_file(registration_path, text, report, rewrite=True, private=True)
    else:
        report.kept.append(registration_path)
    config_file(
        out / "element/config.json",
        json.dumps(element_config(opts.server_name, opts.public_url), indent=2) + "\n",
        report,
        rewrite=rewrite,
    )
    if opts.chown:
        for path, uid in ownership(out):
            _chown_tree(path, uid)
    return report


def ownership(out: Path) -> list[tuple[Path, int]]:
    """Who must own what, so that each container (not root) can read its files."""
    return [
        (out / "synapse", SYNAPSE_UID),
        (out / "synapse-pref", SYNAPSE_UID),
        (out / "appservice", SYNAPSE_UID),
        (out / "secrets/synapse", SYNAPSE_UID),
        (out / "secrets/synapse-pref", SYNAPSE_UID),
        (out / "secrets/yakuba", YAKUBA_UID),
        (out / "secrets/postgres/yakuba_password", POSTGRES_UID),
    ]


def _chown_tree(path: Path, uid: int) -> None:
    os.chown(path, uid, uid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in (*dirnames, *filenames):
            os.chown(Path(dirpath) / name, uid, uid)


def _show(path: Path, base: Path | None = None) -> str:
    try:
        return str(path.relative_to(base or Path.cwd()))
    except ValueError:
        return str(path)


def next_steps(opts: Options) -> str:
    """What IT does next, as commands to run in the folder of compose.yaml."""

    def show(path: Path) -> str:
        return _show(path, HERE)

    out = show(opts.out)
    chown = ""
    if not opts.chown:
        lines = "\n".join(
            f"     sudo chown -R {uid}:{uid} {show(path)}" for path, uid in ownership(opts.out)
        )
        chown = (
            "\n 0. Give the containers their files (run this script with sudo to skip this):\n"
            f"{lines}\n"
        )
    bot_ids = [f"@{localpart}:{opts.server_name}" for _, localpart, _, _ in BOTS]
    register = "\n".join(
        f"     docker compose exec -T synapse register_new_matrix_user -c /data/homeserver.yaml"
        f" \\\n       -u {localpart} --no-admin --exists-ok --password-file /dev/stdin"
        f" http://localhost:{SYNAPSE_PORT} < {out}/secrets/yakuba/{name}.password"
        for name, localpart, _, _ in BOTS
    )
    exempt = "\n".join(
        f'     curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -d '
        f'\'{{"messages_per_second": 0, "burst_count": 0}}\' \\\n'
        f"       http://127.0.0.1:{SYNAPSE_PORT}/_synapse/admin/v1/users/{uid}/override_ratelimit"
        for uid in bot_ids
    )
    return f"""
Next steps for IT, in {_show(HERE)} (the folder of compose.yaml):
{chown}
 1. Build yakuba's image and start everything:
     docker compose build yakuba
     docker compose up -d
 2. Create an administrator (you are asked for a password):
     docker compose exec synapse register_new_matrix_user -c /data/homeserver.yaml \\
       -u it-admin --admin http://localhost:{SYNAPSE_PORT}
 3. Create the bot accounts with the generated passwords:
{register}
 4. Exempt the bots from Synapse's message rate limit (admin API, override_ratelimit).
    TOKEN is it-admin's access token (Element: Settings > Help & About > Access Token):
{exempt}
 5. Restart yakuba so the bots log in: docker compose restart yakuba
 6. Log in with Element at http://127.0.0.1:8080 (homeserver {opts.public_url}).
"""


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="generate.py", description="Create the data folder for synapse-compose."
    )
    parser.add_argument("--server-name", required=True, help="e.g. city.example.jp")
    parser.add_argument(
        "--public-url",
        default=None,
        help="how browsers reach Synapse, e.g. https://matrix.city.example.jp"
        f" (default: http://127.0.0.1:{SYNAPSE_PORT})",
    )
    parser.add_argument("--out", type=Path, default=HERE / "data", help="the data folder")
    parser.add_argument(
        "--pref-server-name",
        default="pref.example.jp",
        help="server name of the second homeserver (profile: federation)",
    )
    parser.add_argument(
        "--rewrite-config",
        action="store_true",
        help="write the config files again (secrets are always kept)",
    )
    parser.add_argument(
        "--no-chown",
        action="store_true",
        help="do not hand files to the containers' users (done only when run as root)",
    )
    args = parser.parse_args(argv)
    public_url = args.public_url or f"http://127.0.0.1:{SYNAPSE_PORT}"
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error(f"--public-url: expected an http:// or https:// URL, got {public_url!r}")
    if not args.server_name or any(c in args.server_name for c in "/@ "):
        parser.error(f"--server-name: expected a server name, got {args.server_name!r}")
    return Options(
        server_name=args.server_name,
        public_url=public_url.rstrip("/"),
        out=args.out.resolve(),
        pref_server_name=args.pref_server_name,
        rewrite=args.rewrite_config,
        chown=not args.no_chown and os.geteuid() == 0,
    )


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    try:
        report = generate(opts)
    except PermissionError as exc:
        print(
            f"cannot write {exc.filename}: it belongs to a container user; run this script"
            " with sudo (or as root)",
            file=sys.stderr,
        )
        return 1
    for path in report.created:
        print(f"created  {_show(path)}")
    for path in report.kept:
        print(f"kept     {_show(path)}")
    if opts.chown:
        print(f"ownership: uid {SYNAPSE_UID} (synapse), uid {YAKUBA_UID} (yakuba)")
    print(next_steps(opts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
