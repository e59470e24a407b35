"""Commands every yakuba bot has: help and ping."""

from __future__ import annotations

from bots.commands.context import CommandContext
from bots.commands.router import CommandSet
from bots.matrix import content as mc

builtin = CommandSet("builtin")


@builtin.command("help", aliases=("ヘルプ", "使い方"), help="help.help", once_per_room=True)
async def help_command(ctx: CommandContext) -> None:
    lines = []
    seen: set[str] = set()
    for command in ctx.room_commands:
        if command.name in seen:
            continue
        seen.add(command.name)
        if command.role is not None and not await ctx.has_role(command.role):
            continue
        usage = command.usage(ctx.lang, ctx.t)
        lines.append(ctx.t("help.line", usage=usage, text=ctx.t(command.help)))
    header, footer = ctx.t("help.header"), ctx.t("help.footer")
    body = "\n".join([header, *(f"• {line}" for line in lines), footer])
    await ctx.reply_text(body, mc.lines_to_html(header, lines, footer))


@builtin.command("ping", aliases=("ピング",), help="help.ping")
async def ping_command(ctx: CommandContext) -> None:
    latency = (
        ctx.t("ping.latency_ms", ms=ctx.latency_ms)
        if ctx.latency_ms is not None
        else ctx.t("ping.latency_unknown")
    )
    await ctx.reply("ping.reply", bot=ctx.bot_name, latency=latency)
