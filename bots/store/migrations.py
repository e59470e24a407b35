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
    Migration(
        2,
        "tasks: tasks, comments, reminders, boards, digests, events for internal systems",
        (
            """CREATE TABLE tasks (
                id INTEGER PRIMARY KEY,
                room_id TEXT NOT NULL,
                number INTEGER NOT NULL,
                title TEXT NOT NULL,
                creator TEXT NOT NULL,
                due_at BIGINT,
                priority TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                done_at BIGINT,
                done_by TEXT,
                event_id TEXT,
                UNIQUE (room_id, number)
            )""",
            "CREATE INDEX tasks_room_status ON tasks (room_id, status)",
            "CREATE INDEX tasks_event ON tasks (event_id)",
            """CREATE TABLE task_assignees (
                task_id INTEGER NOT NULL REFERENCES tasks (id),
                user_id TEXT NOT NULL,
                PRIMARY KEY (task_id, user_id)
            )""",
            "CREATE INDEX task_assignees_user ON task_assignees (user_id)",
            """CREATE TABLE task_tags (
                task_id INTEGER NOT NULL REFERENCES tasks (id),
                tag TEXT NOT NULL,
                PRIMARY KEY (task_id, tag)
            )""",
            """CREATE TABLE task_comments (
                id INTEGER PRIMARY KEY,
                task_id INTEGER NOT NULL REFERENCES tasks (id),
                author TEXT NOT NULL,
                text TEXT NOT NULL,
                at BIGINT NOT NULL,
                event_id TEXT UNIQUE
            )""",
            # one row per reminder to send; the store, not the scheduler, knows what is due
            """CREATE TABLE task_reminders (
                task_id INTEGER NOT NULL REFERENCES tasks (id),
                kind TEXT NOT NULL,
                due_at BIGINT NOT NULL,
                planned_at BIGINT NOT NULL,
                sent_at BIGINT,
                PRIMARY KEY (task_id, kind)
            )""",
            "CREATE INDEX task_reminders_due ON task_reminders (sent_at, due_at)",
            """CREATE TABLE task_boards (
                room_id TEXT PRIMARY KEY,
                event_id TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 0
            )""",
            """CREATE TABLE task_digests (
                room_id TEXT NOT NULL,
                day TEXT NOT NULL,
                sent_at BIGINT NOT NULL,
                PRIMARY KEY (room_id, day)
            )""",
            # every change, for the appservice to forward to internal systems
            """CREATE TABLE task_events (
                id INTEGER PRIMARY KEY,
                task_id INTEGER NOT NULL,
                kind TEXT NOT NULL,
                actor TEXT NOT NULL,
                payload TEXT NOT NULL,
                at BIGINT NOT NULL,
                forwarded_at BIGINT
            )""",
        ),
    ),
    Migration(
        3,
        "appservice: transactions, queued events, webhook ids, outbound outbox, virtual users",
        (
            # a transaction id is a replay only with the same body (Synapse on SQLite
            # restarts its ids after a restart)
            """CREATE TABLE as_transactions (
                txn_id TEXT NOT NULL,
                body_hash TEXT NOT NULL,
                received_at BIGINT NOT NULL,
                PRIMARY KEY (txn_id, body_hash)
            )""",
            # events are queued durably before the transaction is acknowledged
            """CREATE TABLE as_events (
                event_id TEXT PRIMARY KEY,
                room_id TEXT,
                event_type TEXT,
                event TEXT NOT NULL,
                received_at BIGINT NOT NULL,
                handled_at BIGINT,
                error TEXT
            )""",
            "CREATE INDEX as_events_pending ON as_events (handled_at, received_at)",
            # each inbound webhook-id once
            """CREATE TABLE webhook_receipts (
                hook_id TEXT NOT NULL,
                webhook_id TEXT NOT NULL,
                received_at BIGINT NOT NULL,
                PRIMARY KEY (hook_id, webhook_id)
            )""",
            # outbound webhooks, delivered from here with retries; dead letters stay
            """CREATE TABLE outbox (
                id INTEGER PRIMARY KEY,
                endpoint TEXT NOT NULL,
                dedupe_key TEXT NOT NULL,
                payload TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at BIGINT NOT NULL,
                last_error TEXT,
                delivered_at BIGINT,
                dead_at BIGINT,
                UNIQUE (endpoint, dedupe_key)
            )""",
            "CREATE INDEX outbox_due ON outbox (delivered_at, dead_at, next_attempt_at)",
            """CREATE TABLE virtual_users (
                user_id TEXT PRIMARY KEY,
                display_name TEXT,
                avatar_url TEXT,
                registered_at BIGINT NOT NULL
            )""",
            """CREATE TABLE virtual_user_rooms (
                user_id TEXT NOT NULL,
                room_id TEXT NOT NULL,
                joined_at BIGINT NOT NULL,
                PRIMARY KEY (user_id, room_id)
            )""",
        ),
    ),
    Migration(
        4,
        "announcements: announcements, copies per room, acknowledgements, read positions",
        (
            """CREATE TABLE announcements (
                id INTEGER PRIMARY KEY,
                origin_room TEXT NOT NULL,
                author TEXT NOT NULL,
                target TEXT NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                important INTEGER NOT NULL,
                ack_required INTEGER NOT NULL,
                publish_at BIGINT NOT NULL,
                expires_at BIGINT,
                status TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                reminders_sent INTEGER NOT NULL DEFAULT 0,
                next_reminder_at BIGINT
            )""",
            "CREATE INDEX announcements_status ON announcements (status, publish_at)",
            # one row per room the announcement goes to; the copy's event once sent
            """CREATE TABLE announcement_copies (
                announcement_id INTEGER NOT NULL REFERENCES announcements (id),
                room_id TEXT NOT NULL,
                event_id TEXT,
                pinned INTEGER NOT NULL DEFAULT 0,
                sent_at BIGINT,
                PRIMARY KEY (announcement_id, room_id)
            )""",
            "CREATE INDEX announcement_copies_event ON announcement_copies (event_id)",
            """CREATE TABLE announcement_acks (
                announcement_id INTEGER NOT NULL REFERENCES announcements (id),
                user_id TEXT NOT NULL,
                room_id TEXT NOT NULL,
                how TEXT NOT NULL,
                at BIGINT NOT NULL,
                PRIMARY KEY (announcement_id, user_id)
            )""",
            # the order in which the bot saw events in rooms with announcements, so that a
            # read receipt ("read up to here") can be compared with an announcement's place
            """CREATE TABLE room_positions (
                room_id TEXT NOT NULL,
                event_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                PRIMARY KEY (room_id, event_id)
            )""",
            """CREATE TABLE read_receipts (
                room_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                event_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                PRIMARY KEY (room_id, user_id)
            )""",
        ),
    ),
    Migration(
        5,
        "alerts: received alerts, threads, messages per room, pending deliveries, tombstones",
        (
            # every alert message received, once (push and poll deliver the same one)
            """CREATE TABLE alerts (
                id INTEGER PRIMARY KEY,
                message_id TEXT NOT NULL UNIQUE,
                thread TEXT NOT NULL,
                origin TEXT NOT NULL,
                status TEXT NOT NULL,
                msg_type TEXT NOT NULL,
                severity INTEGER NOT NULL,
                title TEXT NOT NULL,
                sent BIGINT NOT NULL,
                expires BIGINT,
                document BLOB NOT NULL,
                doc_index INTEGER NOT NULL,
                received_at BIGINT NOT NULL
            )""",
            "CREATE INDEX alerts_thread ON alerts (thread, id)",
            # an alert and the updates/cancels that follow it form a thread; CAP keys and
            # JMA series keys name the thread they belong to
            """CREATE TABLE alert_keys (
                key TEXT PRIMARY KEY,
                thread TEXT NOT NULL
            )""",
            """CREATE TABLE alert_threads (
                thread TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                latest_alert INTEGER NOT NULL,
                expires BIGINT
            )""",
            # the one message per thread and room, edited in place by updates
            """CREATE TABLE alert_messages (
                thread TEXT NOT NULL,
                room_id TEXT NOT NULL,
                event_id TEXT,
                pinned INTEGER NOT NULL DEFAULT 0,
                shown TEXT,
                PRIMARY KEY (thread, room_id)
            )""",
            # the fan-out still to do: recorded with the alert, done room by room
            """CREATE TABLE alert_deliveries (
                alert_id INTEGER NOT NULL,
                room_id TEXT NOT NULL,
                done_at BIGINT,
                PRIMARY KEY (alert_id, room_id)
            )""",
            "CREATE INDEX alert_deliveries_pending ON alert_deliveries (done_at, alert_id)",
            # a Cancel that came before its original
            """CREATE TABLE alert_tombstones (
                key TEXT PRIMARY KEY,
                cancelled_by INTEGER NOT NULL
            )""",
            # manual alerts by disaster officers; the most severe wait for a second officer
            """CREATE TABLE manual_alerts (
                id INTEGER PRIMARY KEY,
                author TEXT NOT NULL,
                room_id TEXT NOT NULL,
                level TEXT NOT NULL,
                title TEXT NOT NULL,
                body TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                confirmed_by TEXT,
                state TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        6,
        "alert feeds: what each poller remembers (validators, entries fetched)",
        (
            """CREATE TABLE feed_state (
                feed_id TEXT PRIMARY KEY,
                state TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        7,
        "safety roll calls and staffing calls; one direct room per bot and user",
        (
            # a roll call (安否確認) or a staffing call (参集); drills are marked throughout
            """CREATE TABLE rollcalls (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL,
                level TEXT,
                drill INTEGER NOT NULL,
                state TEXT NOT NULL,
                title TEXT NOT NULL,
                area_key TEXT NOT NULL,
                strength INTEGER NOT NULL,
                started_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                hold_until BIGINT,
                started_at BIGINT,
                closed_at BIGINT,
                closed_by TEXT,
                status_room TEXT NOT NULL,
                status_event TEXT,
                status_version INTEGER NOT NULL DEFAULT 0,
                status_shown INTEGER NOT NULL DEFAULT -1,
                purged_at BIGINT
            )""",
            "CREATE INDEX rollcalls_state ON rollcalls (state, kind)",
            # the alerts (by message id) that started or joined a roll call (aftershocks)
            """CREATE TABLE rollcall_alerts (
                alert_key TEXT NOT NULL,
                rollcall_id INTEGER NOT NULL,
                series TEXT NOT NULL,
                at BIGINT NOT NULL,
                PRIMARY KEY (alert_key, rollcall_id)
            )""",
            # one row per person asked; the answer replaces the previous one
            """CREATE TABLE rollcall_targets (
                rollcall_id INTEGER NOT NULL,
                user_id TEXT NOT NULL,
                department TEXT NOT NULL,
                rounds INTEGER NOT NULL DEFAULT 0,
                due_at BIGINT,
                room_id TEXT,
                safety TEXT,
                attendance TEXT,
                note TEXT,
                answered_at BIGINT,
                answer_event TEXT,
                receipt_for TEXT,
                escalated_at BIGINT,
                PRIMARY KEY (rollcall_id, user_id)
            )""",
            "CREATE INDEX rollcall_targets_due ON rollcall_targets (due_at)",
            # every question sent, so an answer to an older one still counts
            """CREATE TABLE rollcall_questions (
                event_id TEXT PRIMARY KEY,
                rollcall_id INTEGER NOT NULL,
                user_id TEXT NOT NULL,
                room_id TEXT NOT NULL,
                round INTEGER NOT NULL
            )""",
            "CREATE INDEX rollcall_questions_room ON rollcall_questions (room_id, user_id)",
            # for the city's mail/SMS gateway and other systems (outbound webhooks)
            """CREATE TABLE rollcall_events (
                id INTEGER PRIMARY KEY,
                rollcall_id INTEGER NOT NULL,
                kind TEXT NOT NULL,
                user_id TEXT,
                payload TEXT NOT NULL,
                at BIGINT NOT NULL,
                forwarded_at BIGINT
            )""",
            # the encrypted direct room each bot keeps with each person
            """CREATE TABLE direct_rooms (
                bot TEXT NOT NULL,
                user_id TEXT NOT NULL,
                room_id TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (bot, user_id)
            )""",
        ),
    ),
    Migration(
        8,
        "audit log: privileged actions, append-only, each entry chained to the one before",
        (
            """CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY,
                at BIGINT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                room_id TEXT NOT NULL,
                detail TEXT NOT NULL,
                result TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            )""",
            "CREATE INDEX audit_log_at ON audit_log (at)",
        ),
    ),
    Migration(
        9,
        "provisioned staff (the roll-call roster from the staff list) and personnel notices",
        (
            # one row per employee number from `yakuba provision`; leavers stay, inactive
            """CREATE TABLE staff (
                employee_number TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                kana TEXT NOT NULL,
                department TEXT NOT NULL,
                roles TEXT NOT NULL,
                user_id TEXT NOT NULL,
                active INTEGER NOT NULL,
                updated_at BIGINT NOT NULL
            )""",
            "CREATE INDEX staff_user ON staff (user_id)",
            "CREATE INDEX staff_department ON staff (active, department)",
            # a move or a departure, told to the leads by the tasks bot (with open tasks)
            """CREATE TABLE personnel_notices (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL,
                name TEXT NOT NULL,
                from_department TEXT NOT NULL,
                to_department TEXT,
                created_at BIGINT NOT NULL,
                done_at BIGINT
            )""",
            "CREATE INDEX personnel_notices_pending ON personnel_notices (done_at)",
        ),
    ),
)
