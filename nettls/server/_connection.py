"""A connection of ``nettls.server`` while it is alive: the handshake, the
read turns that feed its handler, and the transport the handler writes to.
Its phases, deadline and ending are ``_lifecycle``'s."""

from __future__ import annotations

import logging
import time
from typing import Any

from zope.interface import implementer

from nettls.interfaces import TLSError

from ._lifecycle import HIGH_WATER, LOW_WATER, READ_CALLS, RECV_SIZE, TURN_SECONDS, WRITE_LIMIT, Lifecycle, Phase
from .protocol import IServerTransport

__all__ = ["Connection"]

_OPEN, _PAUSED = Phase.OPEN, Phase.PAUSED


@implementer(IServerTransport)
class Connection(Lifecycle):
    """One client connection: the loop's handler for its socket's events, and
    its handler's transport (``IServerTransport``)."""

    __slots__ = ()

    @property
    def session(self) -> Any:
        """The connection's ``ITLS`` session (None once it is done)."""
        return self.tls

    # -- the loop's side --------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        """One monitor event for the socket: a step of the phase it is in."""
        phase = self.phase
        if phase is Phase.DONE:  # finished earlier in the same turn
            return
        try:
            if phase is Phase.HANDSHAKE:
                self.handshake()
                return
            if event.sendReady:
                self.on_writable()
                if self.phase is not phase:
                    return
            if event.recvReady or event.close:
                if phase is _OPEN:
                    self.read_turn()
                elif phase is Phase.CLOSING:
                    self.drain()
                    if self.peer_eof:
                        self.hub.poll(self)  # it would be reported readable on every wait
                elif phase is Phase.LINGER:
                    self.linger_step(read=True)
        except Exception as exc:
            self.internal_error(exc)

    def on_writable(self) -> None:
        """The socket can take more (or a poll): write on; a paused connection
        whose queue has drained reads again, and a blocked handler may write."""
        phase = self.phase
        if phase is Phase.HANDSHAKE:
            self.handshake()
        elif phase is _OPEN or phase is _PAUSED:
            try:
                if self.tls.sendBuffer():
                    self.progress()
            except (TLSError, OSError) as exc:
                self.linger(f"connection broken while sending: {exc}")
                return
            if (phase is _PAUSED or self.blocked) and self.held() <= LOW_WATER:
                self._resume(phase)
            elif self.blocked and phase is _OPEN:
                self.arm()  # until the queue drains (a paused connection is polled)
        elif phase is Phase.CLOSING:
            self.continue_close()
        elif phase is Phase.LINGER:
            self.linger_step(write=True)

    def _resume(self, phase: Phase) -> None:
        """The queue has drained to ``LOW_WATER``: read again, write again."""
        if phase is _PAUSED:
            self.hub.unpoll(self)
            self.move(_OPEN)
            if self.sock.getBufferUnsent():
                self.arm()
        if self.blocked:
            self.blocked = False
            self.handler.resumeWriting()
        if phase is _PAUSED and self.phase is _OPEN:
            self.read_turn()  # data may be waiting inside the session

    def handshake(self) -> None:
        hub = self.hub
        status = self.tls.accept(self.sock)
        if status == hub.OK:
            self.move(_OPEN)
            if hub.session_info:
                try:
                    self.protocol = self.tls.getProtocolVersion()
                    self.cipher = self.tls.getCipherSuite()
                except Exception:  # a component's bug must not end the connection
                    pass
            self.timer.move(time.monotonic() + hub.idle_timeout)  # may be sooner than the handshake's
            if hub.log.isEnabledFor(logging.DEBUG):
                hub.log.debug("%s: handshake done: %s %s", self.peer, self.protocol, self.cipher)
            self.handler = hub.factory()
            self.handler.connectionMade(self)
            if self.phase is _OPEN:
                self.read_turn()  # application data may have come with the Finished
        elif status == hub.FAIL:
            self.linger(f"handshake failed: {self.reason()}")
        elif status == hub.WAIT_WRITE:
            self.arm()

    def read_turn(self) -> None:
        """One read turn: ``recv()`` until ``b""``, at most ``READ_CALLS`` calls
        and ``TURN_SECONDS``, and not past ``HIGH_WATER`` held; each piece goes
        to the handler's ``dataReceived``."""
        self.owed = False  # this is the turn it was owed
        tls = self.tls
        received = self.bytes_in
        ended = None  # getStatus() after a recv() returned b""
        until = time.perf_counter() + TURN_SECONDS
        for _ in range(READ_CALLS):
            data = tls.recv(RECV_SIZE)
            if not data:
                ended = tls.getStatus()
                break
            self.bytes_in += len(data)
            written = self.bytes_out
            self.handler.dataReceived(data)
            if self.phase is not _OPEN:
                return  # the handler closed it, or a write failed
            # A write has just measured what is held (blocked: above HIGH_WATER); else measure it.
            if (self.blocked if self.bytes_out != written else self.held() > HIGH_WATER) or (
                time.perf_counter() > until
            ):
                break
        if self.bytes_in != received:
            self.progress()
        if ended == self.hub.FAIL:  # the stream ended (close_notify, truncation) or failed
            self.begin_close(f"ended: {self.reason()}" + (f"; {self.hold}" if self.hold else ""))
        elif self.held() > HIGH_WATER:
            self.move(_PAUSED)
            self.hub.poll(self)
        elif ended is None:
            self.owed = True  # the budget ran out: more may be waiting
            self.hub.loop.call_soon(self._owed_turn)
        elif ended == self.hub.WAIT_WRITE:
            self.arm()

    def _owed_turn(self) -> None:
        if self.owed and self.phase is _OPEN:
            self.guarded(self.read_turn)

    # -- the handler's side (IServerTransport) -----------------------------------------

    def write(self, data: bytes) -> bool:
        """See ``IServerTransport.write``."""
        phase = self.phase
        if phase is not _OPEN and phase is not _PAUSED:
            return False
        # Only a handler that write() told to stop can be past the limit: not
        # blocked, the last write left at most HIGH_WATER held, and reading
        # (the library's own answers) stops above it.
        if self.blocked and self.held() > WRITE_LIMIT:
            self.finish(f"the client does not read: more than {WRITE_LIMIT} bytes held for it")
            return False
        self.bytes_out += len(data)
        try:
            self.tls.send(data)
        except (TLSError, OSError) as exc:
            self.linger(f"connection broken while sending: {exc}")
            return False
        if self.held() <= HIGH_WATER:
            return True
        self.blocked = True
        self.arm()  # the event that finds the queue drained calls resumeWriting()
        return False

    def close(self, outcome: str | None = None) -> None:
        """See ``IServerTransport.close``."""
        if self.phase is _OPEN or self.phase is _PAUSED:
            self.begin_close(outcome or "closed by the server")

    def holdDeadline(self, what: str) -> None:
        """See ``IServerTransport.holdDeadline``."""
        self.hold = what
