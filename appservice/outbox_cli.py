"""`yakuba outbox`: look at the outbound webhook outbox, retry or drop dead letters.

yakuba outbox list -c FILE [--pending | --dead | --delivered] [--limit N]
yakuba outbox retry -c FILE ID
yakuba outbox drop -c FILE ID
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appservice.outbox import OutboxEntry, OutboxState, OutboxStore
from bots.store.database import Database

__all__ = ["add_parser", "format_table", "run"]

_ERROR_WIDTH = 60


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    outbox = sub.add_parser("outbox", help="list, retry or drop outbound webhooks")
    commands = outbox.add_subparsers(dest="outbox_command", required=True)

    listing = commands.add_parser("list", help="list outbox entries (pending by default)")
    _config(listing)
    state = listing.add_mutually_exclusive_group()
    for flag in ("pending", "dead", "delivered"):
        state.add_argument(
            f"--{flag}", dest="state", action="store_const", const=flag, help=f"{flag} entries"
        )
    listing.set_defaults(state="pending")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")

    retry = commands.add_parser("retry", help="make a dead or pending entry due now")
    _config(retry)
    retry.add_argument("id", type=int, help="the entry id (see `outbox list`)")

    drop = commands.add_parser("drop", help="delete an undelivered entry")
    _config(drop)
    drop.add_argument("id", type=int, help="the entry id (see `outbox list`)")


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, type=Path, help="the YAML config file")


async def run(
    args: argparse.Namespace, db: Database, now: Callable[[], datetime] | None = None
) -> int:
    """Run one `outbox` sub-command; 0 on success, 1 for an unknown entry."""
    store = OutboxStore(db)
    clock = now if now is not None else (lambda: datetime.now(UTC))
    command = args.outbox_command
    if command == "list":
        state: OutboxState = args.state
        entries = await store.list_entries(state, limit=args.limit)
        if not entries:
            print(f"No {state} outbox entries.")
            return 0
        print(format_table(entries, state))
        return 0
    if command == "retry":
        if await store.retry(args.id, clock()):
            print(f"Outbox entry {args.id} is due again now (attempts reset to 0).")
            return 0
        print(f"No pending or dead outbox entry with id {args.id}.")
        return 1
    if command == "drop":
        if await store.drop(args.id):
            print(f"Outbox entry {args.id} dropped.")
            return 0
        print(f"No pending or dead outbox entry with id {args.id}.")
        return 1
    raise ValueError(f"unknown outbox command {command!r}")  # argparse enforces the choices


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _error(value: str | None) -> str:
    if not value:
        return "-"
    text = " ".join(value.split())
    return text if len(text) <= _ERROR_WIDTH else text[: _ERROR_WIDTH - 1] + "…"


def format_table(entries: Sequence[OutboxEntry], state: OutboxState) -> str:
    """A plain-text table: id, endpoint, attempts, the state's time, last error."""
    time_title = {"pending": "next attempt", "dead": "dead at", "delivered": "delivered at"}
    rows = [["id", "endpoint", "attempts", time_title[state], "last error"]]
    for entry in entries:
        when = {
            "pending": entry.next_attempt_at,
            "dead": entry.dead_at,
            "delivered": entry.delivered_at,
        }[state]
        rows.append(
            [
                str(entry.id),
                entry.endpoint,
                str(entry.attempts),
                _when(when),
                _error(entry.last_error),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)
