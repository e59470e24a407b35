"""The HTTP edge: Matrix AS API, inbound hooks, health, readiness and metrics.

Handlers authenticate, parse and deduplicate, then hand over to the service; errors are
Matrix-shaped (`{"errcode", "error"}`) with the right status, never a 500 for bad input.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from appservice.hooks import HookError

if TYPE_CHECKING:
    from appservice.service import Appservice

log = logging.getLogger(__name__)

APP_KEY: web.AppKey[Appservice] = web.AppKey("appservice")


def error(status: int, errcode: str, message: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": message}, status=status)


def make_app(service: Appservice, max_body: int) -> web.Application:
    app = web.Application(client_max_size=max_body, middlewares=[_errors])
    app[APP_KEY] = service
    for prefix in ("/_matrix/app/v1", ""):  # "" = the legacy unprefixed paths
        app.router.add_put(prefix + "/transactions/{txn_id}", transactions)
        app.router.add_get(prefix + "/users/{user_id}", user_query)
        app.router.add_get(prefix + "/rooms/{alias}", room_query)
    app.router.add_post("/_matrix/app/v1/ping", ping)
    app.router.add_route("*", "/_matrix/{tail:.*}", unrecognized)
    app.router.add_post("/hooks/{hook_id}", hook)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPRequestEntityTooLarge:
        return error(413, "M_TOO_LARGE", "the body is too large")
    except web.HTTPException as exc:
        if exc.status == 404:
            return error(404, "M_UNRECOGNIZED", "unknown endpoint")
        if exc.status == 405:
            return error(405, "M_UNRECOGNIZED", "method not allowed")
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error(500, "M_UNKNOWN", "internal error")


def _authorised(request: web.Request) -> web.Response | None:
    """hs_token from the Authorization header (or the legacy access_token parameter)."""
    service = request.app[APP_KEY]
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.query.get("access_token")
    if not token:
        return error(401, "M_UNAUTHORIZED", "missing hs_token")
    if not hmac.compare_digest(token.encode(), service.hs_token.encode()):
        return error(403, "M_FORBIDDEN", "wrong hs_token")
    return None


async def transactions(request: web.Request) -> web.Response:
    if (denied := _authorised(request)) is not None:
        return denied
    service = request.app[APP_KEY]
    started = time.perf_counter()
    body = await request.read()
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return error(400, "M_NOT_JSON", "the transaction body is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return error(400, "M_BAD_JSON", "a transaction needs an 'events' list")
    await service.accept_transaction(request.match_info["txn_id"], body, data["events"])
    service.metrics.ack_seconds.observe(time.perf_counter() - started)
    return web.json_response({})


async def user_query(request: web.Request) -> web.Response:
    if (denied := _authorised(request)) is not None:
        return denied
    service = request.app[APP_KEY]
    if await service.query_user(request.match_info["user_id"]):
        return web.json_response({})
    return error(404, "M_NOT_FOUND", "no such user")


async def room_query(request: web.Request) -> web.Response:
    if (denied := _authorised(request)) is not None:
        return denied
    return error(404, "M_NOT_FOUND", "yakuba provides no room aliases")


async def ping(request: web.Request) -> web.Response:
    if (denied := _authorised(request)) is not None:
        return denied
    return web.json_response({})


async def unrecognized(request: web.Request) -> web.Response:
    return error(404, "M_UNRECOGNIZED", "unknown endpoint")


async def hook(request: web.Request) -> web.Response:
    service = request.app[APP_KEY]
    hook_id = request.match_info["hook_id"]
    limit = service.body_limit(hook_id)
    length = request.content_length
    if length is not None and length > limit:
        service.metrics.webhooks_in.labels(hook_id, "too_large").inc()
        return error(413, "M_TOO_LARGE", f"the body is over {limit} bytes")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        service.metrics.webhooks_in.labels(hook_id, "too_large").inc()
        return error(413, "M_TOO_LARGE", f"the body is over {limit} bytes")
    try:
        result = await service.handle_hook(hook_id, request.headers, body)
    except HookError as exc:
        service.metrics.webhooks_in.labels(hook_id, exc.code).inc()
        return error(exc.status, exc.code, exc.message)
    service.metrics.webhooks_in.labels(hook_id, result.get("status", "ok")).inc()
    return web.json_response(result, status=200)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    problems = await request.app[APP_KEY].readiness()
    status = 503 if problems else 200
    return web.json_response({"ready": not problems, "problems": problems}, status=status)


async def metrics(request: web.Request) -> web.Response:
    service = request.app[APP_KEY]
    await service.refresh_gauges()
    return web.Response(
        body=service.metrics.render(), headers={"Content-Type": service.metrics.content_type}
    )
