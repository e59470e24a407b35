"""Configuration of the application service: its registration, the internal systems it
speaks for (virtual users), inbound webhooks and outbound webhook rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from bots.config_errors import fail
from bots.config_types import Duration, Model, RoomRef, checks, name_pattern
from bots.secrets import Secret

Ident = Annotated[str, name_pattern(r"[a-z][a-z0-9_-]{0,39}", "an id")]
LocalpartPrefix = Annotated[str, name_pattern(r"_?[a-z0-9._=-]{1,30}", "a localpart prefix")]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"expected an http:// or https:// URL, got {value!r}")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class Listen(Model):
    host: str = "127.0.0.1"
    port: int = Field(default=9010, ge=1, le=65535)


class Readiness(Model):
    """/ready fails when a bot has not synced, or the outbox not moved, for this long."""

    sync_stall: Duration = timedelta(minutes=5)
    outbox_stall: Duration = timedelta(minutes=10)


class AppserviceSettings(Model):
    id: Ident = "yakuba"
    #: where Synapse reaches the appservice
    url: HttpUrl = "http://127.0.0.1:9010"
    listen: Listen = Listen()
    #: the appservice's own user (`@<sender_localpart>:server`)
    sender_localpart: LocalpartPrefix = "_yakuba_bridge"
    #: the exclusive user namespace: `@<user_prefix>.*`
    user_prefix: LocalpartPrefix = "_yakuba_"
    #: tokens shared with Synapse; generated into data_dir on first use when left out
    as_token: Secret | None = None
    hs_token: Secret | None = None
    ready: Readiness = Readiness()
    #: largest transaction body accepted from Synapse (a 413 would stall its queue)
    max_transaction_bytes: int = Field(default=64 * 1024 * 1024, ge=16 * 1024 * 1024)


class System(Model):
    """An internal system (ticketing, facility booking, …): one virtual user."""

    id: Ident
    display_name: str
    avatar_url: str | None = None  # mxc://…
    #: power level 50 in its rooms, so its messages may notify the whole room
    notify_room: bool = False

    @field_validator("avatar_url")
    @classmethod
    def _mxc(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("mxc://"):
            raise fail(f"expected an mxc:// URL, got {value!r}")
        return value


class Template(Model):
    """Jinja2 templates (sandboxed) over the webhook's JSON, available as `payload`."""

    body: str
    html: str | None = None


class Hook(Model):
    """`POST /hooks/{id}`, signed per the Standard Webhooks spec."""

    id: Ident
    system: Ident
    room: RoomRef
    #: several secrets while one is being rotated; each `whsec_<base64>` or plain text
    secrets: tuple[Secret, ...] = Field(min_length=1)
    #: message: post the template; task: create a task; alert: the body is CAP or JMA XML
    action: Literal["message", "task", "alert"] = "message"
    template: Template | None = None
    mention_room: bool = False

    @field_validator("system")
    @classmethod
    def _known_system(cls, value: str, info: ValidationInfo) -> str:
        known = checks(info).system_ids
        if known is not None and value not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise fail(f"unknown system {value!r} (configured systems: {listed})")
        return value

    @model_validator(mode="after")
    def _template_for_messages(self) -> Hook:
        if self.action == "message" and self.template is None:
            raise fail("a hook with action 'message' needs a template")
        return self


class Endpoint(Model):
    id: Ident
    url: HttpUrl
    secret: Secret
    timeout: Duration = timedelta(seconds=10)


class OutboundRule(Model):
    endpoint: Ident
    rooms: tuple[RoomRef, ...] = ()
    event_types: tuple[str, ...] = ("m.room.message",)
    #: only messages whose body starts with this (e.g. "!ticket")
    prefix: str | None = None
    #: also forward the task workflow's events (created, assigned, done, …)
    task_events: bool = False


class RetryPolicy(Model):
    max_attempts: int = Field(default=8, ge=1, le=100)
    base_delay: Duration = timedelta(seconds=2)
    max_delay: Duration = timedelta(minutes=10)


class Outbound(Model):
    endpoints: tuple[Endpoint, ...] = ()
    rules: tuple[OutboundRule, ...] = ()
    retry: RetryPolicy = RetryPolicy()

    @model_validator(mode="after")
    def _known_endpoints(self) -> Outbound:
        ids = [e.id for e in self.endpoints]
        if len(set(ids)) != len(ids):
            raise fail("endpoint ids must be unique")
        for rule in self.rules:
            if rule.endpoint not in ids:
                raise fail(f"rule names endpoint {rule.endpoint!r}, which is not configured")
        return self
