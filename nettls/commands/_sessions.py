"""What a session can tell a command, and waiting on a non-blocking one.

- ``session_info`` and ``failure_reason``: through ``ISessionInfo``,
  "unknown" (or a default) where a component does not provide it.
- ``available``: ``recv()`` until ``b""``, as SPEC 6 asks of a
  non-blocking reader (decrypted data can wait inside the session).
- ``SessionWaiter``: a client that runs one non-blocking connection step
  by step (``nettls connect``, the demo's non-blocking client) waits for
  its socket on an ``EventLoop`` of its own.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, Iterator

from nettls.escape import escape_control
from nettls.eventloop import EventLoop
from nettls.interfaces import ISessionInfo

from ._classes import TCPClasses

__all__ = ["UNKNOWN", "session_info", "failure_reason", "available", "SessionWaiter"]

UNKNOWN = "unknown"
#: Plaintext asked of one non-blocking recv().
READ_SIZE = 65536


def session_info(tls: Any) -> tuple[str, str]:
    """``(protocol, cipher)`` of a session, "unknown" where the component cannot say."""
    if not ISessionInfo.providedBy(tls):
        return UNKNOWN, UNKNOWN
    try:
        return tls.getProtocolVersion() or UNKNOWN, tls.getCipherSuite() or UNKNOWN
    except Exception:  # a component's bug must not hide the rest of the report
        return UNKNOWN, UNKNOWN


def failure_reason(tls: Any, default: str = "no reason given") -> str:
    """The session's ``getFailureReason()``, escaped, or ``default`` where it has none."""
    if ISessionInfo.providedBy(tls):
        try:
            reason = tls.getFailureReason()
        except Exception:
            reason = None
        if reason:
            return escape_control(reason)  # it may quote the peer (an alert's text)
    return default


def available(session: Any, size: int = READ_SIZE) -> Iterator[bytes]:
    """What a non-blocking ``session`` has for the reader now: ``recv(size)``
    until it returns ``b""``."""
    while True:
        chunk = session.recv(size)
        if not chunk:
            return
        yield chunk


class SessionWaiter:
    """One non-blocking session's socket on an ``EventLoop`` of its own.

    The session's ``sendWait`` event arms a send notification (the Dana
    pattern); ``wait`` runs one turn of the loop, no longer than a deadline;
    ``complete`` repeats a call (``connect``, ``close``) until it is done.
    Use it as a context manager: on exit the listener and the monitor go.
    """

    def __init__(self, tcp_c: TCPClasses, sock: Any, session: Any) -> None:
        self.session = session
        self.sock = sock
        self.loop = EventLoop(tcp_c.TCPMonitor(), wakeable=False)  # one thread waits: nobody wakes it
        self._send_ready = False
        self._arm = functools.partial(self.loop.want_write, sock)
        self.loop.watch(sock, self._on_event)
        session.sendWait.subscribe(self._arm)

    def _on_event(self, event: Any) -> None:
        self._send_ready = self._send_ready or bool(event.sendReady)

    def wait(self, deadline: float, *, write: bool = False, flush: bool = False) -> bool:
        """Wait for the socket's events until ``deadline`` (``time.monotonic()``)
        at the latest: False, without waiting, once it has passed.

        ``write``: also for the socket to take more bytes. ``flush``: answer
        a send-ready event with the session's ``sendBuffer()``.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if write:
            self.loop.want_write(self.sock)
        self._send_ready = False
        self.loop.run_once(remaining)
        if flush and self._send_ready:
            self.session.sendBuffer()
        return True

    def complete(self, call: Callable[[], int], deadline: float, *, status: int | None = None, read: bool = True) -> int:
        """Call ``call`` (it returns a TLS status) again after each wait while it
        returns ``WAIT_WRITE`` (or ``WAIT_READ``, with ``read``: a handshake;
        ``close()`` waits only to write) and ``deadline`` has not passed.

        ``status``: the first call's result, if the caller made it. Returns
        the last status (still a WAIT_ one when the deadline passed).
        """
        session = self.session
        if status is None:
            status = call()
        while status == session.WAIT_WRITE or (read and status == session.WAIT_READ):
            if not self.wait(deadline, write=status == session.WAIT_WRITE):
                break
            status = call()
        return status

    def close(self) -> None:
        """Stop listening to the session and let go of the monitor."""
        self.session.sendWait.unsubscribe(self._arm)
        self.loop.unwatch(self.sock)
        self.loop.close()

    def __enter__(self) -> SessionWaiter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
