"""`!task` / `!タスク`: the chat commands of the task workflow."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bots.commands.arguments import Rest, Word
from bots.commands.context import CommandContext
from bots.commands.errors import CommandError
from bots.commands.parsing import normalise_name, tokenize
from bots.commands.router import CommandSet, Role
from bots.ids import is_user_id
from bots.tasks.export import tasks_to_csv, tasks_to_ics
from bots.tasks.model import Status, Task
from bots.tasks.service import Actor, TaskService
from bots.tasks.store import TaskFilter
from bots.tasks.syntax import parse_due, parse_number, parse_task_spec

Clock = Callable[[], datetime]

SUBCOMMANDS = {
    "add": ("追加", "登録"),
    "list": ("一覧", "リスト"),
    "show": ("詳細", "表示"),
    "done": ("完了", "終了"),
    "reopen": ("再開",),
    "assign": ("担当", "割当"),
    "unassign": ("担当解除", "割当解除"),
    "due": ("期限", "締切"),
    "rename": ("名前変更", "改名"),
    "comment": ("コメント",),
    "delete": ("削除",),
    "board": ("ボード", "掲示板"),
    "export": ("出力", "エクスポート"),
}
_MINE = {"mine", "me", "my", "自分", "私", "わたし", "自分の"}
_OVERDUE = {"overdue", "late", "期限切れ", "遅延", "超過"}
_TODAY = {"today", "今日", "本日"}
_NO_DUE = {"none", "no", "clear", "なし", "無し", "解除"}
LIST_LIMIT = 30


def _aliases(name: str) -> tuple[str, ...]:
    """Japanese first: `タスク 追加`, then the mixed forms people type."""
    ja = SUBCOMMANDS[name]
    return (*(f"タスク {j}" for j in ja), f"タスク {name}", *(f"task {j}" for j in ja))


def task_commands(service: TaskService, clock: Clock) -> CommandSet:
    tasks = CommandSet("tasks")

    def actor(ctx: CommandContext) -> Actor:
        return Actor(ctx.sender, ctx.room_id)

    async def task_arg(ctx: CommandContext, word: str) -> Task:
        return await service.get(ctx.room_id, parse_number(word))

    @tasks.command(
        "task", aliases=("タスク",), help="task.help", args=(Rest("rest", optional=True),)
    )
    async def task_root(ctx: CommandContext, rest: str | None) -> None:
        if not rest:
            await ctx.reply("task.usage")
            return
        word = normalise_name(tokenize(rest)[0])
        names = [*SUBCOMMANDS, *(j for js in SUBCOMMANDS.values() for j in js)]
        close = difflib.get_close_matches(word, names, n=1, cutoff=0.5)
        if close:
            raise CommandError("task.error.unknown_sub", name=word, suggestion=close[0])
        raise CommandError("task.error.unknown_sub_plain", name=word)

    @tasks.command(
        "task add",
        aliases=_aliases("add"),
        help="task.help.add",
        args=(Rest("text", optional=True),),
    )
    async def task_add(ctx: CommandContext, text: str | None) -> None:
        now = clock()
        tz = service.renderer_for(ctx.sender, ctx.room_id).tz
        spec = parse_task_spec(tokenize(text or ""), now, tz, max_title=service.max_title)
        if set(spec.assignees) - {ctx.sender}:
            ctx.privilege = Role.LEAD  # assigning others: in the audit log
        task = await service.add(
            actor(ctx), spec.title, spec.assignees, spec.due, spec.priority, spec.tags, now
        )
        await ctx.reply("task.created", number=task.number)

    @tasks.command(
        "task list",
        aliases=_aliases("list"),
        help="task.help.list",
        args=(Rest("scope", optional=True),),
    )
    async def task_list(ctx: CommandContext, scope: str | None) -> None:
        now = clock()
        r = service.renderer_for(ctx.sender, ctx.room_id)
        word = normalise_name(scope.strip()) if scope else ""
        direct = service.is_direct(ctx.room_id)
        if not word:
            f, label = TaskFilter(room_id=ctx.room_id, limit=LIST_LIMIT), r.t("task.scope.room")
        elif word in _MINE:
            # other rooms' tasks are shown only in a direct chat with the bot
            f = TaskFilter(
                room_id=None if direct else ctx.room_id, assignee=ctx.sender, limit=LIST_LIMIT
            )
            label = r.t("task.scope.mine" if direct else "task.scope.mine_here")
        elif word in _OVERDUE:
            f = TaskFilter(room_id=ctx.room_id, due_before=now, limit=LIST_LIMIT)
            label = r.t("task.scope.overdue")
        elif word in _TODAY:
            local = now.astimezone(r.tz)
            end = datetime(local.year, local.month, local.day, tzinfo=r.tz) + timedelta(days=1)
            f = TaskFilter(room_id=ctx.room_id, due_before=end, limit=LIST_LIMIT)
            label = r.t("task.scope.today")
        elif word.startswith("#") and len(word) > 1:
            f = TaskFilter(
                room_id=ctx.room_id, tag=scope.strip()[1:] if scope else "", limit=LIST_LIMIT
            )
            label = r.t("task.scope.tag", tag=word[1:])
        elif is_user_id(scope.strip() if scope else ""):
            user = (scope or "").strip()
            f = TaskFilter(room_id=ctx.room_id, assignee=user, limit=LIST_LIMIT)
            label = r.t("task.scope.user", user=r.name_of(user))
        elif ctx.mentions:
            user = ctx.mentions[0]
            f = TaskFilter(room_id=ctx.room_id, assignee=user, limit=LIST_LIMIT)
            label = r.t("task.scope.user", user=r.name_of(user))
        else:
            raise CommandError("task.error.bad_scope", value=scope or "")
        found, total = await service.store.find_tasks(f)
        await ctx.reply_text(r.listing(label, found, total, now))

    @tasks.command(
        "task show", aliases=_aliases("show"), help="task.help.show", args=(Word("number"),)
    )
    async def task_show(ctx: CommandContext, number: str) -> None:
        task = await task_arg(ctx, number)
        text = await service.describe(task, ctx.sender, clock())
        await ctx.reply_text(text)

    @tasks.command(
        "task done", aliases=_aliases("done"), help="task.help.done", args=(Word("number"),)
    )
    async def task_done(ctx: CommandContext, number: str) -> None:
        task = await service.complete(actor(ctx), await task_arg(ctx, number), clock())
        await ctx.reply("task.done", number=task.number)

    @tasks.command(
        "task reopen", aliases=_aliases("reopen"), help="task.help.reopen", args=(Word("number"),)
    )
    async def task_reopen(ctx: CommandContext, number: str) -> None:
        task = await service.reopen(actor(ctx), await task_arg(ctx, number), clock())
        await ctx.reply("task.reopened", number=task.number)

    @tasks.command(
        "task assign",
        aliases=_aliases("assign"),
        help="task.help.assign",
        args=(Word("number"), Rest("users", optional=True)),
    )
    async def task_assign(ctx: CommandContext, number: str, users: str | None) -> None:
        task = await task_arg(ctx, number)
        people = _users(users)
        if set(people) - {ctx.sender}:
            ctx.privilege = Role.LEAD
        task = await service.assign(actor(ctx), task, people, [], clock())
        names = service.renderer_for(ctx.sender, ctx.room_id).names(task.assignees)
        await ctx.reply("task.assigned", number=task.number, assignees=names)

    @tasks.command(
        "task unassign",
        aliases=_aliases("unassign"),
        help="task.help.unassign",
        args=(Word("number"), Rest("users", optional=True)),
    )
    async def task_unassign(ctx: CommandContext, number: str, users: str | None) -> None:
        task = await task_arg(ctx, number)
        if set(_users(users)) - {ctx.sender}:
            ctx.privilege = Role.LEAD
        task = await service.assign(actor(ctx), task, [], _users(users), clock())
        names = service.renderer_for(ctx.sender, ctx.room_id).names(task.assignees)
        await ctx.reply("task.assigned", number=task.number, assignees=names)

    @tasks.command(
        "task due",
        aliases=_aliases("due"),
        help="task.help.due",
        args=(Word("number"), Rest("when", optional=True)),
    )
    async def task_due(ctx: CommandContext, number: str, when: str | None) -> None:
        task = await task_arg(ctx, number)
        if not when:
            raise CommandError("task.error.date_missing")
        now = clock()
        r = service.renderer_for(ctx.sender, ctx.room_id)
        due = None if normalise_name(when.strip()) in _NO_DUE else parse_due(when, now, r.tz)
        task = await service.set_due(actor(ctx), task, due, now)
        if task.due is None:
            await ctx.reply("task.due_cleared", number=task.number)
        else:
            await ctx.reply("task.due_set", number=task.number, due=r.when(task.due))

    @tasks.command(
        "task rename",
        aliases=_aliases("rename"),
        help="task.help.rename",
        args=(Word("number"), Rest("title", optional=True)),
    )
    async def task_rename(ctx: CommandContext, number: str, title: str | None) -> None:
        task = await task_arg(ctx, number)
        tz = service.renderer_for(ctx.sender, ctx.room_id).tz
        spec = parse_task_spec([title] if title else [], clock(), tz, max_title=service.max_title)
        task = await service.rename(actor(ctx), task, spec.title, clock())
        await ctx.reply("task.renamed", number=task.number)

    @tasks.command(
        "task comment",
        aliases=_aliases("comment"),
        help="task.help.comment",
        args=(Word("number"), Rest("text", optional=True)),
    )
    async def task_comment(ctx: CommandContext, number: str, text: str | None) -> None:
        task = await task_arg(ctx, number)
        await service.comment(actor(ctx), task, text or "", clock(), ctx.event_id)
        await ctx.reply("task.commented", number=task.number)

    @tasks.command(
        "task delete", aliases=_aliases("delete"), help="task.help.delete", args=(Word("number"),)
    )
    async def task_delete(ctx: CommandContext, number: str) -> None:
        task = await service.delete(actor(ctx), await task_arg(ctx, number), clock())
        await ctx.reply("task.deleted", number=task.number)

    @tasks.command("task board", aliases=_aliases("board"), help="task.help.board")
    async def task_board(ctx: CommandContext) -> None:
        existed = await service.store.get_board(ctx.room_id) is not None
        _, pinned = await service.post_board(ctx.room_id, clock())
        await ctx.reply("task.board_updated" if existed else "task.board_posted")
        if not pinned:
            await ctx.reply("task.board_not_pinned")

    @tasks.command(
        "task export",
        aliases=_aliases("export"),
        help="task.help.export",
        args=(Word("format", optional=True),),
        audit=True,
    )
    async def task_export(ctx: CommandContext, format: str | None) -> None:
        kind = normalise_name(format or "csv")
        if kind not in ("csv", "ics", "ical", "icalendar"):
            raise CommandError("task.error.export_format")
        now = clock()
        r = service.renderer_for(ctx.sender, ctx.room_id)
        found, _ = await service.store.find_tasks(
            TaskFilter(room_id=ctx.room_id, statuses=(Status.OPEN, Status.DONE), limit=100_000)
        )
        names = {u: r.name_of(u) for t in found for u in (*t.assignees, t.creator)}
        stamp = now.astimezone(r.tz).strftime("%Y%m%d-%H%M")
        base = f"{r.t('task.export.filename')}-{stamp}"
        if kind == "csv":
            data, filename, mime = (
                tasks_to_csv(found, r.tz, r.t, names),
                f"{base}.csv",
                "text/csv",
            )
        else:
            data, filename, mime = tasks_to_ics(found, r.tz), f"{base}.ics", "text/calendar"
        await service.upload(ctx.room_id, data, filename, mime, f"task-export:{ctx.event_id}")
        await ctx.reply("task.exported", count=len(found))

    return tasks


def _users(text: str | None) -> list[str]:
    words = tokenize(text or "")
    if not words:
        raise CommandError("task.error.no_assignees")
    for word in words:
        if not is_user_id(word):
            raise CommandError("task.error.bad_user", value=word)
    return list(dict.fromkeys(words))


def utc_now() -> datetime:
    return datetime.now(UTC)
