"""``TLSTransport``: an ``asyncio.Transport`` over one non-blocking nettls session.

Theory of operation
-------------------
The transport's life (HANDSHAKE, OPEN, closing, CLOSED), its registration
with the loop and its ending are ``Lifecycle``'s (see ``_lifecycle``); this
module adds the data path of the OPEN state:

- Reading: on a read event, ``recv()`` until it returns ``b""``
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
- Writing: ``write()`` hands the data to ``send()``; what the kernel
  does not take stays queued (SPEC 7) and the session's ``sendWait`` arms
  the writer, whose events call ``sendBuffer()`` until nothing is queued.
  ``get_write_buffer_size()`` is the session's unsent plaintext; above the
  high-water mark the protocol's ``pause_writing()`` is called, at or below
  the low one ``resume_writing()`` (asyncio's defaults: 64 KiB, a quarter
  of it).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from nettls.interfaces import TLSError

from ._channel import CLEAN, TRUNCATED, Channel
from ._lifecycle import CLOSED, OPEN, Lifecycle

__all__ = ["TLSTransport"]

#: Plaintext asked of ``recv()`` at a time (a component returns a record or more).
RECV_SIZE = 65536
#: Session calls a read turn makes before letting other callbacks run: each
#: processes at most 64 KiB of ciphertext (SPEC 14), so a turn at most 1 MiB.
READ_CALLS = 16
#: asyncio's default write-buffer high-water mark (the low one is a quarter).
HIGH_WATER = 64 * 1024


class TLSTransport(Lifecycle):
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
        # Set before the handshake starts: its end can call the protocol at once.
        self._paused = False  # pause_reading()
        self._writing_paused = False  # the protocol's pause_writing() was called
        self._high = HIGH_WATER
        self._low = HIGH_WATER // 4
        super().__init__(
            loop,
            channel,
            protocol_factory,
            waiter,
            handshake_timeout=handshake_timeout,
            shutdown_timeout=shutdown_timeout,
            on_done=on_done,
        )

    def __repr__(self) -> str:
        return f"<nettls.aio.TLSTransport {self._state} fd={self._fd} {self._ch.component}>"

    # -- reading ---------------------------------------------------------------------------

    def _start_reading(self) -> None:
        """Watch for input (unless paused), and read what waits inside the session."""
        if not self._paused:
            self._want_read(self._read_ready)
        self._loop.call_soon(self._read_ready)

    def _read_ready(self) -> None:
        if self._state is not OPEN or self._paused or self._closing:
            return
        read = self._ch.read
        for _ in range(READ_CALLS):
            try:
                data = read(RECV_SIZE)
            except TLSError as exc:
                self._fatal(exc)
                return
            if not data:
                if data is not None:
                    self._ended()
                return
            self._deliver(data)
            if self._state is not OPEN or self._paused or self._closing:
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
        if self._state is OPEN:
            self._want_read(None)

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        if self._state is OPEN:
            self._start_reading()  # (what waits inside the session too)

    def is_reading(self) -> bool:
        return self._state is not CLOSED and not self._paused and not self._closing

    # -- writing ---------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data or self._state is not OPEN or self._closing:
            return
        try:
            self._ch.send(data)
        except TLSError as exc:
            self._fatal(_connection_error(exc))
            return
        if not self._writing_paused and self._session.getBufferUnsent() > self._high:
            self._writing_paused = True
            self._call_protocol("pause_writing")

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def _write_ready(self) -> None:
        if self._state is not OPEN:
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
        return int(self._session.getBufferUnsent()) if self._state is OPEN else 0

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
        if self._state is OPEN and not self._writing_paused and self.get_write_buffer_size() > high:
            self._writing_paused = True
            self._call_protocol("pause_writing")


def _connection_error(exc: TLSError) -> BaseException:
    """A send that broke: the socket's own ConnectionError where there is
    one (asyncio's: BrokenPipeError, ConnectionResetError), else ``exc``."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ConnectionError) and not isinstance(cause, TLSError):
            return cause
        cause = cause.__cause__
    return exc
