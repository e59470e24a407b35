"""What the roll-call service and its passes share: the store, the Matrix port, the
config, and the few helpers both speak with."""

from __future__ import annotations

from collections.abc import Callable

from bots.config import Config
from bots.config_rollcall import StaffingLevel
from bots.i18n import Catalog
from bots.matrix import content as mc
from bots.messenger import Messenger
from bots.provision.roster import StaffStore
from bots.rollcall.model import Answer, RollCall, Target
from bots.rollcall.store import RollCallStore


class RollCallBase:
    def __init__(
        self,
        store: RollCallStore,
        messenger: Messenger,
        catalog: Catalog,
        config: Config,
        staff: StaffStore,
    ) -> None:
        self.store = store
        self._messenger = messenger
        self._catalog = catalog
        self._config = config
        self._settings = config.rollcall
        #: the staff `yakuba provision` recorded (the same database as the roll calls')
        self._staff = staff

    def department_names(self, lang: str) -> dict[str, str]:
        names = {d.id: d.name.get(lang) for d in self._config.departments}
        names[""] = self._catalog.t(lang, "rollcall.department.none")
        return names

    def level(self, call: RollCall) -> StaffingLevel | None:
        return self._config.staffing.level(call.level) if call.level else None

    def _t(self, lang: str) -> Callable[..., str]:
        return lambda key, **params: self._catalog.t(lang, key, **params)

    async def _say(self, room_id: str, text: str, key: str, reply_to: str, user: str) -> None:
        await self._messenger.send(
            room_id, mc.message(text, reply_to=reply_to, mention_users=[user]), key
        )


def answer_of(target: Target) -> Answer:
    return Answer(target.safety, target.attendance, target.note)
