"""Declaring commands and finding the one a message asks for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bots.commands.arguments import Arg
from bots.commands.errors import UsageError
from bots.commands.parsing import normalise_name

if TYPE_CHECKING:
    from bots.commands.context import CommandContext

Handler = Callable[..., Awaitable[None]]


class Role(StrEnum):
    LEAD = "lead"
    ANNOUNCER = "announcer"
    DISASTER_OFFICER = "disaster_officer"
    ADMIN = "admin"


@dataclass(frozen=True)
class Command:
    name: str  # canonical English name, words separated by spaces: "task add"
    aliases: tuple[str, ...]  # other names, Japanese first: ("タスク 追加",)
    help: str  # catalog key
    args: tuple[Arg, ...]
    role: Role | None
    handler: Handler
    #: answered by only one bot when several yakuba bots in the room have it (!help)
    once_per_room: bool = False
    #: written to the audit log even without a role (exports)
    audit: bool = False

    @property
    def names(self) -> tuple[tuple[str, ...], ...]:
        return tuple(
            tuple(normalise_name(w) for w in n.split()) for n in (self.name, *self.aliases)
        )

    def usage(self, lang: str, t: Callable[[str], str]) -> str:
        shown = self.aliases[0] if lang == "ja" and self.aliases else self.name
        parts = [f"!{shown}", *(a.usage(t) for a in self.args)]
        return " ".join(parts)

    def parse_args(self, words: list[str], mentions: Sequence[str]) -> dict[str, Any]:
        remaining = list(words)
        values = {arg.name: arg.take(remaining, mentions) for arg in self.args}
        if remaining:
            raise UsageError("error.extra_arguments", extra=" ".join(remaining))
        return values


@dataclass
class CommandSet:
    """The commands of one feature (tasks, announcements, …), declared with `@command`."""

    feature: str
    commands: list[Command] = field(default_factory=list)

    def command(
        self,
        name: str,
        *,
        aliases: Iterable[str] = (),
        help: str,
        args: Iterable[Arg] = (),
        role: Role | None = None,
        once_per_room: bool = False,
        audit: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.commands.append(
                Command(
                    name, tuple(aliases), help, tuple(args), role, handler, once_per_room, audit
                )
            )
            return handler

        return register


def find_command(
    commands: Iterable[Command], words: Sequence[str]
) -> tuple[Command, list[str]] | None:
    """The command whose name matches the most leading words, and the remaining words."""
    normalised = [normalise_name(w) for w in words]
    best: tuple[Command, int] | None = None
    for command in commands:
        for name in command.names:
            n = len(name)
            if tuple(normalised[:n]) == name and (best is None or n > best[1]):
                best = (command, n)
    if best is None:
        return None
    return best[0], list(words[best[1] :])


async def run_command(
    command: Command, ctx: CommandContext, words: list[str], mentions: Sequence[str]
) -> None:
    if command.role is not None:
        await ctx.require(command.role)
    values = command.parse_args(words, mentions)
    await command.handler(ctx, **values)
