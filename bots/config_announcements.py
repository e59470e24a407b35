"""Configuration of announcements (お知らせ): groups of rooms, pins and reminders."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from bots.config_types import Duration, Model, RoomRef, UserId, name_pattern

GroupId = Annotated[str, name_pattern(r"[a-z][a-z0-9_-]{0,39}", "a group id")]


class GroupName(Model):
    ja: str
    en: str | None = None

    def get(self, language: str) -> str:
        return self.en if language == "en" and self.en else self.ja


class AnnouncementGroup(Model):
    """Rooms an announcement can go to at once, and who may publish to them."""

    id: GroupId
    name: GroupName
    #: the rooms of these departments
    departments: tuple[str, ...] = ()
    #: and these rooms
    rooms: tuple[RoomRef, ...] = ()
    #: and every room of this space (its m.space.child rooms)
    space: RoomRef | None = None
    #: who may publish to the group (administrators always may)
    announcers: tuple[UserId, ...] = ()
    #: Japanese and English names people may type after `to:` / `宛先:`
    aliases: tuple[str, ...] = ()


class AnnouncementSettings(Model):
    groups: tuple[AnnouncementGroup, ...] = ()
    #: announcement pins per room at most; the oldest is unpinned for a new one
    max_pins: int = Field(default=3, ge=1, le=20)
    #: remind those who have not acknowledged, this often
    remind_every: Duration = timedelta(days=1)
    #: after this many reminders, their department's leads are told
    reminders_before_lead: int = Field(default=2, ge=1, le=20)
    #: longest title and body, in characters
    max_title_length: int = Field(default=200, ge=10, le=1000)
    max_body_length: int = Field(default=20_000, ge=100, le=60_000)
