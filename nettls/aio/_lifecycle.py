"""A ``TLSTransport``'s life: its handshake, its registration with the loop, its ending.

Theory of operation
-------------------
``Lifecycle`` is the part of ``TLSTransport`` (``_transport``) that moves
the connection from one state to the next; ``TLSTransport`` adds the data
path (reading, writing, flow control). The transport registers its
socket's descriptor with the event loop (``add_reader``/``add_writer``,
level-triggered) and makes one session call per readiness event
(``Channel``: see ``_channel``). Its life:

    HANDSHAKE --OK--> OPEN --close()--> (close_notify written) --> CLOSED
        |                |                                          ^
        +--FAIL----------+--abort(), a failure, the shutdown timeout-+

- HANDSHAKE: each event runs one handshake call; it says whether to wait
  for reading or writing. The handshake timeout aborts it. On OK the
  protocol is made (``protocol_factory()``), ``connection_made`` is
  called, and the waiter (``create_connection``) gets its result.
- Closing: ``close()`` stops reading and calls the session's ``close()``,
  which writes what is queued, then close_notify; the writer finishes it,
  bounded by the shutdown timeout. Then the socket is disconnected and
  ``connection_lost(None)`` follows. ``write_eof()`` sends close_notify and
  a FIN and goes on reading (where the socket can half-close and the
  session can tell the peer's end after ours). ``abort()`` disconnects at
  once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from nettls.interfaces import TLSError, TLSTimeoutError

from ._channel import DONE, READ, Channel

__all__ = ["Lifecycle", "HANDSHAKE", "OPEN", "CLOSED"]

log = logging.getLogger("nettls.aio")

#: The transport's states (see the module docstring).
HANDSHAKE, OPEN, CLOSED = "handshake", "open", "closed"


class Lifecycle(asyncio.Transport):
    """The states of a ``TLSTransport`` and the steps between them (see the module docstring).

    Args: as ``TLSTransport``'s; the handshake starts at once.
    """

    # Defined by ``TLSTransport``: the writer's callback; start reading once OPEN.
    _write_ready: Callable[[], None]
    _start_reading: Callable[[], None]

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        channel: Channel,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        waiter: asyncio.Future[None] | None,
        *,
        handshake_timeout: float | None,
        shutdown_timeout: float | None,
        on_done: Callable[[Any], None] | None,
    ) -> None:
        super().__init__()
        self._loop = loop
        self._ch = channel
        self._session = channel.session
        self._fd = channel.fd
        self._factory: Callable[[], asyncio.BaseProtocol] | None = protocol_factory
        self._protocol: Any = None
        self._waiter = waiter
        self._on_done = on_done
        self._state = HANDSHAKE
        self._closing = False  # close() was called
        self._eof = False  # write_eof() was called
        self._reader: Callable[[], None] | None = None
        self._writer: Callable[[], None] | None = None
        self._shutdown_timeout = shutdown_timeout
        self._timer: asyncio.TimerHandle | None = None
        if handshake_timeout is not None:
            self._timer = loop.call_later(handshake_timeout, self._handshake_timed_out, handshake_timeout)
        self._session.sendWait.subscribe(self._send_wait)
        self._handshake_step()

    # -- registration with the loop ---------------------------------------------------------

    def _want_read(self, callback: Callable[[], None] | None) -> None:
        if callback == self._reader:  # (bound methods: equal, not identical)
            return
        if callback is None:
            self._loop.remove_reader(self._fd)
        else:
            self._loop.add_reader(self._fd, callback)
        self._reader = callback

    def _want_write(self, callback: Callable[[], None] | None) -> None:
        if callback == self._writer:
            return
        if callback is None:
            self._loop.remove_writer(self._fd)
        else:
            self._loop.add_writer(self._fd, callback)
        self._writer = callback

    def _send_wait(self, event: Any) -> None:
        """The session queued bytes: write them on when the socket is writable."""
        if self._state is not CLOSED:
            self._want_write(self._handshake_step if self._state is HANDSHAKE else self._write_ready)

    # -- handshake -------------------------------------------------------------------------

    def _handshake_step(self) -> None:
        if self._state is not HANDSHAKE:
            return
        try:
            need = self._ch.step()
        except Exception as exc:
            self._handshake_failed(exc)
            return
        if need == DONE:
            self._handshake_done()
        elif need == READ:
            self._want_write(None)
            self._want_read(self._handshake_step)
        else:
            self._want_read(None)
            self._want_write(self._handshake_step)

    def _handshake_done(self) -> None:
        self._cancel_timer()
        self._state = OPEN
        self._want_read(None)
        self._want_write(self._write_ready if self._ch.wants_write() else None)
        factory, self._factory = self._factory, None
        assert factory is not None
        try:
            self._protocol = factory()
            self._protocol.connection_made(self)
        except BaseException as exc:
            waiter = self._waiter
            self._finish(exc, call_lost=False)  # (the waiter gets exc)
            if waiter is None:
                raise
            return
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if self._state is OPEN and not self._closing:
            # Data can have come with the handshake's last flight and wait
            # inside the session, where the descriptor does not show it.
            self._start_reading()

    def _handshake_failed(self, exc: BaseException) -> None:
        if self._waiter is None:
            log.debug("TLS handshake failed on fd %d: %s", self._fd, exc)
        self._finish(exc, call_lost=False)  # (the waiter gets exc)

    def _handshake_timed_out(self, seconds: float) -> None:
        self._timer = None
        if self._state is HANDSHAKE:
            self._handshake_failed(TLSTimeoutError(f"the TLS handshake did not complete within {seconds:g} s"))

    # -- closing ---------------------------------------------------------------------------

    def can_write_eof(self) -> bool:
        return self._ch.can_half_close()

    def write_eof(self) -> None:
        """Send close_notify, then a FIN, and go on reading (TLS 1.3 lets the
        peer keep sending). NotImplementedError where the socket cannot
        half-close or the session cannot tell the peer's end after ours."""
        if not self.can_write_eof():
            raise NotImplementedError(
                f"write_eof() needs IHalfClose on the TCP socket and IEndOfStream on the {self._ch.component} session"
            )
        if self._closing or self._eof or self._state is not OPEN:
            return
        self._eof = True
        self._start_close_notify()

    def is_closing(self) -> bool:
        return self._closing or self._state is CLOSED

    def close(self) -> None:
        if self._closing or self._state is CLOSED:
            return
        self._closing = True
        if self._state is HANDSHAKE:
            self._finish(None, call_lost=False)
            return
        self._want_read(None)
        if self._ch.shut == 2:
            self._finish(None)
        elif self._ch.shut == 0:
            self._start_close_notify()
        if self._shutdown_timeout is not None and self._state is OPEN:
            self._timer = self._loop.call_later(self._shutdown_timeout, self._shutdown_timed_out)

    def _start_close_notify(self) -> None:
        if self._ch.close_step():
            self._close_notify_written()
        else:
            self._want_write(self._write_ready)

    def _close_notify_written(self) -> None:
        if self._closing:
            self._finish(None)
        elif self._eof:
            self._ch.shutdown_output()

    def _shutdown_timed_out(self) -> None:
        self._timer = None
        if self._state is OPEN:
            log.debug("close_notify on fd %d not written within %s s: aborting", self._fd, self._shutdown_timeout)
            self._finish(None)

    def abort(self) -> None:
        if self._state is not CLOSED:
            self._closing = True
            self._finish(None, call_lost=self._state is OPEN)

    def _fatal(self, exc: BaseException, message: str = "Fatal error on nettls transport") -> None:
        if not isinstance(exc, (OSError, TLSError)):
            self._loop.call_exception_handler({"message": message, "exception": exc, "transport": self, "protocol": self._protocol})
        self._closing = True
        self._finish(exc)

    def _finish(self, exc: BaseException | None, call_lost: bool = True) -> None:
        """Stop watching the descriptor, disconnect, and tell the protocol."""
        if self._state is CLOSED:
            return
        self._state = CLOSED
        self._cancel_timer()
        self._want_read(None)
        self._want_write(None)
        self._session.sendWait.unsubscribe(self._send_wait)
        try:
            self._ch.release()
        except OSError:
            pass
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc or ConnectionAbortedError("the connection was closed during the TLS handshake"))
        if call_lost and self._protocol is not None:
            self._loop.call_soon(self._connection_lost, exc)
        elif self._on_done is not None:
            self._on_done(self)

    def _connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            if self._on_done is not None:
                self._on_done(self)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- the rest of the Transport API -----------------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """asyncio's extras where nettls has them: ``peercert`` (PEM),
        ``peer_chain`` (PEM list), ``cipher`` ``(suite, version, None)``,
        ``version``, ``selected_alpn_protocol``, ``server_hostname``,
        ``ended_cleanly`` (after the end of stream: close_notify or not),
        ``session``, ``ssl_object`` (a ``SessionInfo``), ``sslcontext`` (the
        nettls context), ``component``, ``socket`` (the nettls TCP socket),
        ``peername``, ``sockname``."""
        if self._state is CLOSED and name in ("socket", "session", "peername", "sockname"):
            return default
        return self._ch.info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        protocol: asyncio.BaseProtocol = self._protocol
        return protocol
