"""A real Synapse (matrix-synapse from PyPI) on loopback, for `make up` and the tests.

All its state lives in one folder. The config is written by us rather than generated, so
that it stays small, binds to 127.0.0.1 only, and makes no outbound connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

log = logging.getLogger(__name__)

#: Limits high enough that tests and the demo never wait on Synapse's rate limiter.
_GENEROUS = {"per_second": 1000, "burst_count": 1000}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SynapseConfig:
    """What we choose about the local homeserver."""

    state_dir: Path
    port: int
    server_name: str = "localhost"
    #: extra homeserver.yaml keys (appservice registrations, etc.)
    extra: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "homeserver.yaml"

    @property
    def shared_secret_path(self) -> Path:
        return self.state_dir / "registration_shared_secret"


def _secret_file(path: Path) -> str:
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def write_config(cfg: SynapseConfig) -> Path:
    """Write homeserver.yaml (secrets are made once and kept in the state folder)."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    d = cfg.state_dir
    config: dict[str, Any] = {
        "server_name": cfg.server_name,
        "pid_file": str(d / "homeserver.pid"),
        "public_baseurl": cfg.url + "/",
        "listeners": [
            {
                "port": cfg.port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client", "federation"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
        "media_store_path": str(d / "media_store"),
        "signing_key_path": str(d / "signing.key"),
        "registration_shared_secret_path": str(cfg.shared_secret_path),
        "macaroon_secret_key": _secret_file(d / "macaroon_secret_key"),
        "form_secret": _secret_file(d / "form_secret"),
        "report_stats": False,
        "enable_metrics": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "url_preview_enabled": False,
        "enable_registration": False,
        "presence": {"enabled": False},
        "rc_message": _GENEROUS,
        "rc_registration": _GENEROUS,
        "rc_login": {
            "address": _GENEROUS,
            "account": _GENEROUS,
            "failed_attempts": _GENEROUS,
        },
        "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
        "rc_invites": {"per_room": _GENEROUS, "per_user": _GENEROUS, "per_issuer": _GENEROUS},
        "rc_key_requests": _GENEROUS,
        "rc_3pid_validation": _GENEROUS,
        "rc_admin_redaction": _GENEROUS,
        "rc_room_creation": _GENEROUS,
        "rc_delayed_event_mgmt": _GENEROUS,
        "rc_presence": {"per_user": _GENEROUS},
        "federation_rr_transactions_per_room_per_second": 1000,
        "log_config": str(_write_log_config(d)),
    }
    if cfg.extra:
        config.update(cfg.extra)
    _secret_file(cfg.shared_secret_path)
    cfg.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return cfg.config_path


def _write_log_config(state_dir: Path) -> Path:
    path = state_dir / "log.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "formatters": {"f": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "formatter": "f",
                        "filename": str(state_dir / "homeserver.log"),
                        "encoding": "utf8",
                    }
                },
                "root": {"level": "INFO", "handlers": ["file"]},
                "disable_existing_loggers": False,
            }
        )
    )
    return path


class SynapseProcess:
    """Starts and stops one Synapse; talks to its admin API."""

    def __init__(self, cfg: SynapseConfig) -> None:
        self.cfg = cfg
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return self.cfg.url

    async def start(self, wait_s: float = 120.0) -> None:
        write_config(self.cfg)
        cmd = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.cfg.config_path)]
        gen = await asyncio.create_subprocess_exec(
            *cmd,
            "--generate-keys",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await gen.communicate()
        if gen.returncode != 0:
            raise RuntimeError(f"synapse --generate-keys failed: {err.decode(errors='replace')}")
        out = (self.cfg.state_dir / "homeserver.stdout").open("ab")
        self._proc = await asyncio.create_subprocess_exec(*cmd, stdout=out, stderr=out)
        out.close()
        await self._wait_ready(wait_s)

    async def _wait_ready(self, wait_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        async with aiohttp.ClientSession() as http:
            while loop.time() < deadline:
                if self._proc is not None and self._proc.returncode is not None:
                    raise RuntimeError(
                        "Synapse exited during start-up; see "
                        f"{self.cfg.state_dir / 'homeserver.log'}"
                    )
                try:
                    async with http.get(self.url + "/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"Synapse did not answer on {self.url} within {wait_s:.0f} s")

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    # --- admin API -------------------------------------------------------------------

    async def register(
        self, localpart: str, password: str, *, admin: bool = False, displayname: str | None = None
    ) -> dict[str, Any]:
        """Register a user through the shared-secret admin API; returns the login response.

        An existing user is logged in instead, so provisioning can run twice.
        """
        secret = self.cfg.shared_secret_path.read_text().strip().encode()
        api = self.url + "/_synapse/admin/v1/register"
        async with aiohttp.ClientSession() as http:
            async with http.get(api) as resp:
                nonce = (await resp.json())["nonce"]
            body = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": _register_mac(secret, nonce, localpart, password, admin),
            }
            if displayname:
                body["displayname"] = displayname
            async with http.post(api, json=body) as resp:
                data: dict[str, Any] = await resp.json()
                if resp.status == 200:
                    return data
                if data.get("errcode") != "M_USER_IN_USE":
                    raise RuntimeError(f"register {localpart}: {resp.status} {data}")
            return await self.login(localpart, password)

    async def login(self, localpart: str, password: str) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            body = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": localpart},
                "password": password,
            }
            async with http.post(self.url + "/_matrix/client/v3/login", json=body) as resp:
                data: dict[str, Any] = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(f"login {localpart}: {resp.status} {data.get('errcode')}")
                return data

    async def exempt_from_ratelimit(self, admin_token: str, user_id: str) -> None:
        """Admin API: no message rate limit for this (bot) account."""
        api = f"{self.url}/_synapse/admin/v1/users/{user_id}/override_ratelimit"
        headers = {"Authorization": f"Bearer {admin_token}"}
        async with aiohttp.ClientSession() as http:
            body = {"messages_per_second": 0, "burst_count": 0}
            async with http.post(api, json=body, headers=headers) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"override_ratelimit {user_id}: {resp.status}")


def _register_mac(secret: bytes, nonce: str, user: str, password: str, admin: bool) -> str:
    mac = hmac.new(secret, digestmod=hashlib.sha1)
    mac.update(nonce.encode())
    mac.update(b"\x00")
    mac.update(user.encode())
    mac.update(b"\x00")
    mac.update(password.encode())
    mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    return mac.hexdigest()
