"""`make up`: a local Synapse, the demo city, and yakuba, until Ctrl-C."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from bots.config import Config, ConfigErrors, load_config
from bots.demo.city import DemoCity, StaffAccount, ensure_secret_files
from bots.demo.synapse import SynapseConfig, SynapseProcess

log = logging.getLogger(__name__)


async def run_demo(
    config_path: Path,
    state: Path,
    port: int,
    run: Callable[[Config], Awaitable[int]],
    synapse_extra: Callable[[Config], dict[str, Any]] | None = None,
) -> int:
    """`state` must be an absolute path (all of the demo's state lives there); `run` runs
    yakuba (bots and appservice) until stopped; `synapse_extra` adds homeserver settings
    such as the appservice registration."""
    ensure_secret_files(config_path)
    try:
        config = load_config(config_path)
    except ConfigErrors as errors:
        print(errors)
        return 1
    if config.homeserver.url.rstrip("/") != f"http://127.0.0.1:{port}":
        print(f"{config_path}: homeserver.url must be http://127.0.0.1:{port} for the demo")
        return 1
    extra = synapse_extra(config) if synapse_extra else None
    synapse = SynapseProcess(
        SynapseConfig(state / "synapse", port, config.homeserver.server_name, extra)
    )
    print(f"Starting Synapse on {synapse.url} (state in {state / 'synapse'}) …")
    await synapse.start()
    try:
        city = yaml.safe_load((config_path.parent / "demo-staff.yaml").read_text("utf-8"))
        staff = await DemoCity(synapse, config, state / "secrets").provision(city)
        print_welcome(synapse.url, staff)
        return await run(config)
    finally:
        print("Stopping Synapse …")
        await synapse.stop()


def print_welcome(url: str, staff: list[StaffAccount]) -> None:
    lines = [
        "",
        "yakuba demo city is running. / デモ市役所が起動しました。",
        f"Homeserver (ホームサーバー): {url}",
        "Log in with Element Desktop or any Matrix client: at sign-in, edit the homeserver",
        "and enter the URL above. / ログイン画面でホームサーバーを上記URLに変更してください。",
        "Accounts (アカウント):",
        *(f"  {s.user_id:<24} {s.password}   {s.name} ({s.department})" for s in staff),
        "Try in a department room: !ヘルプ (or !help), then for example",
        "  !タスク 追加 予算資料の作成 期限:明日17時",
        "  !お知らせ 宛先:全庁 重要 要確認 年末年始の窓口業務   (as tanaka; body on the next line)",
        "  !安否 開始 訓練   (as sato in 防災危機管理課: a drill safety roll call; staff answer",
        "                    in a direct message from 防災情報, the tally stays in 防災危機管理課)",
        "Ctrl-C stops yakuba and Synapse. / Ctrl-C で停止します。",
        "",
    ]
    print("\n".join(lines), flush=True)
