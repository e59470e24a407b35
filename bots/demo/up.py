"""`make up`: a local Synapse, the demo city, and yakuba, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import yaml

from bots.app import App
from bots.config import ConfigErrors, load_config
from bots.demo.city import DemoCity, StaffAccount, ensure_secret_files
from bots.demo.synapse import SynapseConfig, SynapseProcess
from bots.matrix.session import StartupError

log = logging.getLogger(__name__)


async def run_demo(config_path: Path, state: Path, port: int) -> int:
    """`state` must be an absolute path (all of the demo's state lives there)."""
    ensure_secret_files(config_path)
    try:
        config = load_config(config_path)
    except ConfigErrors as errors:
        print(errors)
        return 1
    if config.homeserver.url.rstrip("/") != f"http://127.0.0.1:{port}":
        print(f"{config_path}: homeserver.url must be http://127.0.0.1:{port} for the demo")
        return 1
    synapse = SynapseProcess(
        SynapseConfig(
            state_dir=state / "synapse", port=port, server_name=config.homeserver.server_name
        )
    )
    print(f"Starting Synapse on {synapse.url} (state in {state / 'synapse'}) …")
    await synapse.start()
    try:
        city = yaml.safe_load((config_path.parent / "demo-staff.yaml").read_text("utf-8"))
        staff = await DemoCity(synapse, config, state / "secrets").provision(city)
        app = await App.create(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, app.stop)
        print_welcome(synapse.url, staff)
        await app.run()
    except StartupError as exc:
        print(exc)
        return 1
    finally:
        print("Stopping Synapse …")
        await synapse.stop()
    return 0


def print_welcome(url: str, staff: list[StaffAccount]) -> None:
    lines = [
        "",
        "yakuba demo city is running. / デモ市役所が起動しました。",
        f"Homeserver (ホームサーバー): {url}",
        "Log in with Element Desktop or any Matrix client: at sign-in, edit the homeserver",
        "and enter the URL above. / ログイン画面でホームサーバーを上記URLに変更してください。",
        "Accounts (アカウント):",
        *(f"  {s.user_id:<24} {s.password}   {s.name} ({s.department})" for s in staff),
        "Try in a department room: !ヘルプ  or  !help",
        "Ctrl-C stops yakuba and Synapse. / Ctrl-C で停止します。",
        "",
    ]
    print("\n".join(lines), flush=True)
