"""Bringing a bot account up: log in once, keep the token and device, keep the keys.

The password is used only for the first login (and if the homeserver revokes the token,
or the cross-signing keys must be replaced); afterwards the access token and device id
from the store are reused, so the bot keeps one device and one identity.
"""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse

from bots.matrix.crosssigning import KeyFile, ensure_cross_signed
from bots.matrix.http import MatrixHttp
from bots.store.sessions import SessionStore

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The bot cannot start; the message is for the operator and names the config key."""


def make_client(homeserver: str, user_id: str, store_dir: Path, pickle_key: str) -> AsyncClient:
    store_dir.mkdir(parents=True, exist_ok=True)
    store_dir.chmod(0o700)
    config = AsyncClientConfig(
        encryption_enabled=True,
        pickle_key=pickle_key,
        store_sync_tokens=False,  # yakuba's store keeps the sync token, after handling
        max_limit_exceeded=5,  # honour M_LIMIT_EXCEEDED/retry_after_ms, but not forever
        max_timeouts=3,
        request_timeout=60,
    )
    return AsyncClient(homeserver, user_id, store_path=str(store_dir), config=config)


async def log_in(
    client: AsyncClient,
    bot: str,
    user_id: str,
    sessions: SessionStore,
    password: str,
    device_name: str,
) -> None:
    """Restore the stored login, or log in with the password (keeping the device id)."""
    stored = await sessions.get_session(bot)
    if stored is not None and stored.user_id == user_id:
        client.restore_login(stored.user_id, stored.device_id, stored.access_token)
        who = await _call(client, client.whoami(), bot)
        if isinstance(who, WhoamiResponse):
            return
        log.warning("Stored access token of bot %s was refused; logging in again", bot)
        client.device_id = stored.device_id  # same device: same E2EE identity
        client.access_token = ""
    response = await _call(client, client.login(password, device_name=device_name), bot)
    if not isinstance(response, LoginResponse):
        errcode = getattr(response, "status_code", None) or ""
        if errcode == "M_FORBIDDEN":
            raise StartupError(
                f"bot {bot}: the homeserver refused the password for {user_id} "
                f"(check bots.{bot}.password)"
            )
        reason = getattr(response, "message", response)
        raise StartupError(f"bot {bot}: login as {user_id} failed: {reason}")
    await sessions.save_login(bot, response.user_id, response.device_id, response.access_token)
    client.load_store()
    log.info("Bot %s logged in as %s, device %s", bot, response.user_id, response.device_id)


async def prepare_encryption(
    client: AsyncClient,
    http: aiohttp.ClientSession,
    key_file: KeyFile,
    password: str,
) -> None:
    """Upload the device's keys if needed, then cross-sign the device.

    A homeserver restored from an older backup (or reset) no longer has the keys this
    device uploaded long ago: they are uploaded again, the device's identity unchanged."""
    api = MatrixHttp(client.homeserver, client.access_token, http)
    if not client.should_upload_keys and not await _server_has_device(api, client):
        log.warning(
            "The homeserver has no keys for device %s of %s; uploading them again",
            client.device_id,
            client.user_id,
        )
        assert client.olm is not None  # encryption is set up by load_store()
        client.olm.account.shared = False
    if client.should_upload_keys:
        await client.keys_upload()
    await ensure_cross_signed(api, client.user_id, client.device_id, key_file, password)


async def _server_has_device(api: MatrixHttp, client: AsyncClient) -> bool:
    body = {"device_keys": {client.user_id: [client.device_id]}}
    found = await api.request("POST", "/_matrix/client/v3/keys/query", body)
    return bool(found.get("device_keys", {}).get(client.user_id, {}).get(client.device_id))


async def _call(client: AsyncClient, coro: object, bot: str) -> object:
    try:
        return await coro  # type: ignore[misc]
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise StartupError(
            f"bot {bot}: cannot reach the homeserver at {client.homeserver} "
            f"(check homeserver.url): {exc.__class__.__name__}"
        ) from exc
