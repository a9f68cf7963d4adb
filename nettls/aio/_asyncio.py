"""asyncio entry points on ``TLSTransport``, with asyncio's own signatures.

``create_connection`` / ``open_connection`` connect a TCP socket (in a
worker thread: ``ITCPSocket.connect`` waits), make a non-blocking session
of the chosen component and hand both to a ``TLSTransport``, which runs
the handshake on the loop. ``create_server`` / ``start_server`` listen on
a non-blocking ``TCPServerSocket`` whose descriptor the loop watches; each
readiness accepts up to ``ACCEPT_BATCH`` connections and gives each its
transport, whose protocol is made when its handshake completes (a failed
handshake costs no protocol, no reader and no task).
"""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any, Awaitable, Callable, TypeVar, cast

from nettls.interfaces import TCPServerSocketConstants

from ._channel import SessionMaker
from ._connect import PendingConnect
from ._transport import TLSTransport

__all__ = ["create_connection", "open_connection", "create_server", "start_server", "Server"]

log = logging.getLogger("nettls.aio")
P = TypeVar("P", bound=asyncio.BaseProtocol)

#: asyncio's defaults (``asyncio.constants``): seconds for the handshake and for close_notify.
HANDSHAKE_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 30.0
#: Connections accepted per readiness event before other callbacks run.
ACCEPT_BATCH = 256
#: Seconds before accepting again after accept() failed (out of descriptors).
ACCEPT_RETRY = 0.1
#: asyncio's stream buffer limit.
STREAM_LIMIT = 2**16


async def create_connection(
    protocol_factory: Callable[[], P],
    host: str,
    port: int,
    *,
    context: Any,
    server_hostname: str | None = None,
    component: str | None = None,
    tcp_component: str | None = None,
    ssl_handshake_timeout: float | None = HANDSHAKE_TIMEOUT,
    ssl_shutdown_timeout: float | None = SHUTDOWN_TIMEOUT,
) -> tuple[TLSTransport, P]:
    """Connect to ``host``:``port`` over TLS, as ``loop.create_connection(...,
    ssl=...)``; returns ``(transport, protocol)`` once the handshake is done.

    Args:
        context: a CLIENT ``TLSContext`` of any component; what it verifies
            (``IVerifyOnConnect``) is what the handshake verifies.
        server_hostname: the name sent as SNI and checked by verification;
            default ``host``; ``""`` sends none. Given explicitly on a
            component without ``IServerName``, it is refused.
        component: the session's component (default: the context's own).
        tcp_component: the TCP component (default: the linked one).
        ssl_handshake_timeout: seconds the handshake may take (TLSTimeoutError).
        ssl_shutdown_timeout: seconds close_notify may take to be written.

    Raises:
        ConnectionError: the TCP connection failed, or the peer reset it
            during the handshake (ConnectionResetError).
        nettls.TLSHandshakeError: the handshake failed (the reason in the message).
        nettls.TLSTimeoutError: the handshake did not complete in time.
        nettls.RegistryError: a component lacks an extension this needs.
    """
    loop = asyncio.get_running_loop()
    maker = SessionMaker(context, component, tcp_component, "nettls.aio")
    maker.require_mode(False, "create_connection()")
    name = maker.client_name(host, server_hostname)
    sock = await connect_socket(maker, host, port)
    try:
        channel = maker.channel(sock, name)
    except BaseException:
        sock.disconnect()
        raise
    waiter: asyncio.Future[None] = loop.create_future()
    transport = TLSTransport(
        loop,
        channel,
        protocol_factory,
        waiter,
        handshake_timeout=ssl_handshake_timeout,
        shutdown_timeout=ssl_shutdown_timeout,
    )
    try:
        await waiter
    except BaseException:
        transport.abort()  # a cancelled handshake: the socket is closed, nothing left watched
        raise
    return transport, cast(P, transport.get_protocol())


async def connect_socket(maker: SessionMaker, host: str, port: int) -> Any:
    """A TCP socket of ``maker``'s component connected to ``host``:``port``."""
    pending = PendingConnect(maker.new_socket(), host, port)
    try:
        await asyncio.get_running_loop().run_in_executor(None, pending.run)
    except BaseException:
        pending.abandon()
        raise
    return pending.sock


