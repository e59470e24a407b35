"""The `yakuba` command: run (bots and appservice), check-config, registration, outbox, demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from appservice import audit_cli, backup_cli, outbox_cli, provision_cli
from appservice.registration import write_registration
from appservice.service import Appservice
from bots.app import App, Service
from bots.audit import AuditLog, record_config_load
from bots.cli import check_config, load_or_report, setup_logging
from bots.config import Config
from bots.matrix.session import StartupError
from bots.store import open_database
from bots.store.database import DatabaseTooNew, DatabaseUnavailable

log = logging.getLogger("yakuba")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yakuba", description="Matrix suite for city halls")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "run the bots and the application service"),
        ("check-config", "validate a config file and list every problem"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("-c", "--config", required=True, type=Path, help="the YAML config file")
    reg = sub.add_parser("registration", help="write the appservice registration for Synapse")
    reg.add_argument("-c", "--config", required=True, type=Path)
    reg.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="where to write it (default: DATA_DIR/appservice/registration.yaml)",
    )
    outbox_cli.add_parser(sub)
    audit_cli.add_parser(sub)
    backup_cli.add_parser(sub)
    provision_cli.add_parser(sub)
    alert = sub.add_parser("alert", help="alert tools")
    alert_sub = alert.add_subparsers(dest="alert_command", required=True)
    parse = alert_sub.add_parser(
        "parse", help="print each CAP / JMA XML file's alert model as JSON (exit 1 on errors)"
    )
    parse.add_argument("files", nargs="+", type=Path)
    demo = sub.add_parser("demo", help="local Synapse + demo city + yakuba (what `make up` runs)")
    demo.add_argument("-c", "--config", type=Path, default=Path("config/demo.yaml"))
    demo.add_argument("--state", type=Path, default=Path(".local"), help="state folder")
    demo.add_argument("--port", type=int, default=8008)
    args = parser.parse_args(argv)

    if args.command == "check-config":
        return check_config(args.config)
    if args.command == "alert":
        from bots.alerts.parse import alert_parse_cli

        return alert_parse_cli(args.files, sys.stdout, sys.stderr)
    if args.command == "demo":  # it makes the demo's secret files before reading the config
        from bots.demo.up import run_demo

        setup_logging("INFO")
        return asyncio.run(
            run_demo(args.config, args.state.resolve(), args.port, run_all, _demo_registration)
        )
    config = load_or_report(args.config)
    if config is None:
        return 1
    if args.command == "registration":
        return registration(config, args.output)
    if args.command in backup_cli.COMMANDS:
        return asyncio.run(backup_cli.run(args, config))
    try:
        if args.command == "provision":
            return asyncio.run(provision_cli.run(args, config))
        if args.command in ("outbox", "audit"):
            return asyncio.run(_with_db(config, args))
        setup_logging(config.logging.level)
        return asyncio.run(run_all(config, args.config))
    except (DatabaseTooNew, DatabaseUnavailable) as exc:
        log.error("%s", exc)
        return 1


def registration(config: Config, output: Path | None) -> int:
    if config.appservice is None:
        print("the config has no 'appservice' section", file=sys.stderr)
        return 1
    path = output or config.data_dir / "appservice" / "registration.yaml"
    write_registration(config, config.appservice, path)
    print(f"wrote {path}: add it to Synapse's app_service_config_files")
    return 0


def _demo_registration(config: Config) -> dict[str, Any]:
    """For the demo's Synapse: the appservice registration, written fresh."""
    if config.appservice is None:
        return {}
    path = config.data_dir / "appservice" / "registration.yaml"
    write_registration(config, config.appservice, path)
    return {"app_service_config_files": [str(path)]}


async def _with_db(config: Config, args: argparse.Namespace) -> int:
    db = await open_database(config.store)
    try:
        if args.command == "audit":
            return await audit_cli.run(args, db, config.zone)
        return await outbox_cli.run(args, db)
    finally:
        await db.close()


async def run_all(config: Config, source: Path | None = None) -> int:
    """The bots, and the appservice when the config has one, until SIGINT/SIGTERM."""
    app = await App.create(config)
    await record_config_load(AuditLog(app.db, time.time), source)
    services: list[Service] = []
    if config.appservice is not None:
        services.append(Appservice(config, app.db, app.bots))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, app.stop)
    try:
        await app.run(services)
    except StartupError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
