"""``TLSTransport``: an ``asyncio.Transport`` over one non-blocking nettls session.

Theory of operation
-------------------
The transport registers its socket's descriptor with the event loop
(``add_reader``/``add_writer``, level-triggered) and makes one session call
per readiness event (``Channel``: see ``_channel``). Its life:

    HANDSHAKE --OK--> OPEN --close()--> (close_notify written) --> CLOSED
        |                |                                          ^
        +--FAIL----------+--abort(), a failure, the shutdown timeout-+

- HANDSHAKE: each event runs one handshake call; it says whether to wait
  for reading or writing. The handshake timeout aborts it. On OK the
  protocol is made (``protocol_factory()``), ``connection_made`` is
  called, and the waiter (``create_connection``) gets its result.
- OPEN, reading: on a read event, ``recv()`` until it returns ``b""``
  (data can wait inside the session, SPEC 6), at most ``READ_CALLS``
  calls a turn; a turn cut short schedules the next one itself, since
  data left in the session makes the descriptor no more readable. A
  ``b""`` is the end of the stream only when the session says so
  (``Channel.read``): close_notify and a truncation call
  ``eof_received()`` (asyncio reports a TCP close without close_notify
  the same way; ``get_extra_info("ended_cleanly")`` tells them apart), a
  reset calls ``connection_lost(ConnectionResetError)``, a TLS failure
  ``connection_lost(TLSConnectionError)``. ``pause_reading()`` removes the
  reader; what is still in the kernel then holds the peer back by TCP's
  window, so memory stays bounded.
- OPEN, writing: ``write()`` hands the data to ``send()``; what the kernel
  does not take stays queued (SPEC 7) and the session's ``sendWait`` arms
  the writer, whose events call ``sendBuffer()`` until nothing is queued.
  ``get_write_buffer_size()`` is the session's unsent plaintext; above the
  high-water mark the protocol's ``pause_writing()`` is called, at or below
  the low one ``resume_writing()`` (asyncio's defaults: 64 KiB, a quarter
  of it).
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

from ._channel import CLEAN, DONE, READ, TRUNCATED, Channel

__all__ = ["TLSTransport"]

log = logging.getLogger("nettls.aio")

#: Plaintext asked of ``recv()`` at a time (a component returns a record or more).
RECV_SIZE = 65536
#: Session calls a read turn makes before letting other callbacks run: each
#: processes at most 64 KiB of ciphertext (SPEC 14), so a turn at most 1 MiB.
READ_CALLS = 16
#: asyncio's default write-buffer high-water mark (the low one is a quarter).
HIGH_WATER = 64 * 1024

_HANDSHAKE, _OPEN, _CLOSED = "handshake", "open", "closed"


class TLSTransport(asyncio.Transport):
    """An ``asyncio.Transport`` over a nettls session (see the module docstring).

    Made by ``create_connection`` and by servers; not meant to be made directly.

    Args:
        loop: the running loop.
        channel: the session and its socket, handshake not started.
        protocol_factory: makes the protocol once the handshake is done.
        waiter: a future given the handshake's outcome, or None.
        handshake_timeout, shutdown_timeout: seconds, or None for no bound.
        on_done: called with the transport once it is closed, or its handshake failed.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        channel: Channel,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        waiter: asyncio.Future[None] | None = None,
        *,
        handshake_timeout: float | None = 60.0,
        shutdown_timeout: float | None = 30.0,
        on_done: Callable[[TLSTransport], None] | None = None,
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
        self._state = _HANDSHAKE
        self._closing = False  # close() was called
        self._eof = False  # write_eof() was called
        self._paused = False  # pause_reading()
        self._writing_paused = False  # the protocol's pause_writing() was called
        self._reader: Callable[[], None] | None = None
        self._writer: Callable[[], None] | None = None
        self._high = HIGH_WATER
        self._low = HIGH_WATER // 4
        self._shutdown_timeout = shutdown_timeout
        self._timer: asyncio.TimerHandle | None = None
        if handshake_timeout is not None:
            self._timer = loop.call_later(handshake_timeout, self._handshake_timed_out, handshake_timeout)
        self._session.sendWait.subscribe(self._send_wait)
        self._handshake_step()

    def __repr__(self) -> str:
        return f"<nettls.aio.TLSTransport {self._state} fd={self._fd} {self._ch.component}>"

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
        if self._state is not _CLOSED:
            self._want_write(self._handshake_step if self._state is _HANDSHAKE else self._write_ready)

    # -- handshake -------------------------------------------------------------------------

    def _handshake_step(self) -> None:
        if self._state is not _HANDSHAKE:
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
        self._state = _OPEN
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
        if self._state is _OPEN and not self._closing:
            if not self._paused:
                self._want_read(self._read_ready)
            # Data can have come with the handshake's last flight and wait
            # inside the session, where the descriptor does not show it.
            self._loop.call_soon(self._read_ready)

    def _handshake_failed(self, exc: BaseException) -> None:
        if self._waiter is None:
            log.debug("TLS handshake failed on fd %d: %s", self._fd, exc)
        self._finish(exc, call_lost=False)  # (the waiter gets exc)

    def _handshake_timed_out(self, seconds: float) -> None:
        self._timer = None
        if self._state is _HANDSHAKE:
            self._handshake_failed(TLSTimeoutError(f"the TLS handshake did not complete within {seconds:g} s"))

    # -- reading ---------------------------------------------------------------------------

    def _read_ready(self) -> None:
        if self._state is not _OPEN or self._paused or self._closing:
            return
        recv = self._session.recv
        for _ in range(READ_CALLS):
            try:
                data = recv(RECV_SIZE)
            except TLSError as exc:
                self._fatal(exc)
                return
            if not data:
                if self._ch.ended():
                    self._ended()
                return
            self._deliver(data)
            if self._state is not _OPEN or self._paused or self._closing:
                return
        self._loop.call_soon(self._read_ready)  # turn used up: more may wait in the session

    def _deliver(self, data: bytes) -> None:
        protocol = self._protocol
        try:
            if isinstance(protocol, asyncio.BufferedProtocol):
                view = memoryview(data)
                while view:
                    buf = memoryview(protocol.get_buffer(len(view))).cast("B")
                    n = min(len(buf), len(view))
                    if not n:
                        raise RuntimeError("get_buffer() returned an empty buffer")
                    buf[:n] = view[:n]
                    protocol.buffer_updated(n)
                    view = view[n:]
            else:
                protocol.data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal(exc, "protocol.data_received() call failed.")

    def _ended(self) -> None:
        kind, error = self._ch.ending()
        if error is not None:
            self._fatal(error)
            return
        self._want_read(None)
        if kind not in (CLEAN, TRUNCATED):  # (every other kind carries its exception)
            return
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal(exc, "protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()

    def pause_reading(self) -> None:
        if self._closing or self._paused:
            return
        self._paused = True
        if self._state is _OPEN:
            self._want_read(None)

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        if self._state is _OPEN:
            self._want_read(self._read_ready)
            self._loop.call_soon(self._read_ready)  # what waits inside the session

    def is_reading(self) -> bool:
        return self._state is not _CLOSED and not self._paused and not self._closing

    # -- writing ---------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data or self._state is not _OPEN or self._closing:
            return
        session = self._session
        try:
            session.send(data)
        except TLSError as exc:
            self._fatal(_connection_error(exc))
            return
        if not self._writing_paused and session.getBufferUnsent() > self._high:
            self._writing_paused = True
            self._call_protocol("pause_writing")

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def _write_ready(self) -> None:
        if self._state is not _OPEN:
            return
        ch = self._ch
        try:
            more = ch.flush()
        except TLSError as exc:
            self._fatal(_connection_error(exc))
            return
        if not more:
            self._want_write(None)
            if ch.shut == 2:
                self._close_notify_written()
        if self._writing_paused and self._session.getBufferUnsent() <= self._low:
            self._writing_paused = False
            self._call_protocol("resume_writing")

    def _call_protocol(self, name: str) -> None:
        try:
            getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {"message": f"protocol.{name}() failed", "exception": exc, "transport": self, "protocol": self._protocol}
            )

    def get_write_buffer_size(self) -> int:
        return int(self._session.getBufferUnsent()) if self._state is _OPEN else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        if self._state is _OPEN and not self._writing_paused and self.get_write_buffer_size() > high:
            self._writing_paused = True
            self._call_protocol("pause_writing")

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
        if self._closing or self._eof or self._state is not _OPEN:
            return
        self._eof = True
        self._start_close_notify()

    # -- closing ---------------------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing or self._state is _CLOSED

    def close(self) -> None:
        if self._closing or self._state is _CLOSED:
            return
        self._closing = True
        if self._state is _HANDSHAKE:
            self._finish(None, call_lost=False)
            return
        self._want_read(None)
        if self._ch.shut == 2:
            self._finish(None)
        elif self._ch.shut == 0:
            self._start_close_notify()
        if self._shutdown_timeout is not None and self._state is _OPEN:
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
        if self._state is _OPEN:
            log.debug("close_notify on fd %d not written within %s s: aborting", self._fd, self._shutdown_timeout)
            self._finish(None)

    def abort(self) -> None:
        if self._state is not _CLOSED:
            self._closing = True
            self._finish(None, call_lost=self._state is _OPEN)

    def _fatal(self, exc: BaseException, message: str = "Fatal error on nettls transport") -> None:
        if not isinstance(exc, (OSError, TLSError)):
            self._loop.call_exception_handler({"message": message, "exception": exc, "transport": self, "protocol": self._protocol})
        self._closing = True
        self._finish(exc)

    def _finish(self, exc: BaseException | None, call_lost: bool = True) -> None:
        """Stop watching the descriptor, disconnect, and tell the protocol."""
        if self._state is _CLOSED:
            return
        self._state = _CLOSED
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
        if self._state is _CLOSED and name in ("socket", "session", "peername", "sockname"):
            return default
        return self._ch.info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        protocol: asyncio.BaseProtocol = self._protocol
        return protocol


def _connection_error(exc: TLSError) -> BaseException:
    """A send that broke: the socket's own ConnectionError where there is
    one (asyncio's: BrokenPipeError, ConnectionResetError), else ``exc``."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ConnectionError) and not isinstance(cause, TLSError):
            return cause
        cause = cause.__cause__
    return exc
