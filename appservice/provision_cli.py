"""`yakuba provision`: make Synapse and the roll-call roster match the org chart and a
staff list (人事異動 included).

yakuba provision -c FILE --staff staff.csv [--dry-run] [--lang ja|en]
                 [--allow-many-leavers]

The staff list is checked first: any problem is listed with its line and nothing is
read from or changed on Synapse. The plan is printed before anything is done; with
--dry-run nothing is changed. Exit status: 0 done (or nothing to do), 1 refused or failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from bots.config import Config
from bots.i18n import Catalog
from bots.matrix.http import MatrixHttp, MatrixHttpError
from bots.provision import runner
from bots.provision.apply import DONE, FAILED, SKIPPED, UNCHANGED
from bots.provision.model import Person
from bots.provision.org import list_format
from bots.provision.staffcsv import StaffListError, read_staff_list
from bots.provision.synapse_admin import NotAdmin, SynapseAdmin
from bots.store import open_database
from bots.store.database import Database

__all__ = ["add_parser", "run"]

_MARKS = {DONE: "✓", UNCHANGED: "=", FAILED: "✗", SKIPPED: "·"}


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    provision = sub.add_parser(
        "provision",
        help="make Synapse and the roll-call roster match the org chart and a staff list",
    )
    provision.add_argument("-c", "--config", required=True, type=Path, help="the YAML config file")
    provision.add_argument(
        "--staff",
        required=True,
        type=Path,
        help="the staff list: CSV (UTF-8 or Shift_JIS) with 職員番号, 氏名, カナ, 所属, 役割,"
        " MatrixID (or the configured / English column names)",
    )
    provision.add_argument(
        "--dry-run", action="store_true", help="print what would change, change nothing"
    )
    provision.add_argument(
        "--lang", choices=("ja", "en"), help="the language of the output (default: config)"
    )
    provision.add_argument(
        "--allow-many-leavers",
        action="store_true",
        help="go ahead although many people left the list (not a truncated export)",
    )


async def run(
    args: argparse.Namespace,
    config: Config,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    catalog: Catalog | None = None,
) -> int:
    catalog = catalog or Catalog.load()
    lang = args.lang or config.language

    def t(key: str, /, **params: Any) -> str:
        return catalog.t(lang, key, **params)

    settings = config.provisioning
    if settings is None:
        print(t("provision.error.no_section"), file=err)
        return 1
    try:
        people = read_staff_list(args.staff, list_format(config))
    except StaffListError as exc:
        print(t("provision.error.refused", file=exc.source, count=len(exc.problems)), file=err)
        for line in exc.lines(t):
            print(f"  {line}", file=err)
        return 1
    async with aiohttp.ClientSession() as session:
        admin = SynapseAdmin(MatrixHttp(config.homeserver.url, settings.admin_token.get(), session))
        try:  # before the store is opened: a wrong token or URL leaves nothing behind
            await admin.check_admin()
        except NotAdmin as exc:
            print(t("provision.error.not_admin", user=exc.user_id), file=err)
            return 1
        except (MatrixHttpError, aiohttp.ClientError) as exc:
            print(t("provision.error.synapse", url=config.homeserver.url, error=exc), file=err)
            return 1
        db = await open_database(config.store)
        try:
            return await _provision(args, config, people, db, admin, catalog, lang, out, err)
        finally:
            await db.close()


async def _provision(
    args: argparse.Namespace,
    config: Config,
    people: list[Person],
    db: Database,
    admin: SynapseAdmin,
    catalog: Catalog,
    lang: str,
    out: TextIO,
    err: TextIO,
) -> int:
    def t(key: str, /, **params: Any) -> str:
        return catalog.t(lang, key, **params)

    try:
        prepared = await runner.prepare(config, people, db, admin)
    except (MatrixHttpError, aiohttp.ClientError) as exc:
        print(t("provision.error.synapse", url=config.homeserver.url, error=exc), file=err)
        return 1
    text = prepared.text(catalog, lang)
    actions = prepared.plan.actions
    print(t("provision.plan.header", count=len(actions), people=len(people)), file=out)
    for action in actions:
        print(f"  - {text.action(action)}", file=out)
    for note in prepared.plan.notes:
        print(f"  ! {text.note(note)}", file=out)
    if not actions:
        print(t("provision.plan.none"), file=out)
        return 0
    if prepared.too_many_leavers and not args.allow_many_leavers:
        active = sum(e.active for e in prepared.actual.roster)
        print(
            t("provision.error.many_leavers", count=prepared.plan.leavers, active=active),
            file=err,
        )
        if not args.dry_run:
            return 1
    if args.dry_run:
        print(t("provision.plan.dry_run"), file=out)
        return 0
    outcomes = await runner.apply(prepared, config, db, admin, catalog, time.time)
    counts = dict.fromkeys(_MARKS, 0)
    print(t("provision.result.header"), file=out)
    for outcome in outcomes:
        counts[outcome.result] += 1
        line = f"  {_MARKS[outcome.result]} {text.action(outcome.action)}"
        if outcome.error:
            line += f" — {outcome.error}"
        print(line, file=out)
    print(t("provision.result.done", done=counts[DONE], unchanged=counts[UNCHANGED]), file=out)
    if counts[FAILED]:
        print(t("provision.result.failed", failed=counts[FAILED]), file=err)
        return 1
    return 0
