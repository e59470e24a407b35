"""The plan as text (the dry run, the run's report), in Japanese or English."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bots.provision.model import (
    Action,
    AddToSpace,
    CreateRoom,
    Deactivate,
    EnableEncryption,
    Invite,
    Kick,
    Note,
    Notify,
    OrgChart,
    Person,
    RosterAdd,
    RosterRemove,
    RosterUpdate,
    SetName,
    SetPower,
)

T = Callable[..., str]


class PlanText:
    """Sentences for actions and notes; people shown as 'name (@user:server)'."""

    def __init__(self, t: T, lang: str, org: OrgChart, names: Mapping[str, str]) -> None:
        self._t = t
        self._lang = lang
        self._org = org
        self._names = names

    def who(self, user: str) -> str:
        name = self._names.get(user)
        return f"{name} ({user})" if name else user

    def department(self, department_id: str | None) -> str:
        return self._org.department_name(department_id, self._lang)

    def _why(self, why: str) -> str:
        return self._t(f"provision.why.{why}") if why else ""

    def action(self, action: Action) -> str:
        t = self._t
        match action:
            case CreateRoom(space=True):
                return t("provision.action.create_space", room=action.room, name=action.name)
            case CreateRoom(encrypted=True):
                return t(
                    "provision.action.create_room_encrypted", room=action.room, name=action.name
                )
            case CreateRoom():
                return t("provision.action.create_room", room=action.room, name=action.name)
            case SetName():
                previous = action.previous if action.previous is not None else "-"
                return t(
                    "provision.action.set_name",
                    room=action.room,
                    name=action.name,
                    previous=previous,
                )
            case EnableEncryption():
                return t("provision.action.enable_encryption", room=action.room)
            case AddToSpace():
                return t("provision.action.add_to_space", room=action.room, space=action.space)
            case Invite():
                return t(
                    "provision.action.invite",
                    who=self.who(action.user),
                    room=action.room,
                    why=self._why(action.why),
                )
            case SetPower(level=None):
                return t(
                    "provision.action.remove_power",
                    who=self.who(action.user),
                    room=action.room,
                    previous=action.previous,
                )
            case SetPower():
                return t(
                    "provision.action.set_power",
                    who=self.who(action.user),
                    room=action.room,
                    previous=action.previous,
                    level=action.level,
                )
            case Kick():
                return t(
                    "provision.action.kick",
                    who=self.who(action.user),
                    room=action.room,
                    why=self._why(action.why),
                )
            case Deactivate():
                return t("provision.action.deactivate", who=self.who(action.user))
            case RosterAdd():
                return t(
                    "provision.action.roster_add",
                    who=self.who(action.person.user_id),
                    number=action.person.employee_number,
                    department=self.department(action.person.department),
                    roles=self._roles(action.person),
                )
            case RosterUpdate():
                key = "roster_reactivate" if action.reactivated else "roster_update"
                return t(
                    f"provision.action.{key}",
                    who=self.who(action.person.user_id),
                    number=action.person.employee_number,
                    changes=self._changes(action.before, action.person),
                )
            case RosterRemove():
                return t(
                    "provision.action.roster_remove",
                    who=self.who(action.person.user_id),
                    number=action.person.employee_number,
                    department=self.department(action.person.department),
                )
            case Notify(to_department=None):
                return t(
                    "provision.action.notify_leave",
                    who=self.who(action.person.user_id),
                    source=self.department(action.from_department),
                )
            case Notify():
                return t(
                    "provision.action.notify_move",
                    who=self.who(action.person.user_id),
                    source=self.department(action.from_department),
                    target=self.department(action.to_department),
                )
        raise AssertionError(f"unknown action {action!r}")

    def _roles(self, person: Person) -> str:
        if not person.roles:
            return ""
        names = "・".join(self._t(f"provision.role.{r}") for r in person.roles)
        return self._t("provision.roles", roles=names)

    def _changes(self, before: Person, after: Person) -> str:
        t = self._t
        parts = []
        if before.department != after.department:
            parts.append(
                t(
                    "provision.change.department",
                    before=self.department(before.department),
                    after=self.department(after.department),
                )
            )
        if before.roles != after.roles:
            none = t("provision.role.none")
            parts.append(
                t(
                    "provision.change.roles",
                    before="・".join(t(f"provision.role.{r}") for r in before.roles) or none,
                    after="・".join(t(f"provision.role.{r}") for r in after.roles) or none,
                )
            )
        if before.user_id != after.user_id:
            parts.append(t("provision.change.user", before=before.user_id, after=after.user_id))
        if before.name != after.name or before.kana != after.kana:
            parts.append(t("provision.change.name", before=before.name, after=after.name))
        return ", ".join(parts) if self._lang == "en" else "、".join(parts)

    def note(self, note: Note) -> str:
        params = dict(note.params)
        if "user" in params:
            params["user"] = self.who(params["user"])
        return self._t(f"provision.note.{note.key}", **params)
