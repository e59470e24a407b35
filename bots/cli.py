"""The `yakuba` command: run, check-config, demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bots.config import Config, ConfigErrors, load_config
from bots.matrix.session import StartupError
from bots.store.database import DatabaseTooNew

log = logging.getLogger("yakuba")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yakuba", description="Matrix suite for city halls")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "run the bots"),
        ("check-config", "validate a config file and list every problem"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("-c", "--config", required=True, type=Path, help="the YAML config file")
    demo = sub.add_parser("demo", help="local Synapse + demo city + yakuba (what `make up` runs)")
    demo.add_argument("-c", "--config", type=Path, default=Path("config/demo.yaml"))
    demo.add_argument("--state", type=Path, default=Path(".local"), help="state folder")
    demo.add_argument("--port", type=int, default=8008)
    args = parser.parse_args(argv)

    if args.command == "check-config":
        return check_config(args.config)
    if args.command == "run":
        config = _load_or_report(args.config)
        if config is None:
            return 1
        setup_logging(config.logging.level)
        return _run_app(config)
    if args.command == "demo":
        from bots.demo.up import run_demo

        setup_logging("INFO")
        return asyncio.run(run_demo(args.config, args.state.resolve(), args.port))
    return 2  # pragma: no cover - argparse enforces the choices


def check_config(path: Path) -> int:
    config = _load_or_report(path)
    if config is None:
        return 1
    print(f"{path}: OK ({len(config.bots)} bots, {len(config.departments)} departments)")
    return 0


def _load_or_report(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigErrors as errors:
        print(errors, file=sys.stderr)
        return None


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # nio reports every state event at INFO and request bodies at DEBUG: keep to warnings
    logging.getLogger("nio").setLevel(logging.WARNING)


def _run_app(config: Config) -> int:
    from bots.app import App

    async def run() -> int:
        app = await App.create(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, app.stop)
        try:
            await app.run()
        except StartupError as exc:
            log.error("%s", exc)
            return 1
        return 0

    try:
        return asyncio.run(run())
    except DatabaseTooNew as exc:
        log.error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
