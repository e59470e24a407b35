"""Bot logins, sync positions and room joins."""

from __future__ import annotations

import pytest

from bots.store.database import Database
from bots.store.sessions import BotSession, SessionStore

pytestmark = pytest.mark.postgresql

TASKS = "@tasks:city.example.jp"
ROOM = "!room:city.example.jp"


@pytest.fixture
def sessions(db: Database) -> SessionStore:
    return SessionStore(db)


async def test_no_session_before_login(sessions: SessionStore) -> None:
    assert await sessions.get_session("tasks") is None


async def test_save_login_then_sync(sessions: SessionStore) -> None:
    await sessions.save_login("tasks", TASKS, "DEVICE1", "token1")
    assert await sessions.get_session("tasks") == BotSession(
        "tasks", TASKS, "DEVICE1", "token1", None, None
    )
    await sessions.save_sync("tasks", "s72594_4483_1934", 5000)
    session = await sessions.get_session("tasks")
    assert session is not None
    assert (session.sync_token, session.last_sync_at) == ("s72594_4483_1934", 5000)


async def test_save_login_replaces_the_previous_login(sessions: SessionStore) -> None:
    await sessions.save_login("tasks", TASKS, "DEVICE1", "token1")
    await sessions.save_sync("tasks", "old-sync-token", 5000)
    await sessions.save_login("tasks", TASKS, "DEVICE2", "token2")

    session = await sessions.get_session("tasks")
    assert session == BotSession("tasks", TASKS, "DEVICE2", "token2", None, None)


async def test_sessions_are_per_bot(sessions: SessionStore) -> None:
    await sessions.save_login("tasks", TASKS, "DEVICE1", "token1")
    await sessions.save_login("alerts", "@alerts:city.example.jp", "DEVICE9", "token9")
    await sessions.forget_login("alerts")
    assert await sessions.get_session("alerts") is None
    tasks = await sessions.get_session("tasks")
    assert tasks is not None and tasks.access_token == "token1"


async def test_record_join_keeps_the_first_join_time(sessions: SessionStore) -> None:
    assert await sessions.get_joined_at("tasks", ROOM) is None
    await sessions.record_join("tasks", ROOM, 1000)
    await sessions.record_join("tasks", ROOM, 9000)
    assert await sessions.get_joined_at("tasks", ROOM) == 1000
    # per bot and per room
    assert await sessions.get_joined_at("alerts", ROOM) is None
    assert await sessions.get_joined_at("tasks", "!other:city.example.jp") is None