async def open_connection(
    host: str,
    port: int,
    *,
    context: Any,
    server_hostname: str | None = None,
    component: str | None = None,
    limit: int = STREAM_LIMIT,
    **kwargs: Any,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` over nettls: ``(reader, writer)`` once the
    handshake is done. Arguments as ``create_connection``'s, plus ``limit``
    (the reader's buffer limit)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await create_connection(
        lambda: protocol, host, port, context=context, server_hostname=server_hostname, component=component, **kwargs
    )
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


async def create_server(
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    host: str | None,
    port: int,
    *,
    context: Any,
    component: str | None = None,
    tcp_component: str | None = None,
    reuse_address: bool = True,
    ssl_handshake_timeout: float | None = HANDSHAKE_TIMEOUT,
    ssl_shutdown_timeout: float | None = SHUTDOWN_TIMEOUT,
    start_serving: bool = True,
) -> Server:
    """``loop.create_server(..., ssl=...)`` over nettls: listen on ``host``
    (None or "" for every address) and ``port`` (0 picks a free one; see
    ``Server.port``). ``context`` is a SERVER ``TLSContext`` of any
    component; each connection's protocol is made once its handshake is done."""
    loop = asyncio.get_running_loop()
    maker = SessionMaker(context, component, tcp_component, "nettls.aio")
    maker.require_mode(True, "create_server()")
    maker.check_listener()
    listener = maker.server_class()
    listener.setNonBlocking()
    listener.bind(host or TCPServerSocketConstants.ANY_ADDRESS, port, reuse_address)
    server = Server(loop, listener, maker, protocol_factory, ssl_handshake_timeout, ssl_shutdown_timeout)
    if start_serving:
        server._start()
    return server


async def start_server(
    client_connected_cb: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None] | None],
    host: str | None,
    port: int,
    *,
    context: Any,
    component: str | None = None,
    limit: int = STREAM_LIMIT,
    **kwargs: Any,
) -> Server:
    """``asyncio.start_server`` over nettls: ``client_connected_cb(reader,
    writer)`` runs for each connection once its handshake is done.
    Arguments as ``create_server``'s, plus ``limit``."""
    loop = asyncio.get_running_loop()

    def factory() -> asyncio.StreamReaderProtocol:
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(limit=limit, loop=loop), client_connected_cb, loop=loop)

    return await create_server(factory, host, port, context=context, component=component, **kwargs)


class Server(asyncio.AbstractServer):
    """A listening nettls server, as ``asyncio.Server``: ``close()``,
    ``wait_closed()`` (after ``close()``, returns once every connection has
    ended), ``sockets`` (the nettls ``TCPServerSocket``),
    ``port`` (the port listened on), ``serve_forever()``, ``async with``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        listener: Any,
        maker: SessionMaker,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        handshake_timeout: float | None,
        shutdown_timeout: float | None,
    ) -> None:
        self._loop = loop
        self._listener: Any = listener
        self._fd: int = listener.fileno()
        #: The port listened on (the one the system chose for port 0).
        self.port: int = listener.getLocalEndpoint().port
        self._maker = maker
        self._factory = protocol_factory
        self._timeouts = (handshake_timeout, shutdown_timeout)
        self._serving = False
        self._transports: set[TLSTransport] = set()
        self._idle: asyncio.Event | None = None  # set when the last connection ends after close()
        self._forever: asyncio.Future[None] | None = None
        self._retry: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<nettls.aio.Server {self._listener!r} connections={len(self._transports)}>"

    @property
    def sockets(self) -> tuple[Any, ...]:
        return () if self._listener is None else (self._listener,)


    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    def _start(self) -> None:
        if not self._serving and self._listener is not None:
            self._serving = True
            self._loop.add_reader(self._fd, self._accept_ready)

    async def start_serving(self) -> None:
        self._start()
        await asyncio.sleep(0)

    async def serve_forever(self) -> None:
        if self._forever is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._listener is None:
            raise RuntimeError(f"server {self!r} is closed")
        self._start()
        self._forever = self._loop.create_future()
        try:
            await self._forever
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._forever = None

    def _accept_ready(self) -> None:
        maker, listener = self._maker, self._listener
        handshake_timeout, shutdown_timeout = self._timeouts
        for _ in range(ACCEPT_BATCH):
            sock = maker.new_socket()
            try:
                if not sock.accept(listener):
                    return
            except OSError as exc:
                self._accept_failed(exc)
                return
            try:
                channel = maker.channel(sock)
            except Exception as exc:  # a session that cannot be made: drop this connection, keep serving
                log.warning("nettls.aio: cannot start a TLS session: %s", exc)
                sock.disconnect()
                continue
            transport = TLSTransport(
                self._loop,
                channel,
                self._factory,
                handshake_timeout=handshake_timeout,
                shutdown_timeout=shutdown_timeout,
                on_done=self._connection_done,
            )
            if not transport.is_closing():
                self._transports.add(transport)

    def _accept_failed(self, exc: OSError) -> None:
        if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            log.error("nettls.aio: accept() failed (%s): accepting again in %g s", exc, ACCEPT_RETRY)
            self._loop.remove_reader(self._fd)
            self._retry = self._loop.call_later(ACCEPT_RETRY, self._resume_accepting)
        else:
            log.debug("nettls.aio: accept() failed: %s", exc)

    def _resume_accepting(self) -> None:
        self._retry = None
        if self._serving:
            self._loop.add_reader(self._fd, self._accept_ready)

    def _connection_done(self, transport: TLSTransport) -> None:
        self._transports.discard(transport)
        if not self._transports and self._idle is not None:
            self._idle.set()

    def close(self) -> None:
        """Stop listening; open connections go on (``close_clients()`` ends them)."""
        if self._listener is None:
            return
        if self._serving:
            self._loop.remove_reader(self._fd)
            self._serving = False
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._listener.unbind()
        self._listener = None
        if self._forever is not None and not self._forever.done():
            self._forever.cancel()

    def close_clients(self) -> None:
        """Close every connection (close_notify after what is queued)."""
        for transport in list(self._transports):
            transport.close()

    def abort_clients(self) -> None:
        for transport in list(self._transports):
            transport.abort()

    async def wait_closed(self) -> None:
        """After ``close()``: wait until every connection has ended. Before
        it, return at once (as asyncio's own does up to Python 3.12)."""
        if self._listener is not None or not self._transports:
            return
        if self._idle is None:
            self._idle = asyncio.Event()
        await self._idle.wait()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()
