"""What every request passes before an endpoint sees it: the token first,
then a deadline on its body.

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``, which would hide a
client's disconnect from the endpoint. It sits inside FastAPI's body limit
(``FastAPI(max_body_size=...)``, Starlette's ``RequestBodyLimitMiddleware``),
which refuses a declared ``Content-Length`` over the cap at once and counts a
body chunk by chunk as it is read, chunked or not, answering 413 the moment
the cap is passed. Neither reads a byte of the body itself, so:

1. the token is checked from the headers alone: a client without it costs
   the server no body bytes (its connection is closed unread);
2. the whole body must arrive within ``body_timeout`` seconds (408), so a
   client trickling bytes cannot hold a connection and its buffers for ever;
3. an answer sent before the request's body was all read (401, 413, a
   route that reads no body) closes the connection: the server would
   otherwise wait for the rest of that body, and every byte trickled in
   would reset uvicorn's keep-alive timer.

Errors are small JSON objects (``{"detail": ...}``) that never echo input.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any, Awaitable, Callable

from starlette.exceptions import HTTPException

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def read_token_file(path: str) -> str:
    """The bearer token in ``path`` (its first line, white space stripped).

    Raises ValueError when the file is empty; OSError when it cannot be read.
    A file (or the ``CODELOOP_TOKEN`` variable) keeps the token out of the
    process's command line, which every local user can read.
    """
    with open(path, encoding="utf-8") as fh:
        token = fh.readline().strip()
    if not token:
        raise ValueError(f"{path}: the token file is empty")
    return token


async def send_json(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """A small JSON error answer, sent straight to the ASGI server."""
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """The token, then a deadline on the body.

    ``token``: None to admit anyone; else every path but those in ``public``
    needs ``Authorization: Bearer <token>`` (401 otherwise, before any byte
    of the body is read). ``body_timeout``: seconds from the request's
    headers to the last byte of its body (408 beyond).
    """

    def __init__(self, app: Any, *, token: str | None, public: frozenset[str], body_timeout: float) -> None:
        self.app, self.public, self.body_timeout = app, public, body_timeout
        self._token = token.encode() if token is not None else None

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
        # the scheme is case-insensitive (RFC 9110); the comparison of the token takes constant time
        return scheme.lower() == b"bearer" and secrets.compare_digest(given.strip(), self._token or b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if self._token is not None and scope.get("path") not in self.public and not self._authorized(headers):
            await send_json(send, 401, "a bearer token is required (Authorization: Bearer ...)",
                            {"WWW-Authenticate": "Bearer", "Connection": "close"})
            return
        has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or b"transfer-encoding" in headers
        state = _Body(done=not has_body)
        await self.app(scope, self._timed(receive, state), _closing(send, state))

    def _timed(self, receive: Receive, state: "_Body") -> Receive:
        deadline = time.monotonic() + self.body_timeout

        async def timed_receive() -> Message:
            if state.done:
                return await receive()  # only a disconnect can come now: no deadline on waiting for it
            left = deadline - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.001))
            except asyncio.TimeoutError:
                raise HTTPException(408, f"the body did not arrive within {self.body_timeout:g} s",
                                    headers={"Connection": "close"}) from None
            state.done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        return timed_receive


class _Body:
    """Whether a request's body has been read to its end."""

    __slots__ = ("done",)

    def __init__(self, done: bool) -> None:
        self.done = done


def _closing(send: Send, state: _Body) -> Send:
    async def closing_send(message: Message) -> None:
        if message["type"] == "http.response.start" and not state.done:
            headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return closing_send
