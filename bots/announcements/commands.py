"""`!announce` / `!お知らせ` and `!ack` / `!了解`."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bots.announcements.model import State
from bots.announcements.service import AnnouncementService
from bots.announcements.syntax import parse_announcement
from bots.commands.arguments import Rest, Word
from bots.commands.context import CommandContext
from bots.commands.errors import CommandError
from bots.commands.router import CommandSet
from bots.i18n import format_datetime

Clock = Callable[[], datetime]


def _number(word: str) -> int:
    text = unicodedata.normalize("NFKC", word).strip().lstrip("#No.").strip()
    if not text.isdigit():
        raise CommandError("announce.error.bad_number", value=word)
    return int(text)


def _after_command(text: str, words: int) -> str:
    """The text after the first `words` words of the command, line breaks kept."""
    rest = text.strip()
    for _ in range(words):
        parts = rest.split(maxsplit=1)
        rest = parts[1] if len(parts) > 1 else ""
    return rest


def announcement_commands(service: AnnouncementService, clock: Clock) -> CommandSet:
    commands = CommandSet("announcements")

    @commands.command(
        "announce",
        aliases=("お知らせ",),
        help="announce.help",
        audit=True,
        args=(Rest("text", optional=True),),
    )
    async def announce(ctx: CommandContext, text: str | None) -> None:
        now = clock()
        tz = service_tz(ctx)
        settings = service.settings
        spec = parse_announcement(
            _after_command(ctx.text, 1),
            now,
            tz,
            max_title=settings.max_title_length,
            max_body=settings.max_body_length,
        )
        result = await service.create(
            ctx.sender,
            ctx.room_id,
            spec.group,
            spec.title,
            spec.body,
            spec.important,
            spec.ack_required,
            spec.publish_at,
            spec.expires_at,
            now,
        )
        ann = result.announcement
        if ann.state is State.SCHEDULED:
            await ctx.reply(
                "announce.scheduled",
                number=ann.id,
                rooms=result.rooms,
                at=format_datetime(ann.publish_at, ctx.lang, tz),
            )
        else:
            await ctx.reply("announce.published", number=ann.id, rooms=result.rooms)
        if result.not_pinned:
            await ctx.reply("announce.not_pinned", rooms=", ".join(result.not_pinned))

    def service_tz(ctx: CommandContext) -> ZoneInfo:
        return service.timezone_for(ctx.sender)

    @commands.command("announce list", aliases=("お知らせ 一覧",), help="announce.help.list")
    async def announce_list(ctx: CommandContext) -> None:
        found = await service.store.active_in_room(ctx.room_id)
        if not found:
            await ctx.reply("announce.list.empty")
            return
        lines = [ctx.t("announce.list.header")] + [
            "• "
            + ctx.t(
                "announce.list.line",
                number=a.id,
                title=a.title,
                state=ctx.t(f"announce.state.{a.state}"),
            )
            for a in found
        ]
        await ctx.reply_text("\n".join(lines))

    @commands.command(
        "announce status",
        aliases=("お知らせ 状況",),
        help="announce.help.status",
        args=(Word("number"),),
    )
    async def announce_status(ctx: CommandContext, number: str) -> None:
        ann = await service.get(_number(number))
        await service.require_author_or_admin(ctx.sender, ctx.room_id, ann)
        await ctx.reply_text(await service.status_text(ann, ctx.lang))

    @commands.command(
        "announce edit",
        aliases=("お知らせ 編集",),
        help="announce.help.edit",
        audit=True,
        args=(Word("number"), Rest("text", optional=True)),
    )
    async def announce_edit(ctx: CommandContext, number: str, text: str | None) -> None:
        ann = await service.get(_number(number))
        settings = service.settings
        spec = parse_announcement(
            _after_command(ctx.text, 3),
            clock(),
            service_tz(ctx),
            max_title=settings.max_title_length,
            max_body=settings.max_body_length,
        )
        ann = await service.edit(ctx.sender, ctx.room_id, ann, spec.title, spec.body, clock())
        await ctx.reply("announce.edited", number=ann.id)

    @commands.command(
        "announce retract",
        aliases=("お知らせ 取消", "お知らせ 撤回", "お知らせ 取り消し"),
        help="announce.help.retract",
        audit=True,
        args=(Word("number"),),
    )
    async def announce_retract(ctx: CommandContext, number: str) -> None:
        ann = await service.get(_number(number))
        count = await service.retract(ctx.sender, ctx.room_id, ann, clock())
        await ctx.reply("announce.retracted_reply", number=ann.id, count=count)

    @commands.command(
        "ack",
        aliases=("了解", "りょうかい"),
        help="announce.help.ack",
        args=(Word("number", optional=True),),
    )
    async def ack(ctx: CommandContext, number: str | None) -> None:
        now = clock()
        ann = None
        for target in (ctx.thread_root, ctx.reply_to):
            if target and ann is None:
                ann = await service.acknowledge_event(
                    ctx.room_id, ctx.sender, target, "command", now
                )
        if ann is None and number is not None:
            ann = await service.acknowledge_number(ctx.room_id, ctx.sender, _number(number), now)
        if ann is None:
            raise CommandError("announce.error.no_target")
        await ctx.reply("announce.acked", number=ann.id)

    return commands
