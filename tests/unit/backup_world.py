"""An installation of yakuba on disk for the backup tests: a config, a store with bot
logins and a task, each bot's E2EE store (SQLite) and sealed cross-signing keys, and the
appservice's tokens, as yakuba writes them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from bots.config import Config, parse_config
from bots.matrix.crosssigning import CrossSigningKeys, KeyFile
from bots.store.database import Database
from bots.store.sessions import SessionStore

SERVER = "city.example.jp"
PICKLES = {"tasks": "tasks-pickle-key-0123456789", "alerts": "alerts-pickle-key-0123456789"}
DEVICES = {"tasks": "TASKSDEV", "alerts": "ALERTSDEV"}


def make_config(
    base: Path,
    *,
    server_name: str = SERVER,
    pickles: dict[str, str] | None = None,
    data_dir: str = "data",
    store: dict[str, Any] | None = None,
) -> Config:
    keys = pickles or PICKLES
    data: dict[str, Any] = {
        "homeserver": {"url": "http://127.0.0.1:8008", "server_name": server_name},
        "data_dir": data_dir,
        "bots": {
            name: {
                "user_id": f"@{name}:{server_name}",
                "password": f"{name}-password",
                "pickle_key": keys[name],
                "features": [name],
            }
            for name in ("tasks", "alerts")
        },
    }
    if store is not None:
        data["store"] = store
    return parse_config(data, base_dir=base, env={})


def e2ee_file(config: Config, bot: str) -> Path:
    user_id = config.bots[bot].user_id
    return config.data_dir / "bots" / bot / "e2ee" / f"{user_id}_{DEVICES[bot]}.db"


async def populate(config: Config, db: Database | None = None) -> Database:
    """Write what a yakuba that ran once leaves behind; returns the open store."""
    if db is None:
        db = await Database.open(config.store.path)
    sessions = SessionStore(db)
    for name, bot in config.bots.items():
        await sessions.save_login(name, bot.user_id, DEVICES[name], f"token-{name}")
        folder = config.data_dir / "bots" / name
        crypto = e2ee_file(config, name)
        crypto.parent.mkdir(parents=True)
        conn = sqlite3.connect(crypto)
        conn.execute("CREATE TABLE accounts (device_id TEXT, account BLOB)")
        conn.execute("INSERT INTO accounts VALUES (?, ?)", (DEVICES[name], b"olm-pickle"))
        conn.commit()
        conn.close()
        (crypto.parent / f"{bot.user_id}_{DEVICES[name]}.trusted_devices").write_text("")
        KeyFile(folder / "cross_signing.keys", bot.pickle_key.get()).save(
            CrossSigningKeys.generate()
        )
    tokens = config.data_dir / "appservice" / "tokens.json"
    tokens.parent.mkdir(parents=True)
    tokens.write_text(json.dumps({"as_token": "as-secret", "hs_token": "hs-secret"}))
    await add_marker(db, "before the backup")
    return db


async def add_marker(db: Database, text: str) -> None:
    """A row standing for work yakuba accepted: a handled event named `text`."""
    await db.execute(
        "INSERT INTO handled_events (bot, event_id, handled_at) VALUES ('marker', ?, 0)", (text,)
    )


async def add_task(db: Database, title: str, assignee: str) -> int:
    """A task with an assignee (a table that references another); returns its id."""
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT COUNT(*) FROM tasks")
        number = int(row[0]) + 1 if row else 1
        await tx.execute(
            "INSERT INTO tasks (room_id, number, title, creator, priority, status, created_at,"
            " updated_at) VALUES ('!room:city', ?, ?, '@lead:city', 'normal', 'open', 1, 1)",
            (number, title),
        )
        found = await tx.fetchone("SELECT id FROM tasks WHERE number = ?", (number,))
        assert found is not None
        await tx.execute(
            "INSERT INTO task_assignees (task_id, user_id) VALUES (?, ?)", (found[0], assignee)
        )
    return int(found[0])


def markers(store: Path) -> list[str]:
    conn = sqlite3.connect(store)
    try:
        rows = conn.execute(
            "SELECT event_id FROM handled_events WHERE bot = 'marker' ORDER BY event_id"
        )
        return [r[0] for r in rows]
    finally:
        conn.close()


def tree(root: Path) -> dict[str, str]:
    """Every file under `root` (and beside it, for data_dir.before-restore-*) by path,
    with its SHA-256: to show that nothing changed."""
    found: dict[str, str] = {}
    for base in [root, *sorted(root.parent.glob(f"{root.name}.*"))]:
        if not base.exists():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
