"""The task workflow plugged into a bot."""

from __future__ import annotations

from collections.abc import Callable

from bots.features import FeatureBase, Reaction, RelatedMessage
from bots.tasks.commands import task_commands
from bots.tasks.moves import MoveNotices
from bots.tasks.service import TaskService


class TaskFeature(FeatureBase):
    name = "tasks"

    def __init__(
        self, service: TaskService, clock: Callable[[], float], moves: MoveNotices | None = None
    ) -> None:
        super().__init__(clock)
        self.service = service
        self.moves = moves
        self.commands = task_commands(service, self.now)

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

    async def run_due(self) -> int:
        now = self.now()
        done = await self.service.run_due(now)
        if self.moves is not None:  # personnel moves: open tasks told to the leads
            done += await self.moves.run_due(now)
        return done
