"""A staff member talks to a bot in an encrypted room on a real Synapse."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bots.demo.synapse import SynapseProcess
from bots.matrix.signatures import only_key, verify_json
from tests.integration.harness import Staff, prepare, unique


async def test_help_in_encrypted_room(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    bots = {
        "tasks": {"localpart": unique("tasks"), "features": ["tasks"]},
        "alerts": {"localpart": unique("alerts"), "features": ["alerts"]},
    }
    running = await prepare(synapse, admin_token, tmp_path, bots)
    config = running.config
    await running.start()
    staff = await Staff.create(synapse, unique("tanaka"), "pw-tanaka-1", tmp_path / "staff")
    try:
        bot_ids = [config.bots["tasks"].user_id, config.bots["alerts"].user_id]
        room = await staff.create_room(invite=bot_ids, encrypted=True)
        for bot_id in bot_ids:
            await staff.wait_joined(room, bot_id)
        command = await staff.send(room, "!ヘルプ")
        ping = await staff.send(room, "!ping")
        await staff.wait_for(
            lambda: bool(staff.replies_to(command)) and len(staff.replies_to(ping)) == 2,
            "the help reply and both pings",
        )
        # a later command: once answered, a second help reply would have arrived too
        marker = await staff.send(room, "!ピング")
        await staff.wait_for(lambda: len(staff.replies_to(marker)) == 2, "marker pings")
        (reply,) = staff.replies_to(command)  # answered once although two bots are here
        assert reply.sender in bot_ids
        # it arrived encrypted and was decrypted by the staff client
        assert reply.decrypted
        assert "使えるコマンド" in reply.body
        assert "!ヘルプ" in reply.body and "!ピング" in reply.body
        content = reply.source["content"]
        assert content["m.mentions"] == {"user_ids": [staff.user_id]}
        assert "<ul>" in content["formatted_body"]
        assert {r.sender for r in staff.replies_to(ping)} == set(bot_ids)
    finally:
        await staff.close()
        await running.stop()


async def test_bot_device_is_cross_signed_and_stays_so_after_restart(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    running = await prepare(
        synapse, admin_token, tmp_path, {"alerts": {"localpart": unique("alerts")}}
    )
    config = running.config
    bot_id = config.bots["alerts"].user_id
    app = await running.start()
    device_before = app.bots["alerts"].client.device_id
    await running.stop()
    keys_before = await _verified_identity(synapse, admin_token, bot_id, device_before)

    app = await running.start()
    device_after = app.bots["alerts"].client.device_id
    await running.stop()
    keys_after = await _verified_identity(synapse, admin_token, bot_id, device_after)

    assert device_after == device_before
    assert keys_after == keys_before


async def test_a_device_the_homeserver_lost_comes_back_with_the_same_identity(
    synapse: SynapseProcess, admin_token: str, tmp_path: Path
) -> None:
    """The homeserver forgets the bot's device (reset, or restored from an older backup):
    its token is refused, the bot logs in again as the same device, uploads that device's
    keys again and cross-signs it with the identity it keeps."""
    running = await prepare(
        synapse, admin_token, tmp_path, {"alerts": {"localpart": unique("alerts")}}
    )
    bot_id = running.config.bots["alerts"].user_id
    app = await running.start()
    device = app.bots["alerts"].client.device_id
    await running.stop()
    keys_before = await _verified_identity(synapse, admin_token, bot_id, device)

    async with (
        aiohttp.ClientSession() as http,
        http.delete(
            f"{synapse.url}/_synapse/admin/v2/users/{bot_id}/devices/{device}",
            headers={"Authorization": f"Bearer {admin_token}"},
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()

    app = await running.start()
    assert app.bots["alerts"].client.device_id == device
    await running.stop()
    assert await _verified_identity(synapse, admin_token, bot_id, device) == keys_before


async def _verified_identity(
    synapse: SynapseProcess, token: str, user_id: str, device_id: str
) -> tuple[str, str]:
    """Fetch the keys as any client would, and check the signature chain cryptographically:
    device ← self-signing key ← master key. Returns (master, self-signing) public keys."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            synapse.url + "/_matrix/client/v3/keys/query",
            json={"device_keys": {user_id: []}},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        assert resp.status == 200
        keys = await resp.json()
    master = keys["master_keys"][user_id]
    ssk = keys["self_signing_keys"][user_id]
    devices = keys["device_keys"][user_id]
    assert list(devices) == [device_id], "the bot keeps one device"
    master_id, master_pub = only_key(master)
    ssk_id, ssk_pub = only_key(ssk)
    assert master["usage"] == ["master"] and ssk["usage"] == ["self_signing"]
    assert verify_json(ssk, user_id, master_id, master_pub), "SSK not signed by the master key"
    assert verify_json(devices[device_id], user_id, ssk_id, ssk_pub), "device not signed by SSK"
    # the device's own signature still holds too
    device = devices[device_id]
    ed_id = f"ed25519:{device_id}"
    assert verify_json(device, user_id, ed_id, device["keys"][ed_id])
    return master_pub, ssk_pub
