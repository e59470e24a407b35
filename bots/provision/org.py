"""The org chart and the staff list's format, from the configuration."""

from __future__ import annotations

from bots.config import Config
from bots.config_provision import ProvisionSettings
from bots.provision.model import DEFAULT_POWER, Dept, OrgChart
from bots.provision.staffcsv import ListFormat, department_names

ROLES = tuple(DEFAULT_POWER)


def settings_of(config: Config) -> ProvisionSettings:
    if config.provisioning is None:
        raise ValueError("the configuration has no 'provisioning' section")
    return config.provisioning


def org_chart(config: Config, admin: str = "") -> OrgChart:
    settings = settings_of(config)
    power = {}
    for role in ROLES:
        configured = config.role(role).power_level
        power[role] = settings.power_levels.get(
            role, configured if configured is not None else DEFAULT_POWER[role]
        )
    return OrgChart(
        server_name=config.homeserver.server_name,
        departments=tuple(
            Dept(
                id=d.id,
                name=d.name.ja,
                name_en=d.name.en or "",
                rooms=d.rooms,
                leads=d.leads,
                staff=d.staff,
            )
            for d in config.departments
        ),
        space_alias=settings.space.alias if settings.space else None,
        space_name=settings.space.name if settings.space else "",
        space_topic=settings.space.topic if settings.space else None,
        encrypted=settings.encrypted,
        room_names=dict(settings.room_names),
        role_rooms=dict(settings.role_rooms),
        role_users={role: config.role(role).users for role in ROLES},
        power=power,
        bots={bot.user_id: bot.rooms for bot in config.bots.values()},
        deactivate_leavers=settings.deactivate_leavers,
        admin=admin,
    )


def list_format(config: Config) -> ListFormat:
    settings = settings_of(config)
    return ListFormat(
        server_name=config.homeserver.server_name,
        departments=department_names(
            [(d.id, d.name.ja, d.name.en) for d in config.departments],
            settings.department_names,
        ),
        columns=settings.columns,
        role_words=settings.role_words,
        encoding=settings.encoding,
    )
