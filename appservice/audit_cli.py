"""`yakuba audit`: read the audit log, filter it, export it as CSV, check its chain.

yakuba audit -c FILE [--since DATE] [--until DATE] [--actor USER] [--action NAME]
                     [--csv PATH|-] [--limit N]
yakuba audit -c FILE --verify
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bots.audit import AuditLog, to_csv
from bots.store.database import Database

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    audit = sub.add_parser("audit", help="filter and export the audit log, or verify it")
    audit.add_argument("-c", "--config", required=True, type=Path, help="the YAML config file")
    audit.add_argument("--since", help="from this date or time (YYYY-MM-DD[THH:MM])")
    audit.add_argument("--until", help="before this date or time (YYYY-MM-DD[THH:MM])")
    audit.add_argument("--actor", help="only this user ID (or alert:…, system)")
    audit.add_argument("--action", help="only this action, e.g. 'anpi' or 'anpi close'")
    audit.add_argument("--limit", type=int, help="at most this many entries")
    audit.add_argument("--csv", dest="csv", help="write CSV to this file ('-': stdout)")
    audit.add_argument(
        "--verify", action="store_true", help="check that no entry was changed or removed"
    )


def parse_when(text: str, zone: ZoneInfo) -> datetime:
    """A date (midnight) or date and time, in the city's time zone unless it says."""
    try:
        if "T" in text or " " in text.strip():
            moment = datetime.fromisoformat(text.strip())
            return moment if moment.tzinfo else moment.replace(tzinfo=zone)
        return datetime.combine(date.fromisoformat(text.strip()), day_time(), zone)
    except ValueError:
        raise ValueError(f"expected YYYY-MM-DD or YYYY-MM-DDTHH:MM, got {text!r}") from None


async def run(args: argparse.Namespace, db: Database, zone: ZoneInfo) -> int:
    log = AuditLog(db, time.time)
    if args.verify:
        broken = await log.verify()
        if broken is None:
            count = len(await log.entries())
            print(f"audit log intact: {count} entries")
            return 0
        print(
            f"audit log entry {broken} was changed, or an entry before it removed", file=sys.stderr
        )
        return 1
    try:
        since = parse_when(args.since, zone) if args.since else None
        until = parse_when(args.until, zone) if args.until else None
    except ValueError as exc:
        print(f"yakuba audit: {exc}", file=sys.stderr)
        return 2
    entries = await log.entries(
        since=since, until=until, actor=args.actor, action=args.action, limit=args.limit
    )
    if args.csv == "-":
        sys.stdout.buffer.write(to_csv(entries))
        return 0
    if args.csv:
        Path(args.csv).write_bytes(to_csv(entries))  # noqa: ASYNC240 (a one-shot CLI)
        print(f"{len(entries)} entries written to {args.csv}")
        return 0
    for e in entries:
        at = e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        where = f" in {e.room_id}" if e.room_id else ""
        print(f"{e.id:>6}  {at}  {e.actor}  {e.action}{where}  [{e.result}]  {e.detail}")
    return 0
