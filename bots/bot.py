"""One bot account at work: log in, keep its keys, sync, and hand commands to the
dispatcher, each exactly once (also those that arrived while it was down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    InviteMemberEvent,
    JoinError,
    MegolmEvent,
    MessageDirection,
    ReactionEvent,
    ReceiptEvent,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    SyncResponse,
    UnknownEvent,
)

from bots.audit import AuditLog
from bots.commands.builtin import builtin
from bots.commands.dispatcher import Dispatcher, IncomingMessage
from bots.commands.parsing import command_text, is_command
from bots.commands.router import Command
from bots.config import Config
from bots.features import Feature, Reaction, RelatedMessage, RoomEvent, relation
from bots.i18n import Catalog
from bots.matrix.crosssigning import KeyFile
from bots.matrix.messenger import MatrixMessenger
from bots.matrix.outbox import Outbox
from bots.matrix.roomstate import RoomState
from bots.matrix.session import StartupError, log_in, make_client, prepare_encryption
from bots.matrix.undecryptable import MIN_SYNCS, UndecryptableMessages
from bots.permissions import Permissions
from bots.store.database import Database
from bots.store.events import EventStore
from bots.store.ledger import SendLedger
from bots.store.sessions import SessionStore

log = logging.getLogger(__name__)

#: handled events are remembered this long (a stored sync position never goes back)
HANDLED_KEPT_S = 30 * 24 * 3600
PRUNE_EVERY_S = 3600

SYNC_TIMEOUT_MS = 30_000
#: each room's timeline in /sync; a longer gap is fetched with /messages
TIMELINE_LIMIT = 50


EventListener = Callable[[str, dict[str, Any], bool], Awaitable[None]]
#: builds a feature for a bot (its messenger and permissions are ready by then)
FeatureFactory = Callable[["Bot"], Feature]


@dataclass
class BotDirectory:
    """The yakuba bots of this installation and their commands (for !help and routing)."""

    commands_by_user: dict[str, list[Command]] = field(default_factory=dict)

    def commands_in_room(self, members: Sequence[str]) -> list[Command]:
        found: list[Command] = []
        for user_id in sorted(self.commands_by_user):
            if user_id in members:
                found.extend(self.commands_by_user[user_id])
        return found


class Bot:
    def __init__(
        self,
        name: str,
        config: Config,
        db: Database,
        catalog: Catalog,
        features: Sequence[FeatureFactory],
        directory: BotDirectory,
        clock: Callable[[], float] = time.time,
        undecryptable_grace_s: float = 10.0,
    ) -> None:
        self.name = name
        self.config = config
        self.bot_config = config.bots[name]
        self.user_id = self.bot_config.user_id
        self._clock = clock
        self.undecryptable_grace_s = undecryptable_grace_s
        #: and at least this many syncs (a key may come a sync or two after its message)
        self.undecryptable_min_syncs = MIN_SYNCS
        self._sessions = SessionStore(db)
        self._events = EventStore(db)
        store_dir = config.data_dir / "bots" / name
        pickle_key = self.bot_config.pickle_key.get()
        self.client: AsyncClient = make_client(
            config.homeserver.url, self.user_id, store_dir / "e2ee", pickle_key
        )
        self._key_file = KeyFile(store_dir / "cross_signing.keys", pickle_key)
        ledger = SendLedger(db)
        self.outbox = Outbox(self.client, ledger, clock)
        self.messenger = MatrixMessenger(self.client, self.outbox, ledger, db, name, clock)
        self.room_state = RoomState(self.client, config)
        self.audit = AuditLog(db, clock)
        self.permissions = Permissions(config, self.room_state.power, self.room_state.names)
        self.features: list[Feature] = [make(self) for make in features]
        commands = [*builtin.commands]
        for feature in self.features:
            commands.extend(feature.commands.commands)
        self.directory = directory
        directory.commands_by_user[self.user_id] = list(commands)
        self.dispatcher = Dispatcher(
            name,
            self.user_id,
            commands,
            catalog,
            config.language_for,
            self._events,
            self.outbox.send,
            self.permissions.has_role,
            clock,
            self.audit,
        )
        self._catalog = catalog
        self.catalog = catalog
        self._http: aiohttp.ClientSession | None = None
        self.undecryptable = UndecryptableMessages(
            name, self.client, self._events, self.outbox, catalog, config, clock
        )
        self._stopping = asyncio.Event()
        self._due_lock = asyncio.Lock()
        self.started = False
        #: called with (room_id, event source, was it encrypted) for each event the bot
        #: sees after joining, decrypted where it could be (the appservice's outbound rules)
        self.event_listeners: list[EventListener] = []
        self.sync_count = 0
        self._pruned_at = float("-inf")
        self.synced = asyncio.Condition()

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, make the device trusted, and join the configured rooms."""
        self._http = aiohttp.ClientSession()
        password = self.bot_config.password.get()
        try:
            await log_in(
                self.client,
                self.name,
                self.user_id,
                self._sessions,
                password,
                f"yakuba {self.name}",
            )
            await prepare_encryption(self.client, self._http, self._key_file, password)
        except (aiohttp.ClientError, OSError) as exc:
            raise StartupError(
                f"bot {self.name}: cannot reach the homeserver at {self.config.homeserver.url} "
                f"(check homeserver.url): {exc.__class__.__name__}"
            ) from exc
        await self._set_display_name()
        for index, ref in enumerate(self.bot_config.rooms):
            response = await self.client.join(ref)
            if isinstance(response, JoinError):
                log.error(
                    "bot %s cannot join %s (bots.%s.rooms[%d]): %s",
                    self.name,
                    ref,
                    self.name,
                    index,
                    response.message,
                )
        await self.outbox.retry_pending()
        self.started = True

    async def last_sync_at(self) -> float | None:
        """When this bot last synced successfully (seconds), from the store."""
        session = await self._sessions.get_session(self.name)
        if session is None or session.last_sync_at is None:
            return None
        return session.last_sync_at / 1000

    async def run_due(self) -> int:
        """What the scheduler calls: each feature does what is due now (the store decides)."""
        if not self.started or self._stopping.is_set():
            return 0
        done = 0
        async with self._due_lock:  # close() waits for a run in progress
            await self._prune_handled()
            for feature in self.features:
                try:
                    done += await feature.run_due()
                except Exception:
                    log.exception("bot %s: %s could not do what is due", self.name, feature.name)
        return done

    async def _prune_handled(self) -> None:
        """Forget, once an hour, which events were handled more than HANDLED_KEPT_S ago:
        sync never hands them out again (its position is stored)."""
        now = self._clock()
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        try:
            await self._events.prune(self.name, int((now - HANDLED_KEPT_S) * 1000))
        except Exception:
            log.exception("bot %s: pruning handled events failed", self.name)

    async def _set_display_name(self) -> None:
        wanted = self.bot_config.display_name
        if not wanted:
            return
        current = await self.client.get_displayname()
        if getattr(current, "displayname", None) != wanted:
            await self.client.set_displayname(wanted)

    async def run(self) -> None:
        """Start, then sync until `stop()`."""
        try:
            await self.start()
            await self.sync_loop()
        finally:
            await self.close()

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        self._stopping.set()
        for feature in self.features:  # their background work ends before the store does
            try:
                await feature.close()
            except Exception:
                log.exception("bot %s: closing %s failed", self.name, feature.name)
        async with self._due_lock:  # let a scheduled run finish before the client goes
            await self.client.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- sync ------------------------------------------------------------------------

    async def sync_loop(self) -> None:
        session = await self._sessions.get_session(self.name)
        since = session.sync_token if session else None
        full_state = True  # nio keeps no room state across restarts
        backoff = 1.0
        sync_filter = {"room": {"timeline": {"limit": TIMELINE_LIMIT}}}
        while not self._stopping.is_set():
            sync = asyncio.ensure_future(
                self.client.sync(
                    timeout=SYNC_TIMEOUT_MS,
                    since=since,
                    full_state=full_state,
                    sync_filter=sync_filter,
                )
            )
            stop = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({sync, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not sync.done():
                sync.cancel()
                break
            try:
                response = sync.result()
            except Exception as exc:
                log.warning("bot %s: sync failed (%r); retrying in %.0f s", self.name, exc, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            if not isinstance(response, SyncResponse):
                log.warning("bot %s: sync refused: %s; retrying", self.name, response)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            backoff = 1.0
            await self._after_sync(response, since)
            since, full_state = response.next_batch, False
            await self._sessions.save_sync(self.name, since, int(self._clock() * 1000))
            async with self.synced:
                self.sync_count += 1
                self.synced.notify_all()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def wait_synced(self, count: int = 1) -> None:
        """Wait until `count` more syncs were handled (tests and health checks)."""
        async with self.synced:
            target = self.sync_count + count
            await self.synced.wait_for(lambda: self.sync_count >= target)

    async def _after_sync(self, response: SyncResponse, since: str | None) -> None:
        try:
            await self._crypto_housekeeping()
        except Exception:  # retried after the next sync
            log.exception("bot %s: key upload/query/claim failed", self.name)
        await self._handle_invites(response)
        for room_id, info in response.rooms.join.items():
            self.room_state.remember(room_id, [*info.state, *info.timeline.events])
            await self._record_join(room_id, [*info.state, *info.timeline.events])
            events = list(info.timeline.events)
            # Synapse marks a newly joined room's timeline limited; when our join is in
            # it, everything after the join is too and what came before is not ours
            joined_here = any(
                isinstance(e, RoomMemberEvent)
                and e.state_key == self.user_id
                and e.membership == "join"
                and e.prev_membership != "join"
                for e in events
            )
            if (
                info.timeline.limited
                and since is not None
                and info.timeline.prev_batch
                and not joined_here
            ):
                events = await self._fetch_gap(room_id, info.timeline.prev_batch, since) + events
            for event in events:
                try:
                    event_id = getattr(event, "event_id", None)
                    if event_id:  # the order of events, the bot's own included
                        for feature in self.features:
                            await feature.on_timeline(room_id, event_id)
                    await self._handle_timeline_event(room_id, event)
                except Exception:  # one broken event never stops the bot
                    log.exception(
                        "bot %s: handling %s in %s failed",
                        self.name,
                        getattr(event, "event_id", "?"),
                        room_id,
                    )
            for ephemeral in info.ephemeral:
                if isinstance(ephemeral, ReceiptEvent):
                    await self._handle_receipts(room_id, ephemeral)
        await self.undecryptable.retry(self._handle_timeline_event)
        if self.outbox.has_failures:
            await self.outbox.retry_pending()

    async def _crypto_housekeeping(self) -> None:
        client = self.client
        await client.send_to_device_messages()
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())

    async def _fetch_gap(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        """Events between the last sync and this limited timeline, oldest first."""
        gap: list[Any] = []
        start = prev_batch
        for _ in range(100):  # bounded: at most 100 pages of 100 events
            response = await self.client.room_messages(
                room_id, start, end=since, direction=MessageDirection.back, limit=100
            )
            if not isinstance(response, RoomMessagesResponse) or not response.chunk:
                break
            gap.extend(response.chunk)
            if not response.end or response.end == start:
                break
            start = response.end
        gap.reverse()
        return gap

    # --- rooms -----------------------------------------------------------------------

    async def _handle_invites(self, response: SyncResponse) -> None:
        for room_id, info in response.rooms.invite.items():
            inviter = next(
                (
                    e.sender
                    for e in info.invite_state
                    if isinstance(e, InviteMemberEvent)
                    and e.state_key == self.user_id
                    and e.membership == "invite"
                ),
                None,
            )
            if inviter is not None and self.permissions.may_invite(inviter):
                result = await self.client.join(room_id)
                if isinstance(result, JoinError):
                    log.warning("bot %s: joining %s failed: %s", self.name, room_id, result.message)
                else:
                    log.info("bot %s joined %s (invited by %s)", self.name, room_id, inviter)
            else:
                log.warning(
                    "bot %s: declined invitation to %s from %s (server not in "
                    "security.allowed_homeservers)",
                    self.name,
                    room_id,
                    inviter,
                )
                await self.client.room_leave(room_id)

    async def _record_join(self, room_id: str, events: Sequence[Any]) -> None:
        for event in events:
            if (
                isinstance(event, RoomMemberEvent)
                and event.state_key == self.user_id
                and event.membership == "join"
                and event.prev_membership != "join"
            ):
                await self._sessions.record_join(self.name, room_id, event.server_timestamp)
                return
        if await self._sessions.get_joined_at(self.name, room_id) is None:
            # full state shows our current member event even if it is not the join itself
            for event in events:
                if isinstance(event, RoomMemberEvent) and event.state_key == self.user_id:
                    await self._sessions.record_join(self.name, room_id, event.server_timestamp)
                    return

    # --- events ----------------------------------------------------------------------

    async def _handle_timeline_event(self, room_id: str, event: Any) -> None:
        if getattr(event, "sender", None) == self.user_id:
            return
        joined_at = await self._sessions.get_joined_at(self.name, room_id)
        if joined_at is None or event.server_timestamp < joined_at:
            return  # from before the bot joined: never taken as a command
        if isinstance(event, MegolmEvent):
            self.undecryptable.wait_for_key(
                event, room_id, self.undecryptable_grace_s, self.undecryptable_min_syncs
            )
            return
        for listener in self.event_listeners:
            await listener(room_id, event.source, bool(getattr(event, "decrypted", False)))
        if isinstance(event, ReactionEvent):
            reaction = Reaction(room_id, event.event_id, event.sender, event.reacts_to, event.key)
            await self._once(event.event_id, *(f.on_reaction(reaction) for f in self.features))
            return
        if isinstance(event, UnknownEvent):  # polls and custom event types
            content = event.source.get("content")
            other = RoomEvent(
                room_id,
                event.event_id,
                event.sender,
                event.type,
                content if isinstance(content, dict) else {},
                event.server_timestamp,
            )
            await self._once(event.event_id, *(f.on_event(other) for f in self.features))
            return
        if not isinstance(event, RoomMessageText):
            return
        content = event.source.get("content") or {}
        if (content.get("m.relates_to") or {}).get("rel_type") == "m.replace":
            return  # an edit is not a new command
        text = command_text(content)
        if not is_command(text):
            root, reply = relation(content)
            # replies anywhere (thread comments, 了解 replies); other messages only in a
            # direct room with the bot (roll-call answers), so that the chatter of busy
            # rooms is not recorded as handled
            if root or reply or self.messenger.member_count(room_id) <= 2:
                related = RelatedMessage(room_id, event.event_id, event.sender, text, root, reply)
                await self._once(
                    event.event_id, *(f.on_related_message(related) for f in self.features)
                )
            return
        mentions = (content.get("m.mentions") or {}).get("user_ids") or []
        root, reply = relation(content)
        message = IncomingMessage(
            room_id=room_id,
            event_id=event.event_id,
            sender=event.sender,
            body=text,
            mentions=tuple(m for m in mentions if isinstance(m, str)),
            origin_server_ts=event.server_timestamp,
            reply_to=reply,
            thread_root=root,
        )
        await self.dispatcher.handle(message, self._room_commands(room_id))

    async def _once(self, event_id: str, *work: Coroutine[Any, Any, None]) -> None:
        """Run the features' handlers for an event that was not handled before."""
        if await self._events.is_handled(self.name, event_id):
            for coro in work:
                coro.close()
            return
        try:
            for coro in work:
                await coro
        finally:
            await self._events.mark_handled(self.name, event_id, int(self._clock() * 1000))

    async def _handle_receipts(self, room_id: str, event: ReceiptEvent) -> None:
        for receipt in event.receipts:
            # m.read only: private receipts (m.read.private) never reach the bot
            if receipt.receipt_type != "m.read" or receipt.user_id == self.user_id:
                continue
            for feature in self.features:
                try:
                    await feature.on_receipt(room_id, receipt.user_id, receipt.event_id)
                except Exception:
                    log.exception("bot %s: receipt handling failed", self.name)

    def _room_commands(self, room_id: str) -> list[Command]:
        room = self.client.rooms.get(room_id)
        members = list(room.users) if room is not None else [self.user_id]
        return self.directory.commands_in_room(members)
