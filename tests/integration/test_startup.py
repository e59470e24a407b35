"""Bad start-up conditions give one clear message for the operator and change nothing."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import signal
import time
from pathlib import Path

import pytest

from appservice.cli import run_all
from bots.app import App
from bots.audit import AuditLog
from bots.config import load_config
from bots.demo.synapse import SynapseProcess, free_port
from bots.matrix.session import StartupError
from bots.store.database import Database
from bots.store.sessions import SessionStore
from tests.integration.harness import register_bots, write_config


async def test_wrong_password_names_the_config_key(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    localpart = f"tasks{secrets.token_hex(3)}"
    path = write_config(tmp_path, synapse, {"tasks": {"localpart": localpart}})
    await register_bots(synapse, path, admin_token)
    (tmp_path / "secrets" / "tasks.password").write_text("not-the-password")
    config = load_config(path)
    app = await App.create(config)
    with pytest.raises(StartupError) as caught:
        await app.run()
    message = str(caught.value)
    assert "bots.tasks.password" in message
    assert "not-the-password" not in message
    # nothing was stored: no session for the bot
    db = await Database.open(config.store.path)
    try:
        assert await SessionStore(db).get_session("tasks") is None
    finally:
        await db.close()


async def test_unreachable_homeserver_names_the_url(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    fake = type("S", (), {"url": f"http://127.0.0.1:{port}"})()
    fake.cfg = type("C", (), {"server_name": "localhost"})()
    path = write_config(tmp_path, fake, {"tasks": {"localpart": "tasks"}})  # type: ignore[arg-type]
    app = await App.create(load_config(path))
    with pytest.raises(StartupError) as caught:
        await app.run()
    assert f"http://127.0.0.1:{port}" in str(caught.value)
    assert "homeserver.url" in str(caught.value)


async def test_each_start_records_the_config_it_read_in_the_audit_log(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: the start fails, after reading the config
    fake = type("S", (), {"url": f"http://127.0.0.1:{port}"})()
    fake.cfg = type("C", (), {"server_name": "localhost"})()
    path = write_config(tmp_path, fake, {"tasks": {"localpart": "tasks"}})  # type: ignore[arg-type]
    config = load_config(path)
    try:
        assert await run_all(config, path) == 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # run_all's, on the tests' event loop
            asyncio.get_running_loop().remove_signal_handler(sig)
    db = await Database.open(config.store.path)
    try:
        log = AuditLog(db, time.time)
        (loaded,) = await log.entries(action="config load")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert (loaded.actor, loaded.room_id, loaded.result) == ("system", "", "ok")
        assert loaded.detail == f"{path} sha256={digest}"
        assert await log.verify() is None
    finally:
        await db.close()
