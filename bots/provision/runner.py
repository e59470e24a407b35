"""One provisioning: read what Synapse and the roster hold, plan, and (unless a dry run)
apply. `appservice.provision_cli` prints it; the integration tests drive it directly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bots.audit import AuditLog
from bots.config import Config
from bots.i18n import Catalog
from bots.provision.apply import Applier, Outcome
from bots.provision.model import Account, Actual, OrgChart, Person, Plan, RoomState, RosterEntry
from bots.provision.org import org_chart
from bots.provision.plan import plan
from bots.provision.render import PlanText
from bots.provision.roster import StaffStore
from bots.provision.synapse_admin import SynapseAdmin
from bots.store.database import Database

#: Synapse requests made at the same time while reading
READ_CONCURRENCY = 16
#: more leavers than this share of the roster (and than MIN_MANY) needs --allow-many-leavers:
#: a truncated export must not deactivate half the city hall
MANY_LEAVERS_SHARE = 0.1
MIN_MANY = 3


@dataclass(frozen=True)
class Prepared:
    org: OrgChart
    people: tuple[Person, ...]
    actual: Actual
    plan: Plan
    #: user -> name, from the staff list and the roster (for the text only)
    names: dict[str, str]

    @property
    def too_many_leavers(self) -> bool:
        active = sum(e.active for e in self.actual.roster)
        leavers = self.plan.leavers
        return leavers > MIN_MANY and leavers > active * MANY_LEAVERS_SHARE

    def text(self, catalog: Catalog, lang: str) -> PlanText:
        return PlanText(lambda key, **p: catalog.t(lang, key, **p), lang, self.org, self.names)


def managed_rooms(org: OrgChart) -> list[str]:
    refs = {ref for d in org.departments for ref in d.rooms}
    refs |= {ref for refs in org.role_rooms.values() for ref in refs}
    if org.space_alias:
        refs.add(org.space_alias)
    return sorted(refs)


def named_users(org: OrgChart, people: Iterable[Person], roster: Iterable[RosterEntry]) -> set[str]:
    users = {p.user_id for p in people} | {e.person.user_id for e in roster}
    for department in org.departments:
        users |= {*department.leads, *department.staff}
    for holders in org.role_users.values():
        users |= set(holders)
    return users | set(org.bots)


async def read_actual(
    admin: SynapseAdmin, org: OrgChart, people: Sequence[Person], roster: Sequence[RosterEntry]
) -> Actual:
    gate = asyncio.Semaphore(READ_CONCURRENCY)

    async def room(ref: str) -> tuple[str, RoomState | None]:
        async with gate:
            room_id = ref if ref.startswith("!") else await admin.resolve(ref)
            return ref, await admin.room_state(room_id) if room_id else None

    async def account(user: str) -> tuple[str, Account]:
        async with gate:
            return user, await admin.account(user)

    rooms = await asyncio.gather(*(room(ref) for ref in managed_rooms(org)))
    users = sorted(named_users(org, people, roster) - {org.admin})
    accounts = await asyncio.gather(*(account(user) for user in users))
    return Actual(rooms=dict(rooms), accounts=dict(accounts), roster=tuple(roster))


async def prepare(
    config: Config, people: Sequence[Person], db: Database, admin: SynapseAdmin
) -> Prepared:
    """Read Synapse and the roster and plan; `admin` must have passed `check_admin`."""
    org = org_chart(config, admin=admin.user_id)
    roster = await StaffStore(db).entries()
    actual = await read_actual(admin, org, people, roster)
    names = {e.person.user_id: e.person.name for e in roster}
    names.update({p.user_id: p.name for p in people})
    return Prepared(org, tuple(people), actual, plan(org, people, actual), names)


async def apply(
    prepared: Prepared,
    config: Config,
    db: Database,
    admin: SynapseAdmin,
    catalog: Catalog,
    clock: Callable[[], float],
) -> list[Outcome]:
    """Carry out the plan; every change recorded in the audit log."""
    lang = config.language
    text = prepared.text(catalog, lang)
    applier = Applier(
        admin,
        StaffStore(db),
        prepared.org,
        clock,
        audit=AuditLog(db, clock),
        detail=text.action,
        kick_reason=lambda why: catalog.t(lang, f"provision.kick_reason.{why}"),
    )
    return await applier.apply(prepared.plan.actions)
