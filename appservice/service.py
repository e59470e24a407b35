"""The application service: built once at start-up, runs beside the bots on one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from nio import RoomGetStateEventResponse, RoomInviteResponse, RoomPutStateResponse

from appservice.alertfeeds import AlertFeeds, alert_feature
from appservice.api import AppserviceApi
from appservice.delivery import Deliverer
from appservice.hooks import (
    MAX_BODY,
    HookError,
    ReceiptStore,
    Templates,
    message_content,
    parse_payload,
    task_fields,
)
from appservice.metrics import Metrics
from appservice.outbox import OutboxStore
from appservice.registration import load_tokens
from appservice.routing import OutboundRouter
from appservice.server import make_app
from appservice.signing import SignatureError, verify
from appservice.transactions import TransactionStore, body_hash
from appservice.virtual_users import VirtualUsers
from bots.alerts.feature import AlertFeature
from bots.alerts.xmlsafe import AlertParseError
from bots.bot import Bot
from bots.commands.errors import CommandError
from bots.config import Config
from bots.config_bridge import Hook, System
from bots.ids import server_of
from bots.store.database import Database, IntegrityError, Transaction
from bots.tasks.feature import TaskFeature

log = logging.getLogger(__name__)

NOTIFY_LEVEL = 50
ALERT_MAX_BODY = 5 * 1024 * 1024


class Appservice:
    def __init__(
        self,
        config: Config,
        db: Database,
        bots: Mapping[str, Bot],
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert config.appservice is not None, "no appservice section in the config"
        self.config = config
        self.settings = config.appservice
        self._db = db
        self._bots = bots
        self._clock = clock
        tokens = load_tokens(config, self.settings)
        self.hs_token = tokens.hs_token
        self._as_token = tokens.as_token
        self.metrics = Metrics()
        self.transactions = TransactionStore(db)
        self._receipts = ReceiptStore(db)
        self._templates = Templates()
        self.outbox = OutboxStore(db)
        self._hooks = {h.id: h for h in config.hooks}
        self._systems = {s.id: s for s in config.systems}
        self._queued = asyncio.Event()
        self._wake_outbox = asyncio.Event()
        self._aliases: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.last_worker_progress = clock()
        self.feeds: AlertFeeds | None = None
        for bot in bots.values():
            bot.event_listeners.append(self._on_bot_event)

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self.api = AppserviceApi(self.config.homeserver.url, self._as_token, self._session)
        self.virtual_users = VirtualUsers(
            self.api, self._db, self.config, self.settings, self._clock
        )
        self.router = OutboundRouter(
            self.config.outbound,
            self.outbox,
            self.resolve_room,
            self.virtual_users.owns,
            self.metrics,
            self._wake_outbox,
            self._clock,
            self.config.rollcall.gateway,
        )
        self.deliverer = Deliverer(
            self.outbox,
            {e.id: e for e in self.config.outbound.endpoints},
            self.config.outbound.retry,
            self._session,
            self._clock,
        )
        app = make_app(self, self.settings.max_transaction_bytes)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.listen.host, self.settings.listen.port)
        await site.start()
        log.info(
            "appservice %s listening on %s:%d",
            self.settings.id,
            self.settings.listen.host,
            self.settings.listen.port,
        )
        self._tasks = [
            asyncio.create_task(self._work_queue(), name="appservice:queue"),
            asyncio.create_task(self.deliverer.run_forever(self._wake_outbox), name="outbox"),
            asyncio.create_task(self._forward_task_events(), name="appservice:task-events"),
            asyncio.create_task(self._describe_rooms(), name="appservice:describe"),
        ]
        if self.config.alerts.feeds:
            self.feeds = AlertFeeds(
                self.config,
                self._session,
                self._bots,
                self.resolve_room,
                self.bot_in,
                self.metrics,
                self._clock,
                self._db,
            )
            await self.feeds.restore()
            self._tasks += self.feeds.start()
        await self.virtual_users.retry_pending()
        try:
            await self.api.ping(self.settings.id)
        except Exception as exc:  # Synapse retries on its own schedule then
            log.warning("appservice ping through the homeserver failed: %r", exc)

    @property
    def port(self) -> int:
        """The port actually bound (useful when config asks for port 0 in tests)."""
        assert self._runner is not None
        for site in self._runner.sites:
            server = getattr(site, "_server", None)
            if server is not None and server.sockets:
                return int(server.sockets[0].getsockname()[1])
        return self.settings.listen.port

    async def stop(self) -> None:
        if self.feeds is not None:
            self.feeds.stop()
            await self.feeds.save()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- transactions ----------------------------------------------------------------

    async def accept_transaction(self, txn_id: str, body: bytes, events: list[Any]) -> None:
        """Store durably; the caller answers 200 only after this returns."""
        accepted = await self.transactions.accept(
            txn_id, body_hash(body), events, int(self._clock() * 1000)
        )
        self.metrics.transactions.labels("replay" if accepted.replay else "accepted").inc()
        self.metrics.events.inc(accepted.queued)
        if accepted.skipped:
            log.warning("transaction %s: %d entries without an event id", txn_id, accepted.skipped)
        if accepted.queued:
            self._queued.set()

    async def _work_queue(self) -> None:
        while True:
            pending = await self.transactions.get_pending(100)
            if not pending:
                self._queued.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._queued.wait(), 5)
                self.last_worker_progress = self._clock()
                continue
            results = [(str(e["event_id"]), await self._handle_event(e)) for e in pending]
            await self.transactions.mark_handled(results, int(self._clock() * 1000))
            self.last_worker_progress = self._clock()

    async def _handle_event(self, event: dict[str, Any]) -> str | None:
        """Handle one queued event; the error text if it failed (it is not retried)."""
        event_id = str(event["event_id"])
        error: str | None = None
        try:
            if event.get("type") == "m.room.member":
                await self._on_membership(event)
            elif event.get("type") != "m.room.encrypted":  # bots read encrypted rooms
                await self.router.route_event(str(event.get("room_id", "")), event)
        except Exception as exc:  # one broken event never blocks the queue
            log.exception("event %s could not be handled", event_id)
            self.metrics.event_failures.inc()
            error = repr(exc)
        return error

    async def _on_membership(self, event: dict[str, Any]) -> None:
        """A system's virtual user invited by a user of an allowed homeserver joins."""
        content = event.get("content") or {}
        target = str(event.get("state_key", ""))
        system = self.virtual_users.system_for(target)
        if system is None or content.get("membership") != "invite":
            return
        inviter = str(event.get("sender", ""))
        try:
            allowed = server_of(inviter) in self.config.inviter_servers
        except ValueError:
            allowed = False
        if not allowed:
            log.warning("%s declined an invitation from %s", target, inviter)
            return
        await self.virtual_users.ensure_in_room(system, str(event["room_id"]))
        log.info("%s joined %s (invited by %s)", target, event["room_id"], inviter)

    async def _on_bot_event(self, room_id: str, event: dict[str, Any], encrypted: bool) -> None:
        """Events a bot decrypted: the appservice's users cannot read them themselves."""
        if encrypted and self._session is not None:
            await self.router.route_event(room_id, event)

    async def _forward_task_events(self) -> None:
        while True:
            try:
                tasks = await self.router.route_task_events(self._db)
                rollcall = await self.router.route_rollcall_events(self._db)
                if not tasks and not rollcall:
                    await asyncio.sleep(2)
            except Exception:
                log.exception("forwarding task or roll-call events failed")
                await asyncio.sleep(10)

    async def _describe_rooms(self) -> None:
        """Tell the operator, once the bots have synced, how each hook's room is served."""
        for _ in range(600):
            if all(b.sync_count > 0 for b in self._bots.values()):
                break
            await asyncio.sleep(0.1)
        for hook in self.config.hooks:
            try:
                room_id = await self.resolve_room(hook.room)
            except Exception as exc:
                log.warning("hook %s: cannot resolve %s: %r", hook.id, hook.room, exc)
                continue
            if room_id is None:
                log.warning("hook %s: room %s does not exist", hook.id, hook.room)
                continue
            bot = self.bot_in(room_id)
            room = bot.client.rooms.get(room_id) if bot else None
            if bot is not None and room is not None and room.encrypted:
                log.info(
                    "hook %s -> %s (%s): encrypted, posted by bot %s naming %s",
                    hook.id,
                    hook.room,
                    room_id,
                    bot.name,
                    hook.system,
                )
            else:
                log.info(
                    "hook %s -> %s (%s): %s, posted as %s",
                    hook.id,
                    hook.room,
                    room_id,
                    "unencrypted" if room is not None else "no yakuba bot there",
                    self.virtual_users.user_id(self._systems[hook.system]),
                )

    async def query_user(self, user_id: str) -> bool:
        system = self.virtual_users.system_for(user_id)
        if system is None:
            return False
        await self.virtual_users.ensure(system)
        return True

    # --- rooms -----------------------------------------------------------------------

    async def resolve_room(self, ref: str) -> str | None:
        if ref.startswith("!"):
            return ref
        if ref not in self._aliases:
            room_id = await self.api.resolve_alias(ref)
            if room_id is None:
                return None  # not cached: the alias may be created later
            self._aliases[ref] = room_id
        return self._aliases[ref]

    def bot_in(self, room_id: str) -> Bot | None:
        for name in sorted(self._bots):
            bot = self._bots[name]
            room = bot.client.rooms.get(room_id)
            if room is not None and bot.user_id in room.users:
                return bot
        return None

    async def _invite_via_bot(self, room_id: str, user_id: str) -> bool:
        bot = self.bot_in(room_id)
        if bot is None:
            return False
        response = await bot.client.room_invite(room_id, user_id)
        return isinstance(response, RoomInviteResponse)

    async def _grant_power_via_bot(self, room_id: str, user_id: str, level: int) -> None:
        bot = self.bot_in(room_id)
        if bot is None:
            log.warning(
                "no yakuba bot in %s to raise %s to power level %d", room_id, user_id, level
            )
            return
        current = await bot.client.room_get_state_event(room_id, "m.room.power_levels")
        if not isinstance(current, RoomGetStateEventResponse):
            return
        content = dict(current.content)
        users = dict(content.get("users") or {})
        if int(users.get(user_id, 0)) >= level:
            return
        users[user_id] = level
        content["users"] = users
        result = await bot.client.room_put_state(room_id, "m.room.power_levels", content)
        if not isinstance(result, RoomPutStateResponse):
            log.warning("bot %s may not raise %s in %s: %s", bot.name, user_id, room_id, result)

    # --- inbound hooks ---------------------------------------------------------------

    async def handle_hook(
        self, hook_id: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        hook = self._hooks.get(hook_id)
        if hook is None:
            raise HookError(404, "M_NOT_FOUND", f"no hook {hook_id!r}")
        try:
            webhook_id = verify([s.get() for s in hook.secrets], headers, body, self._clock())
        except SignatureError as exc:
            raise HookError(401, "M_UNAUTHORIZED", f"signature rejected: {exc.code}") from None
        if await self._receipts.seen(hook.id, webhook_id):
            return {"status": "duplicate"}
        if hook.action == "alert":
            return await self._hook_alert(hook, webhook_id, body)
        payload = parse_payload(body)
        system = self._systems[hook.system]
        # the input is checked in full before anything is looked up, stored or sent
        rendered = self._templates.render(hook, payload) if hook.action == "message" else None
        room_id = await self.resolve_room(hook.room)
        if room_id is None:
            raise HookError(503, "M_NOT_FOUND", f"the hook's room {hook.room} does not exist")
        if rendered is None:
            return await self._hook_task(hook, system, room_id, webhook_id, payload)
        key = f"hook:{hook.id}:{webhook_id}"
        bot = self.bot_in(room_id)
        room = bot.client.rooms.get(room_id) if bot else None
        if bot is not None and room is not None and room.encrypted:
            # the virtual user cannot encrypt: a bot posts it, naming the system
            content = message_content(hook, rendered, prefix=system.display_name)
            event_id = await bot.messenger.send(room_id, content, key)
        else:
            await self._prepare_virtual_user(system, room_id, hook)
            event_id = await self.virtual_users.send(
                system, room_id, message_content(hook, rendered), key
            )
        await self._receipts.first_time(hook.id, webhook_id, int(self._clock() * 1000))
        if event_id is None:
            return {"status": "queued"}
        return {"status": "sent", "event_id": event_id}

    async def _hook_alert(self, hook: Hook, webhook_id: str, body: bytes) -> dict[str, Any]:
        """CAP or JMA XML from an internal system (e.g. the disaster-information system)."""
        feature = self._alert_feature()
        if feature is None:
            raise HookError(503, "M_UNKNOWN", "no bot serves the alerts feature")
        try:
            outcomes = await feature.service.ingest_document(
                body, datetime.fromtimestamp(self._clock(), UTC)
            )
        except AlertParseError as exc:
            raise HookError(422, "M_BAD_XML", str(exc)) from None
        await self._receipts.first_time(hook.id, webhook_id, int(self._clock() * 1000))
        results = [{"result": o.result, "rooms": o.rooms, "reason": o.reason} for o in outcomes]
        return {"status": "ok", "alerts": results}

    def _alert_feature(self) -> AlertFeature | None:
        return alert_feature(self._bots)

    def body_limit(self, hook_id: str) -> int:
        """Webhook JSON up to 256 KiB; alert XML (JMA documents are large) up to 5 MiB."""
        hook = self._hooks.get(hook_id)
        return ALERT_MAX_BODY if hook is not None and hook.action == "alert" else MAX_BODY

    async def _prepare_virtual_user(self, system: System, room_id: str, hook: Hook) -> None:
        await self.virtual_users.ensure_in_room(system, room_id, self._invite_via_bot)
        if system.notify_room or hook.mention_room:
            await self._grant_power_via_bot(
                room_id, self.virtual_users.user_id(system), NOTIFY_LEVEL
            )

    async def _hook_task(
        self, hook: Hook, system: System, room_id: str, webhook_id: str, payload: Any
    ) -> dict[str, Any]:
        feature = next(
            (f for b in self._bots.values() for f in b.features if isinstance(f, TaskFeature)),
            None,
        )
        if feature is None:
            raise HookError(503, "M_UNKNOWN", "no bot serves the tasks feature")
        title, assignees, due, priority = task_fields(payload, feature.service.max_title)

        async def record(tx: Transaction) -> None:
            await tx.execute(
                "INSERT INTO webhook_receipts (hook_id, webhook_id, received_at) VALUES (?, ?, ?)",
                (hook.id, webhook_id[:200], int(self._clock() * 1000)),
            )

        now = datetime.fromtimestamp(self._clock(), UTC)
        try:
            task = await feature.service.add_from_system(
                room_id,
                self.virtual_users.user_id(system),
                title,
                assignees,
                due,
                priority,
                now,
                also=record,
            )
        except CommandError as exc:
            raise HookError(400, "M_INVALID_PARAM", exc.key) from None
        except IntegrityError:  # the same webhook-id raced in: stored once
            return {"status": "duplicate"}
        return {"status": "created", "task": task.number}

    # --- operations ------------------------------------------------------------------

    async def readiness(self) -> list[str]:
        """What is stalled beyond the configured limits (empty when ready)."""
        problems = []
        now = self._clock()
        stall = self.settings.ready
        for name, bot in sorted(self._bots.items()):
            last = await bot.last_sync_at()
            if last is None or now - last > stall.sync_stall.total_seconds():
                problems.append(f"bot {name} has not synced for over {stall.sync_stall}")
        limit = stall.outbox_stall.total_seconds()
        oldest = await self.outbox.oldest_pending_since()
        progress = self.deliverer.last_progress_at
        waiting = oldest is not None and now - oldest.timestamp() > limit
        if waiting and (progress is None or now - progress > limit):
            problems.append(f"the outbox has not moved for over {stall.outbox_stall}")
        if now - self.last_worker_progress > stall.outbox_stall.total_seconds():
            problems.append("the transaction queue worker is stalled")
        for feed in self.feeds.poller.status() if self.feeds else []:
            if feed.alarm:
                problems.append(f"alert feed {feed.feed_id} is stalled ({feed.last_error})")
        return problems

    async def refresh_gauges(self) -> None:
        now = self._clock()
        self.metrics.queue_depth.labels("transactions").set(await self.transactions.pending_count())
        self.metrics.queue_depth.labels("outbox").set(await self.outbox.pending_count())
        self.metrics.dead_letters.set(len(await self.outbox.list_entries("dead", limit=10_000)))
        for name, bot in self._bots.items():
            last = await bot.last_sync_at()
            if last is not None:
                self.metrics.bot_sync_age.labels(name).set(max(0.0, now - last))
