"""The registration file Synapse reads, and the two tokens it shares with the appservice.

Tokens given in config are used as they are; otherwise they are generated once and kept
(0600) in `data_dir/appservice/tokens.json`, the config's secret store.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bots.config import Config
from bots.config_bridge import AppserviceSettings


@dataclass(frozen=True)
class Tokens:
    as_token: str
    hs_token: str

    def __repr__(self) -> str:
        return "Tokens(***)"


def tokens_path(config: Config) -> Path:
    return config.data_dir / "appservice" / "tokens.json"


def load_tokens(config: Config, settings: AppserviceSettings) -> Tokens:
    """The tokens from config, else from the token file, made on first use."""
    if settings.as_token is not None and settings.hs_token is not None:
        return Tokens(settings.as_token.get(), settings.hs_token.get())
    path = tokens_path(config)
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    as_token = settings.as_token.get() if settings.as_token else stored.get("as_token")
    hs_token = settings.hs_token.get() if settings.hs_token else stored.get("hs_token")
    if not as_token or not hs_token:
        as_token = as_token or secrets.token_urlsafe(32)
        hs_token = hs_token or secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"as_token": as_token, "hs_token": hs_token}, fh)
    return Tokens(as_token, hs_token)


def registration(config: Config, settings: AppserviceSettings, tokens: Tokens) -> dict[str, Any]:
    server = re.escape(config.homeserver.server_name)
    prefix = re.escape(settings.user_prefix)
    return {
        "id": settings.id,
        "url": settings.url,
        "as_token": tokens.as_token,
        "hs_token": tokens.hs_token,
        "sender_localpart": settings.sender_localpart,
        "namespaces": {
            "users": [{"exclusive": True, "regex": f"@{prefix}.*:{server}"}],
            "aliases": [],
            "rooms": [],
        },
        "rate_limited": False,
        "receive_ephemeral": False,
        "de.sorunome.msc2409.push_ephemeral": False,
    }


def write_registration(config: Config, settings: AppserviceSettings, path: Path) -> Path:
    """Write the registration YAML (0600: it holds the tokens) for Synapse's
    `app_service_config_files`."""
    data = registration(config, settings, load_tokens(config, settings))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# yakuba application service registration (generated: yakuba registration)\n")
        yaml.safe_dump(data, fh, sort_keys=False, allow_unicode=True)
    return path
