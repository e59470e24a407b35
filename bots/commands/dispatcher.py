"""From a message in a room to a handled command, exactly once.

No Matrix I/O here: the bot passes the event's plain values and a `send` function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bots.audit import AuditLog
from bots.commands.context import CommandContext, RoleCheck, SendFn
from bots.commands.errors import CommandError, PermissionDenied, UsageError
from bots.commands.parsing import command_words
from bots.commands.router import Command, find_command, run_command
from bots.i18n import Catalog
from bots.store.events import EventStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncomingMessage:
    room_id: str
    event_id: str
    sender: str
    body: str
    mentions: tuple[str, ...]
    origin_server_ts: int
    #: what the message replies to, and the thread it is in (event ids)
    reply_to: str | None = None
    thread_root: str | None = None


class Dispatcher:
    def __init__(
        self,
        bot_name: str,
        bot_user_id: str,
        commands: Sequence[Command],
        catalog: Catalog,
        language_for: Callable[[str], str],
        events: EventStore,
        send: SendFn,
        role_check: RoleCheck,
        clock: Callable[[], float],
        audit: AuditLog | None = None,
    ) -> None:
        self.bot_name = bot_name
        self.bot_user_id = bot_user_id
        self.commands = list(commands)
        self._catalog = catalog
        self._language_for = language_for
        self._events = events
        self._send = send
        self._role_check = role_check
        self._clock = clock
        self._audit = audit

    def context(self, msg: IncomingMessage, room_commands: Sequence[Command]) -> CommandContext:
        now_ms = int(self._clock() * 1000)
        return CommandContext(
            bot_name=self.bot_name,
            bot_user_id=self.bot_user_id,
            room_id=msg.room_id,
            sender=msg.sender,
            event_id=msg.event_id,
            lang=self._language_for(msg.sender),
            catalog=self._catalog,
            send=self._send,
            role_check=self._role_check,
            room_commands=room_commands,
            mentions=msg.mentions,
            text=msg.body,
            reply_to=msg.reply_to,
            thread_root=msg.thread_root,
            latency_ms=max(0, now_ms - msg.origin_server_ts),
        )

    async def handle(self, msg: IncomingMessage, room_commands: Sequence[Command]) -> bool:
        """Handle a message once; `room_commands` are those of every yakuba bot in the room.

        Returns True if this bot answered it.
        """
        words = command_words(msg.body)
        if not words or msg.sender == self.bot_user_id:
            return False
        if await self._events.is_handled(self.bot_name, msg.event_id):
            return False
        try:
            return await self._handle_once(msg, words, room_commands)
        finally:
            await self._events.mark_handled(self.bot_name, msg.event_id, int(self._clock() * 1000))

    async def _handle_once(
        self, msg: IncomingMessage, words: list[str], room_commands: Sequence[Command]
    ) -> bool:
        ctx = self.context(msg, room_commands)
        found = find_command(self.commands, words)
        if found is None:
            # another yakuba bot here may know it; if none does, one of us says so
            if find_command(room_commands, words) is None and await self._events.claim(
                msg.event_id, "unknown-command", self.bot_name
            ):
                await ctx.reply("error.unknown_command", name=words[0])
                return True
            return False
        command, rest = found
        if command.once_per_room and not await self._events.claim(
            msg.event_id, f"command:{command.name}", self.bot_name
        ):
            return False
        result = "ok"
        try:
            await run_command(command, ctx, rest, msg.mentions)
        except UsageError as exc:
            result = f"error:{exc.key}"
            text = ctx.t(exc.key, **exc.params)
            usage = ctx.t("error.usage", usage=command.usage(ctx.lang, ctx.t))
            await ctx.reply_text(f"{text}\n{usage}")
        except PermissionDenied as exc:
            result = "denied"
            await ctx.reply(exc.key, **exc.params)
        except CommandError as exc:
            result = f"error:{exc.key}"
            await ctx.reply(exc.key, **exc.params)
        except Exception:
            result = "failed"
            log.exception("Command %r in %s failed", command.name, msg.room_id)
            await ctx.reply("error.internal")
        finally:
            if self._audit is not None and (command.role or ctx.privilege or command.audit):
                await self._audit.record(msg.sender, command.name, msg.room_id, msg.body, result)
        return True
