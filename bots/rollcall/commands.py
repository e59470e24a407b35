"""`!anpi` / `!安否` (the safety roll call) and `!alert level` / `!警報 体制` (staffing)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime

from bots.commands.arguments import Number, Rest
from bots.commands.context import CommandContext
from bots.commands.errors import CommandError
from bots.commands.router import CommandSet, Role
from bots.rollcall.model import Kind, RollCall
from bots.rollcall.service import RollCallService

Clock = Callable[[], datetime]
_DRILL_WORDS = {"訓練", "drill", "--drill", "試験", "test", "exercise"}
_END_WORDS = {"解除", "終了", "end", "off", "lift", "close"}


def _drill(text: str | None) -> tuple[bool, str]:
    """(is it a drill, the title without the drill word)."""
    words = unicodedata.normalize("NFKC", text or "").split()
    drill = bool(words) and words[0].casefold() in _DRILL_WORDS
    return drill, " ".join(words[1:] if drill else words)


def rollcall_commands(
    service: RollCallService, clock: Clock, kick: Callable[[], None] = lambda: None
) -> CommandSet:
    """The commands; `kick` has what they changed done at once (questions, the tally)."""
    commands = CommandSet("rollcall")

    async def _notify(ctx: CommandContext, call_id: int, key: str) -> None:
        kick()
        call = await service.store.get(call_id)
        if call is not None:
            await ctx.reply(
                key, number=call.id, room=call.status_room, people=await _people(service, call)
            )

    @commands.command(
        "anpi start",
        aliases=("安否 開始", "安否確認 開始"),
        help="rollcall.help.start",
        args=(Rest("title", optional=True),),
        role=Role.DISASTER_OFFICER,
    )
    async def start(ctx: CommandContext, title: str | None) -> None:
        drill, text = _drill(title)
        call_id = await service.start(
            ctx.sender, text or ctx.t("rollcall.title.manual"), drill, clock()
        )
        await _notify(ctx, call_id, "rollcall.started")

    @commands.command(
        "anpi stop",
        aliases=("安否 中止", "安否確認 中止"),
        help="rollcall.help.stop",
        args=(Number("number", optional=True),),
        role=Role.DISASTER_OFFICER,
    )
    async def stop(ctx: CommandContext, number: int | None) -> None:
        call = await service.stop(ctx.sender, clock(), number)
        kick()
        await ctx.reply("rollcall.stopped", number=call.id)

    @commands.command(
        "anpi close",
        aliases=("安否 終了", "安否確認 終了"),
        help="rollcall.help.close",
        args=(Number("number", optional=True),),
        role=Role.DISASTER_OFFICER,
    )
    async def close(ctx: CommandContext, number: int | None) -> None:
        call = await service.close(ctx.sender, clock(), number)
        kick()
        await ctx.reply("rollcall.closed", number=call.id)

    @commands.command(
        "anpi status",
        aliases=("安否 状況", "安否確認 状況"),
        help="rollcall.help.status",
        args=(Number("number", optional=True),),
        role=Role.DISASTER_OFFICER,
    )
    async def status(ctx: CommandContext, number: int | None) -> None:
        call = await _pick(service, number)
        lines = await service.missing(call, ctx.lang)
        header = ctx.t("rollcall.missing.header", number=call.id)
        await ctx.reply_text(
            "\n".join([header, *lines]) if lines else ctx.t("rollcall.missing.none", number=call.id)
        )

    @commands.command(
        "anpi export",
        aliases=("安否 出力", "安否確認 出力"),
        help="rollcall.help.export",
        args=(Number("number", optional=True),),
        role=Role.DISASTER_OFFICER,
    )
    async def export(ctx: CommandContext, number: int | None) -> None:
        call = await _pick(service, number)
        if ctx.room_id == call.status_room:
            await service.export(call, ctx.room_id, clock())
            return
        room = await service.direct_room(ctx.sender)
        if room is None:
            raise CommandError("rollcall.error.dm_not_ready")
        await service.export(call, room, clock())
        await ctx.reply("rollcall.exported_dm", number=call.id)

    @commands.command(
        "anpi",
        aliases=("安否", "安否確認"),
        help="rollcall.help",
        args=(Rest("answer", optional=True),),
    )
    async def anpi(ctx: CommandContext, answer: str | None) -> None:
        if answer and await service.answer(
            ctx.room_id, ctx.sender, ctx.event_id, clock(), text=answer, relates_to=ctx.reply_to
        ):
            kick()
            return
        calls = await service.store.open_calls()
        if not calls:
            await ctx.reply("rollcall.none_open")
            return
        for call in calls:
            await ctx.reply(
                "rollcall.open",
                number=call.id,
                title=call.title,
                state=ctx.t(f"rollcall.state.{call.state.value}"),
            )

    @commands.command(
        "alert level",
        aliases=("警報 体制", "防災 体制", "体制"),
        help="staffing.help",
        args=(Rest("level"),),
        role=Role.DISASTER_OFFICER,
    )
    async def level(ctx: CommandContext, level: str) -> None:
        drill, name = _drill(level)
        if unicodedata.normalize("NFKC", name).casefold() in _END_WORDS:
            call = await service.close(ctx.sender, clock(), kind=Kind.STAFFING)
            kick()
            await ctx.reply("staffing.ended", number=call.id)
            return
        call_id = await service.raise_level(name, ctx.sender, drill, clock())
        await _notify(ctx, call_id, "staffing.raised")

    return commands


async def _pick(service: RollCallService, number: int | None) -> RollCall:
    if number is not None:
        call = await service.store.get(number)
        if call is None or call.kind is not Kind.ANPI:
            raise CommandError("rollcall.error.not_found", number=number)
        return call
    calls = await service.store.latest(Kind.ANPI, limit=1)
    if not calls:
        raise CommandError("rollcall.error.none")
    return calls[0]


async def _people(service: RollCallService, call: RollCall) -> int:
    return len(await service.roster(service.level(call)))
