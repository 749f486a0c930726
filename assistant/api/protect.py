"""What stands between the internet and ``Assistant``: size and rate limits, origins, headers, logs.

Each piece is plain ASGI or a plain class, so it reads (and tests) without FastAPI:

- ``BodyLimit``: a body longer than ``max_body_bytes`` gets 413 before it is read whole;
- ``RateLimiter``: a sliding minute per client and for everyone; over it, 429 with ``Retry-After``;
- ``Guard``: refuses a browser request from an origin not allowed, adds the security headers,
  and logs one line per request: time, route, status, latency, and the client as a keyed hash,
  never its address and never anything the user wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("levelup.api")

#: A per-process key: the logs and the rate limiter can tell clients apart, but a log line cannot be
#: turned back into an address (nor matched with another process's logs).
_CLIENT_KEY = secrets.token_bytes(16)


def client_id(scope: Scope) -> str:
    """The client as a short keyed hash of its address (after uvicorn has applied trusted proxy
    headers), for rate limits and logs."""
    host = (scope.get("client") or ("unknown", 0))[0]
    return hmac.new(_CLIENT_KEY, str(host).encode(), hashlib.sha256).hexdigest()[:12]


async def send_json(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """An error as the API's JSON (``ErrorOut``), from ASGI code that runs outside FastAPI."""
    body = json.dumps({"error": message, "status": status}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413: by their Content-Length at once, or, sent
    in chunks, as soon as they pass the limit. The body is held (it is small) and handed on whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_long = f"The request body is over {self.limit:,} bytes. Send the question on its own."
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await send_json(send, 413, too_long)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await send_json(send, 413, too_long)
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        return await self.app(scope, replay, send)


class RateLimiter:
    """A sliding one-minute window per (client, kind of request), and one for all clients together.

    ``check`` returns 0 when the request may go ahead (and counts it), else the seconds to wait.
    In memory: each API process counts its own clients (with several workers, a client may make up
    to workers x the limit; put the limit in the proxy in front when that matters).
    """

    WINDOW = 60.0

    def __init__(self, per_client: dict[str, int], overall: int) -> None:
        self.per_client, self.overall = per_client, overall
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def check(self, client: str, kind: str, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            mine = self._seen.setdefault((client, kind), deque())
            for times in (mine, self._all):
                while times and times[0] <= now - self.WINDOW:
                    times.popleft()
            for times, limit in ((mine, self.per_client[kind]), (self._all, self.overall)):
                if len(times) >= limit:
                    return max(1, math.ceil(times[0] + self.WINDOW - now))
            mine.append(now)
            self._all.append(now)
            if len(self._seen) > 10_000:  # forget idle clients
                self._seen = {key: t for key, t in self._seen.items() if t and t[-1] > now - self.WINDOW}
            return 0


class Guard:
    """Origins, security headers and the request log, around every response."""

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...],
                 frame_ancestors: tuple[str, ...]) -> None:
        self.app, self.allowed = app, set(allowed_origins)
        ancestors = " ".join(frame_ancestors or allowed_origins) or "'none'"
        self.framed_csp = f"default-src 'none'; frame-ancestors {ancestors}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1")
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = list(message.get("headers") or [])
                names = {k.lower() for k, _ in raw}
                csp = self.framed_csp if scope["path"].startswith("/api/v1/documents/") else (
                    "default-src 'none'; frame-ancestors 'none'")
                for name, value in ((b"x-content-type-options", b"nosniff"),
                                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                                    (b"content-security-policy", csp.encode()),
                                    (b"cross-origin-resource-policy", b"cross-origin")):
                    if name not in names:
                        raw.append((name, value))
                message["headers"] = raw
            await send(message)

        try:
            if origin and origin not in self.allowed and origin != _own_origin(scope, headers):
                await send_json(send_with_headers, 403, f"Requests from {origin[:100]} are not allowed. The "
                                "site's operator adds hub sites to LEVELUP_ALLOWED_ORIGINS.")
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            log.info(json.dumps({
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "method": scope.get("method"),
                "route": getattr(route, "path", None) or "(unrouted)", "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1), "client": client_id(scope)}))


def _own_origin(scope: Scope, headers: dict[bytes, bytes]) -> str:
    """The API's own origin as the browser sees it (a page the API serves itself may call it)."""
    host = headers.get(b"host", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}"
