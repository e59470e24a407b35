"""The application service registered with a real Synapse: outbound and inbound webhooks
in unencrypted and encrypted rooms, exactly once across an appservice restart."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from appservice.signing import signed_headers
from tests.integration.bridge import HOOK_SECRET, Bridge
from tests.integration.harness import Staff, eventually, unique


async def test_outbound_and_inbound_in_unencrypted_and_encrypted_rooms(
    bridge: Bridge, tmp_path: Path
) -> None:
    assert bridge.app is not None
    bot_id = bridge.app.bots["tasks"].user_id
    vuser = "@_yakuba_ticketing:localhost"
    staff = bridge.owner
    assert staff is not None
    plain, secret_room = bridge.plain_room, bridge.secret_room
    # outbound: a message in each room reaches the internal system, signed
    await staff.send(plain, "!ticket 窓口の混雑状況")
    await staff.send(plain, "not for the ticket system")
    await staff.send(secret_room, "!ticket 暗号化ルームから")
    await eventually(
        lambda: (
            {"!ticket 窓口の混雑状況", "!ticket 暗号化ルームから"} <= set(bridge.receiver.bodies())
        ),
        "both messages at the internal system",
    )
    assert "not for the ticket system" not in bridge.receiver.bodies()
    rooms = {r["room_id"] for r in bridge.receiver.received}
    assert {plain, secret_room} <= rooms

    # inbound: a signed webhook appears in each room
    for hook_id, number in (("ticket", 101), ("ticket-enc", 102)):
        body = json.dumps({"number": number, "subject": "住民票の請求"}).encode()
        headers = signed_headers(HOOK_SECRET, f"msg_{number}", int(time.time()), body)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{bridge.as_url}/hooks/{hook_id}",
                data=body,
                headers={**headers, "Content-Type": "application/json"},
            ) as resp,
        ):
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["status"] in ("sent", "queued")
    await staff.wait_for(
        lambda: any(
            "受付 101: 住民票の請求" in str(getattr(e, "body", ""))
            for e in staff.events_from(vuser)
        ),
        "the hook message posted by the virtual user",
    )
    await staff.wait_for(
        lambda: any(
            "[窓口受付システム] 受付 102: 住民票の請求" in str(getattr(e, "body", ""))
            and e.decrypted
            for e in staff.events_from(bot_id)
        ),
        "the hook message posted through the bot in the encrypted room",
    )


async def test_appservice_down_then_each_message_handled_once(
    bridge: Bridge, tmp_path: Path
) -> None:
    assert bridge.app is not None
    bot_id = bridge.app.bots["tasks"].user_id
    vuser = "@_yakuba_ticketing:localhost"
    staff = await Staff.create(bridge.synapse, unique("kado"), "pw-kado-123", tmp_path / "s")
    try:
        room = await staff.create_room(invite=[bot_id, vuser], encrypted=False)
        await staff.wait_joined(room, vuser)
        await bridge.stop()
        await staff.send(room, "!ticket while down 1")
        await staff.send(room, "!ticket while down 2")
        await asyncio.sleep(1)  # Synapse tries, fails, backs off
        await bridge.start()  # the start-up ping makes Synapse resume at once
        wanted = {"!ticket while down 1", "!ticket while down 2"}
        await eventually(lambda: wanted <= set(bridge.receiver.bodies()), "the queued messages")
        marker = "!ticket marker after restart"
        await staff.send(room, marker)
        await eventually(lambda: marker in bridge.receiver.bodies(), "the marker")
        for body in (*wanted, marker):
            assert bridge.receiver.bodies().count(body) == 1, body
    finally:
        await staff.close()
