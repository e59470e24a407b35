"""Numbered schema migrations. Each runs in one transaction with its version bump.

Never edit a released migration: add the next number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "bot sessions, handled events, send ledger",
        (
            # one row per bot account: its login and where its sync stands
            """CREATE TABLE bot_sessions (
                bot TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                device_id TEXT NOT NULL,
                access_token TEXT NOT NULL,
                sync_token TEXT,
                last_sync_at BIGINT
            )""",
            # when each bot joined each room: older events are never taken as commands
            """CREATE TABLE room_joins (
                bot TEXT NOT NULL,
                room_id TEXT NOT NULL,
                joined_at BIGINT NOT NULL,
                PRIMARY KEY (bot, room_id)
            )""",
            # events a bot has finished handling (exactly once, across restarts)
            """CREATE TABLE handled_events (
                bot TEXT NOT NULL,
                event_id TEXT NOT NULL,
                handled_at BIGINT NOT NULL,
                PRIMARY KEY (bot, event_id)
            )""",
            # work on one event that only one of several bots may do (e.g. !help)
            """CREATE TABLE event_claims (
                event_id TEXT NOT NULL,
                purpose TEXT NOT NULL,
                bot TEXT NOT NULL,
                PRIMARY KEY (event_id, purpose)
            )""",
            # every intended send, recorded before it is sent
            """CREATE TABLE send_ledger (
                txn_id TEXT PRIMARY KEY,
                sender TEXT NOT NULL,
                room_id TEXT NOT NULL,
                event_type TEXT NOT NULL,
                content TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                event_id TEXT,
                sent_at BIGINT,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT
            )""",
            "CREATE INDEX send_ledger_pending ON send_ledger (sender, sent_at)",
        ),
    ),
)
