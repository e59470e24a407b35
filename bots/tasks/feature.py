"""The task workflow plugged into a bot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bots.features import Reaction, RelatedMessage
from bots.tasks.commands import task_commands
from bots.tasks.service import TaskService


class TaskFeature:
    name = "tasks"

    def __init__(self, service: TaskService, clock: Callable[[], float]) -> None:
        self.service = service
        self._clock = clock
        self.commands = task_commands(service, self.now)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def on_reaction(self, reaction: Reaction) -> None:
        await self.service.on_reaction(
            reaction.room_id, reaction.sender, reaction.target, reaction.key, self.now()
        )

    async def on_related_message(self, message: RelatedMessage) -> None:
        root = message.thread_root or message.in_reply_to
        if root is not None:
            await self.service.on_thread_reply(
                message.room_id, message.sender, root, message.text, message.event_id, self.now()
            )

    async def on_timeline(self, room_id: str, event_id: str) -> None:
        return None

    async def on_receipt(self, room_id: str, user_id: str, event_id: str) -> None:
        return None

    async def run_due(self) -> int:
        return await self.service.run_due(self.now())
