"""A connection's life in ``nettls.server``: its phases and their legal moves,
what it makes the server hold, its deadline, polling, and its ending
(CLOSING, LINGER, DONE). ``Connection`` (``_connection``) adds the
handshake, the reads and the transport the handler writes to.

Memory (SPEC section 14). Per idle connection the server itself keeps a
``Connection`` (slots), a ``Timer`` and a set entry; the session, its socket
and the TLS library's state are the components'. What a connection makes
the server hold (``held()``) is counted as:

- plaintext the session has not sent yet (``tls.getBufferUnsent()``);
- ciphertext queued in the socket (``sock.getBufferUnsent()``): what the
  handler wrote, and what the library sends on its own, such as the answer
  to every KeyUpdate that asks for one.

The two may count the same bytes twice, as plaintext and as its
ciphertext: the count errs on the safe side. The server looks at it after
every ``recv()`` and after every turn, and above ``HIGH_WATER`` the
connection stops reading (PAUSED) until the peer has taken enough to bring
it under ``LOW_WATER``. Past the mark, one ``recv()`` can add at most the
answers to 64 KiB of ciphertext (64 KiB) and one record of plaintext,
which an echo writes back (16 KiB, counted twice: 32 KiB): at most 160 KiB.
A handler's write while more than ``WRITE_LIMIT`` (160 KiB) is held ends
the connection instead of queueing, so a handler that writes on its own
and ignores ``write()``'s False adds at most twice its largest write. The
session's own input buffer holds at most 64 KiB of ciphertext (SPEC
section 14). So whatever a peer sends and whether or not it reads, a
connection whose handler writes at most 16 KiB at a time (echo, HTTP) costs
the server less than ``MEMORY_BOUND`` (256 KiB), besides the handler's own
state (the HTTP handler's: at most 16 KiB of request head and one read) and
the kernel's socket buffers.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from typing import Any, Callable

from nettls.escape import escape_control
from nettls.eventloop import EventLoop, Timer
from nettls.interfaces import NetworkEndpoint, TLSError

__all__ = ["Phase", "MOVES", "Hub", "Lifecycle", "format_endpoint"]

#: Bytes held for a connection (``held()``) above which it stops reading ...
HIGH_WATER = 64 * 1024
#: ... and at or below which it reads again (and a blocked handler may write).
LOW_WATER = 16 * 1024
#: A handler's write while more than this is held ends the connection (it ignored write()'s False).
WRITE_LIMIT = 160 * 1024
#: What the server holds for one connection stays under this (SPEC 14; see above).
MEMORY_BOUND = 256 * 1024
#: Plaintext asked of ``recv()`` at a time: one TLS record's worth.
RECV_SIZE = 16384
#: Session calls one connection gets per turn before others get theirs: each
#: processes at most 64 KiB of ciphertext (SPEC 14), so a turn at most 1 MiB;
#: 16 full records (256 KiB of plaintext) keep a bulk echo fast.
READ_CALLS = 16
#: ... and no further call once a turn has taken this long: a call can cost
#: far more CPU per byte than another (64 KiB of KeyUpdates: tens of ms).
TURN_SECONDS = 0.001
#: How long a finished connection waits for the peer's FIN (see LINGER).
LINGER_SECONDS = 1.0
#: How long close_notify may take to be written (at most the idle timeout).
CLOSE_TIMEOUT = 30.0
#: How often polled connections (paused, or owing writes to a peer that sent FIN) are tried.
POLL_INTERVAL = 0.05


class Phase(enum.Enum):
    """Where a connection is in its life (see ``nettls.server``)."""

    HANDSHAKE = "handshake"
    OPEN = "open"
    PAUSED = "paused"
    CLOSING = "closing"
    LINGER = "linger"
    DONE = "done"


#: The legal moves: a move not in the table is a bug, and raises.
MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.HANDSHAKE: frozenset({Phase.OPEN, Phase.LINGER, Phase.DONE}),
    Phase.OPEN: frozenset({Phase.PAUSED, Phase.CLOSING, Phase.LINGER, Phase.DONE}),
    Phase.PAUSED: frozenset({Phase.OPEN, Phase.CLOSING, Phase.LINGER, Phase.DONE}),
    Phase.CLOSING: frozenset({Phase.LINGER, Phase.DONE}),
    Phase.LINGER: frozenset({Phase.DONE}),
    Phase.DONE: frozenset(),
}


def format_endpoint(ep: NetworkEndpoint | None) -> str:
    """``HOST:PORT``, ``[ADDR]:PORT`` for IPv6, "-" when unknown."""
    if ep is None:
        return "-"
    return f"[{ep.address}]:{ep.port}" if ":" in ep.address else f"{ep.address}:{ep.port}"


class Hub:
    """What one server's connections share: the loop, the settings, the
    session class's status values, and the books (live, finished this turn,
    polled)."""

    def __init__(
        self,
        loop: EventLoop,
        conns: set[Lifecycle],
        *,
        log: logging.Logger,
        factory: Callable[[], Any],
        tls_class: Any,
        session_info: bool,
        half_close: bool,
        handshake_timeout: float,
        idle_timeout: float,
    ) -> None:
        self.loop = loop
        self.conns = conns  # the live connections (the server's own set)
        self.log = log
        self.factory = factory  # makes a connection's handler (``IConnectionHandler``)
        self.OK, self.FAIL, self.WAIT_WRITE = tls_class.OK, tls_class.FAIL, tls_class.WAIT_WRITE
        self.session_info = session_info  # the sessions provide ISessionInfo
        self.half_close = half_close  # the sockets provide IHalfClose
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.done: list[Lifecycle] = []  # finished this turn; leave ``conns`` after it (``Server._reap``)
        self.polled: set[Lifecycle] = set()  # out of the monitor, tried every POLL_INTERVAL
        self.stopping = False
        self._poll_timer: Timer | None = None
        # One bound method for every session's ``sendWait``: wake me when its socket is writable.
        self.on_send_wait: Callable[[Any], None] = self._arm_from_event

    def _arm_from_event(self, event: Any) -> None:
        self.loop.want_write(event.source.getSocket())

    def poll(self, conn: Lifecycle) -> None:
        """Take ``conn`` out of the monitor; try it every ``POLL_INTERVAL``."""
        if conn not in self.polled:
            self.loop.unwatch(conn.sock)
            self.polled.add(conn)
            if self._poll_timer is None:
                self._poll_timer = self.loop.call_later(POLL_INTERVAL, self._poll_all)

    def unpoll(self, conn: Lifecycle) -> None:
        """Watch ``conn`` again."""
        if conn in self.polled:
            self.polled.discard(conn)
            self.loop.watch(conn.sock, conn.on_event)

    def _poll_all(self) -> None:
        self._poll_timer = None
        for conn in list(self.polled):
            conn.guarded(conn.on_writable)
        if self.polled:
            self._poll_timer = self.loop.call_later(POLL_INTERVAL, self._poll_all)


class Lifecycle:
    """One client connection's state, and the steps that end it."""

    __slots__ = (
        "hub", "sock", "tls", "phase", "peer", "started", "timer", "bytes_in", "bytes_out", "outcome",
        "protocol", "cipher", "peer_eof", "handler", "hold", "owed", "blocked",
    )  # fmt: skip

    # Defined by ``Connection``: one monitor event; a writable socket (or a poll).
    on_event: Callable[[Any], None]
    on_writable: Callable[[], None]

    def __init__(self, hub: Hub, sock: Any, tls: Any, peer: str) -> None:
        self.hub = hub
        self.sock = sock
        self.tls = tls
        self.phase = Phase.HANDSHAKE
        self.peer = peer
        self.started = time.monotonic()
        self.timer = hub.loop.call_at(self.started + hub.handshake_timeout, self._on_deadline)
        self.bytes_in = 0
        self.bytes_out = 0
        self.outcome: str | None = None
        self.protocol: str | None = None
        self.cipher: str | None = None
        self.peer_eof = False  # the peer's FIN was read
        self.handler: Any = None  # made when the handshake is done
        self.hold: str | None = None  # what the connection waits for, when its deadline is held
        self.owed = False  # a read turn is queued (call_soon): the budget ran out
        self.blocked = False  # a write returned False: resumeWriting() is owed

    def held(self) -> int:
        """Bytes the server holds for this connection (see the module docstring)."""
        return self.tls.getBufferUnsent() + self.sock.getBufferUnsent()

    def __repr__(self) -> str:
        return f"<connection {self.peer} {self.phase.value}>"

    # -- guards and moves ------------------------------------------------------------

    def guarded(self, step: Callable[..., object], *args: Any) -> None:
        """Run one step; a bug or an unexpected error ends this connection only."""
        try:
            step(*args)
        except Exception as exc:
            self.internal_error(exc)

    def internal_error(self, exc: Exception) -> None:
        """A step raised: log it with its traceback and end the connection."""
        text = escape_control(exc)
        self.hub.log.error("%s: internal error in %s: %s", self.peer, self.phase.value, text, exc_info=exc)
        self.finish(f"internal error: {type(exc).__name__}: {text}")

    def move(self, phase: Phase) -> None:
        if phase not in MOVES[self.phase]:
            raise RuntimeError(f"{self!r}: no move from {self.phase.value} to {phase.value}")
        self.phase = phase

    def arm(self) -> None:
        """Ask for the next send-ready event."""
        self.hub.loop.want_write(self.sock)

    # -- the deadline -----------------------------------------------------------------

    def progress(self) -> None:
        """Data moved: push the idle deadline back (unless it is held)."""
        idle = self.hub.idle_timeout
        if self.hold is None and idle != math.inf:
            self.timer.move(time.monotonic() + idle)

    def _on_deadline(self) -> None:
        self.guarded(self._timed_out)

    def _timed_out(self) -> None:
        phase, hub = self.phase, self.hub
        if phase is Phase.HANDSHAKE:
            self.finish(f"handshake timed out after {hub.handshake_timeout:g} s")
        elif phase is Phase.OPEN or phase is Phase.PAUSED:
            self.begin_close(f"{self.hold or 'idle'} for {hub.idle_timeout:g} s: closed")
        elif phase is Phase.CLOSING:
            self.finish(None, "close_notify not delivered in time")
        elif phase is Phase.LINGER:
            self.finish(None)

    # -- ending ------------------------------------------------------------------------

    def begin_close(self, outcome: str) -> None:
        """Send close_notify (after what is queued); CLOSING until written."""
        if self.outcome is None:
            self.outcome = outcome
        tls = self.tls
        try:
            # Input nobody will read (an HTTP body, data of a paused
            # connection) is dropped first: the stdlib component loses
            # close_notify when close() finds unread application data inside
            # the session. As much as one read turn, no more.
            until = time.perf_counter() + TURN_SECONDS
            for _ in range(READ_CALLS):
                data = tls.recv(RECV_SIZE)
                self.bytes_in += len(data)
                if not data or time.perf_counter() > until:
                    break
            status = tls.close()
        except (TLSError, OSError) as exc:  # not expected of close(); the peer is gone anyway
            self.linger(f"close failed: {exc}")
            return
        if status != self.hub.WAIT_WRITE:  # OK: written; FAIL: the session had failed
            self.linger()
            return
        self.move(Phase.CLOSING)
        self.timer.move(time.monotonic() + min(self.hub.idle_timeout, CLOSE_TIMEOUT))
        if self.peer_eof:
            self.hub.poll(self)
        else:
            self.hub.unpoll(self)  # back from PAUSED: watch it again, so its input is drained
            self.arm()

    def continue_close(self) -> None:
        try:
            status = self.tls.close()
        except (TLSError, OSError) as exc:
            self.linger(f"close failed: {exc}")
            return
        if status != self.hub.WAIT_WRITE:
            self.linger()
        elif self not in self.hub.polled:
            self.arm()

    def linger(self, outcome: str | None = None) -> None:
        """The session is finished: let its last bytes (alert, close_notify)
        reach the peer, send FIN after them, and wait briefly for the peer's."""
        if self.outcome is None:
            self.outcome = outcome
        self.move(Phase.LINGER)
        self.timer.move(time.monotonic() + LINGER_SECONDS)
        if not self.peer_eof:
            self.hub.unpoll(self)  # back from PAUSED or CLOSING: watch it again, to see the peer's FIN
        if self.hub.half_close:
            try:
                self.sock.shutdownOutput()  # FIN after what the socket still queues
            except OSError:
                pass
        self.linger_step(read=True, write=True)

    def linger_step(self, read: bool = False, write: bool = False) -> None:
        """Read and drop input, write the socket's queue on; done once the
        queue is out and the peer has sent FIN (or we are shutting down)."""
        sock = self.sock
        if read:
            self.drain()
        if write and sock.getBufferUnsent():
            try:
                sock.sendBuffer()
            except OSError:
                self.finish(None)
                return
        if sock.getBufferUnsent():
            if self.peer_eof:
                self.hub.poll(self)  # it would be reported readable on every wait
            elif self not in self.hub.polled:
                self.arm()
        elif self.peer_eof or self.hub.stopping or not self.hub.half_close:
            self.finish(None)

    def drain(self) -> None:
        """Read and drop what the peer sends once we are done with the session
        (the session no longer reads); notes the peer's FIN."""
        sock = self.sock
        for _ in range(16):
            if not sock.recv(RECV_SIZE):
                if not sock.connected():
                    self.peer_eof = True
                return

    def finish(self, outcome: str | None, note: str | None = None) -> None:
        """Disconnect and log one line. The handler hears of it (its
        ``connectionLost``) when the server reaps the turn's finished
        connections, never from inside one of its own calls."""
        if self.phase is Phase.DONE:
            return
        self.phase = Phase.DONE
        if self.outcome is None:
            self.outcome = outcome or "closed"
        if note:
            self.outcome += f"; {note}"
        hub = self.hub
        hub.done.append(self)
        hub.polled.discard(self)
        self.timer.cancel()
        sock, tls = self.sock, self.tls
        try:
            hub.loop.unwatch(sock)
        except Exception:
            pass
        try:
            unsent = tls.getBufferUnsent()
        except Exception:
            unsent = 0
        try:
            tls.sendWait.unsubscribe(hub.on_send_wait)
        except Exception:
            pass
        try:
            sock.disconnect()
        except OSError:
            pass
        self.sock = self.tls = None  # the timer's heap entry may hold the connection until its time
        if hub.log.isEnabledFor(logging.INFO):
            hub.log.info(
                "%s %s %s in=%d out=%d time=%.3fs %s",
                self.peer,
                self.protocol or "-",
                self.cipher or "-",
                self.bytes_in,
                max(self.bytes_out - unsent, 0),
                time.monotonic() - self.started,
                escape_control(self.outcome),  # it may quote the peer (an alert, a request target)
            )

    def lost(self) -> None:
        """Tell the handler the connection is done (at reap time), then let go of it."""
        handler, self.handler = self.handler, None
        if handler is None:
            return
        try:
            handler.connectionLost(self.outcome)
        except Exception as exc:
            text = escape_control(exc)
            self.hub.log.error("%s: the handler's connectionLost raised: %s", self.peer, text, exc_info=exc)

    def reason(self) -> str:
        """The session's failure reason, for the log."""
        if not self.hub.session_info:
            return "unknown reason"
        try:
            return self.tls.getFailureReason() or "no reason given"
        except Exception:
            return "unknown reason"
