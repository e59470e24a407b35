"""Command-line pieces of the bots: config checking and logging set-up.

The `yakuba` command itself is `appservice.cli` (it runs the bots and the appservice).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bots.config import Config, ConfigErrors, load_config

log = logging.getLogger("yakuba")


def check_config(path: Path) -> int:
    config = load_or_report(path)
    if config is None:
        return 1
    print(f"{path}: OK ({len(config.bots)} bots, {len(config.departments)} departments)")
    for hook in config.hooks:
        print(
            f"  hook {hook.id}: {hook.action} into {hook.room} as system {hook.system}"
            " (encrypted rooms: posted by a yakuba bot that names the system)"
        )
    for endpoint in config.outbound.endpoints:
        host = urlsplit(endpoint.url).hostname
        rules = [r for r in config.outbound.rules if r.endpoint == endpoint.id]
        print(f"  outbound {endpoint.id}: {len(rules)} rule(s) to host {host} (only host called)")
    return 0


def load_or_report(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigErrors as errors:
        print(errors, file=sys.stderr)
        return None


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # nio reports every state event at INFO and request bodies at DEBUG: keep to warnings
    logging.getLogger("nio").setLevel(logging.WARNING)
    # APScheduler reports every wake-up (each 15 s) at INFO
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
