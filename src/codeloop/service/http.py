"""Running the service under uvicorn, with a deadline on request headers.

uvicorn closes an idle keep-alive connection, but a client that sends its
request line and headers a byte at a time resets that timer with every byte
and is never timed out: enough such clients hold every connection the
server can take. :class:`HeaderTimeoutProtocol` (uvicorn's h11 protocol)
closes a connection whose request headers are not complete within
``header_timeout`` seconds of its first byte (or of the connection opening).
The body's own deadline is the app's (:class:`~codeloop.service.gate.Gate`).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Callable

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT = 10.0


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose headers trickle in."""

    header_timeout = DEFAULT_HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm()  # a request has begun (or is about to) and its headers are not all here
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def protocol_with(header_timeout: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class with this header deadline (uvicorn takes a class, not an instance)."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": header_timeout})


def return_freed_memory() -> None:
    """Have glibc give large freed blocks back to the system at once.

    A request body arrives in chunks of tens of KiB; glibc's default (a
    threshold that rises as large blocks are freed) keeps such chunks on the
    heap after a refused 8 MiB body, so the server's memory would stay at its
    worst burst for good. A fixed 64 KiB threshold puts them in mappings of
    their own, returned when freed. No effect where glibc is not the C library.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD: fixed, which also stops its rising
        libc.mallopt(-1, 128 * 1024)  # M_TRIM_THRESHOLD: trim the heap's free top past 128 KiB
    except (OSError, AttributeError):
        pass


def listening_url(sock: socket.socket) -> str:
    """The ``http://host:port`` a bound socket answers on (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, calling ``on_listening`` once it accepts connections: not at bind time, when a
    client told the URL could still be refused."""

    def __init__(self, config: uvicorn.Config, url: str, on_listening: Callable[[str], None] | None) -> None:
        super().__init__(config)
        self._url, self._on_listening = url, on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_listening is not None:
            self._on_listening(self._url)


def serve(app: Any, host: str, port: int, header_timeout: float = DEFAULT_HEADER_TIMEOUT,
          log_level: str = "warning", on_listening: Callable[[str], None] | None = None) -> None:
    """Serve ``app`` until interrupted (uvicorn, one process, h11).

    ``port`` 0 lets the system pick a free port; ``on_listening`` is called with the URL actually served
    (port included) once connections are accepted. That is how a caller starting the server learns its
    port without a race: a port picked beforehand and released can be taken by any other socket before the
    server binds it. An address already in use, or an app whose startup fails, ends the process with uvicorn's
    message and exit status 3.
    """
    return_freed_memory()
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, http=protocol_with(header_timeout),
                            timeout_keep_alive=5)
    sock = config.bind_socket()
    server = _AnnouncingServer(config, listening_url(sock), on_listening)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    if not server.started:  # the app's startup failed (uvicorn logged why): a failure, as uvicorn.run makes it
        raise SystemExit(3)
