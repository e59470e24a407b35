"""What a command handler gets: who, where, in which language, and how to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bots.commands.errors import PermissionDenied
from bots.commands.router import Command, Role
from bots.i18n import Catalog
from bots.matrix import content as mc

#: outbox.send(room_id, content, key) -> event id (None if it is queued for a retry)
SendFn = Callable[[str, dict[str, Any], str], Awaitable[str | None]]
#: has_role(user_id, room_id, role)
RoleCheck = Callable[[str, str, Role], Awaitable[bool]]


@dataclass
class CommandContext:
    bot_name: str
    bot_user_id: str
    room_id: str
    sender: str
    event_id: str
    lang: str
    catalog: Catalog
    send: SendFn
    role_check: RoleCheck
    #: the commands of every yakuba bot in this room (for !help)
    room_commands: Sequence[Command] = ()
    #: users the message mentions (m.mentions.user_ids)
    mentions: Sequence[str] = ()
    #: the whole command text, line breaks kept (for commands with a multi-line body)
    text: str = ""
    #: the event the command replies to, and the thread it was sent in
    reply_to: str | None = None
    thread_root: str | None = None
    #: milliseconds between the command's origin_server_ts and its handling
    latency_ms: int | None = None
    #: the role a privileged action of this command asked for (set by `require`): such
    #: commands are written to the audit log, allowed or not
    privilege: Role | None = field(default=None, init=False)
    _sent: int = field(default=0, init=False)

    def t(self, key: str, /, **params: Any) -> str:
        return self.catalog.t(self.lang, key, **params)

    async def has_role(self, role: Role) -> bool:
        return await self.role_check(self.sender, self.room_id, role)

    async def require(self, role: Role) -> None:
        self.privilege = role
        if not await self.has_role(role):
            raise PermissionDenied("error.permission", role=self.t(f"role.{role.value}"))

    async def reply_content(self, content: dict[str, Any]) -> str | None:
        """Send a reply; its ledger key is the command event and the reply's position."""
        key = f"reply:{self.bot_user_id}:{self.event_id}:{self._sent}"
        self._sent += 1
        return await self.send(self.room_id, content, key)

    async def reply(self, key: str, /, **params: Any) -> str | None:
        return await self.reply_text(self.t(key, **params))

    async def reply_text(self, text: str, html: str | None = None) -> str | None:
        # a reply mentions the sender of what it replies to, as the spec asks of replies
        content = mc.message(
            text, html_body=html, reply_to=self.event_id, mention_users=[self.sender]
        )
        return await self.reply_content(content)
