"""Send a signed test webhook to a configured hook, as an internal system would.

    python -m appservice.sendhook -c FILE HOOK_ID '{"json": "payload"}'

For IT checking a hook end to end (it signs with the hook's first secret).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path

import aiohttp

from appservice.signing import signed_headers
from bots.cli import load_or_report


async def send(url: str, secret: str, body: bytes) -> int:
    headers = signed_headers(secret, f"msg_{secrets.token_hex(8)}", int(time.time()), body)
    headers["Content-Type"] = "application/json"
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        print(r.status, await r.text())
        return 0 if r.status == 200 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True, type=Path)
    parser.add_argument("hook")
    parser.add_argument("payload", help="the body (JSON, or @FILE to send a file such as XML)")
    args = parser.parse_args()
    config = load_or_report(args.config)
    if config is None or config.appservice is None:
        print("no appservice in the config", file=sys.stderr)
        return 1
    hook = next((h for h in config.hooks if h.id == args.hook), None)
    if hook is None:
        print(f"no hook {args.hook!r} in the config", file=sys.stderr)
        return 1
    listen = config.appservice.listen
    url = f"http://{listen.host}:{listen.port}/hooks/{hook.id}"
    payload = args.payload
    body = Path(payload[1:]).read_bytes() if payload.startswith("@") else payload.encode()
    return asyncio.run(send(url, hook.secrets[0].get(), body))


if __name__ == "__main__":
    sys.exit(main())
