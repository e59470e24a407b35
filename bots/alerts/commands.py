"""`!alert` / `!警報`: manual alerts; the most severe need a second officer to confirm."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bots.alerts.manual import parse_level
from bots.alerts.officers import ManualAlerts
from bots.alerts.service import AlertService
from bots.commands.arguments import Rest, Word
from bots.commands.context import CommandContext
from bots.commands.errors import CommandError
from bots.commands.router import CommandSet, Role

Clock = Callable[[], datetime]


def _number(word: str) -> int:
    text = word.strip().lstrip("#No.")
    if not text.isdigit():
        raise CommandError("alert.error.not_found", number=word)
    return int(text)


def alert_commands(manual: ManualAlerts, service: AlertService, clock: Clock) -> CommandSet:
    commands = CommandSet("alerts")

    @commands.command("alert list", aliases=("警報 一覧", "防災 一覧"), help="alert.help.list")
    async def active(ctx: CommandContext) -> None:
        lines = await service.active_lines(ctx.lang)
        await ctx.reply_text("\n".join(lines) if lines else ctx.t("alert.list.empty"))

    @commands.command(
        "alert",
        aliases=("警報", "防災"),
        help="alert.help",
        args=(Word("level"), Rest("text", optional=True)),
        role=Role.DISASTER_OFFICER,
    )
    async def alert(ctx: CommandContext, level: str, text: str | None) -> None:
        parsed = parse_level(level)
        lines = ctx.text.strip().split("\n", 1)
        title = " ".join(lines[0].split()[2:]).strip()
        body = lines[1].strip() if len(lines) > 1 else ""
        if not title:
            raise CommandError("alert.error.text_missing")
        number, rooms = await manual.raise_alert(
            ctx.sender, ctx.room_id, parsed, title, body, clock()
        )
        if rooms is None:
            await ctx.reply("alert.pending", number=number)
        else:
            await ctx.reply("alert.sent", rooms=rooms)

    @commands.command(
        "alert confirm",
        aliases=("警報 確認", "防災 確認"),
        help="alert.help.confirm",
        args=(Word("number"),),
        role=Role.DISASTER_OFFICER,
    )
    async def confirm(ctx: CommandContext, number: str) -> None:
        rooms = await manual.confirm(ctx.sender, _number(number), clock())
        await ctx.reply("alert.sent", rooms=rooms)

    @commands.command(
        "alert cancel",
        aliases=("警報 取消", "防災 取消"),
        help="alert.help.cancel",
        args=(Word("number"),),
        role=Role.DISASTER_OFFICER,
    )
    async def cancel(ctx: CommandContext, number: str) -> None:
        await manual.cancel(ctx.sender, _number(number), clock())
        await ctx.reply("alert.cancelled", number=_number(number))

    return commands
