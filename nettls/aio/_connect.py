"""Connecting a TCP socket without blocking the event loop.

``ITCPSocket.connect()`` always waits for the outcome (SPEC 5), so a layer
runs it in a worker thread. A caller that stops waiting (a cancelled task)
abandons it: the socket is disconnected as soon as the connect returns, in
whichever thread gets there last, so nothing leaks.
"""

from __future__ import annotations

import threading
from typing import Any

from nettls.interfaces import ITimeout

__all__ = ["PendingConnect"]


class PendingConnect:
    """One blocking ``connect(host, port)`` for a worker thread (``run``)
    that the waiting side may ``abandon()``."""

    __slots__ = ("sock", "host", "port", "_lock", "_done", "_abandoned")

    def __init__(self, sock: Any, host: str, port: int, timeout: float | None = None) -> None:
        self.sock = sock
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._done = False
        self._abandoned = False
        if timeout is not None and ITimeout.providedBy(sock):
            sock.setTimeout(timeout)

    def run(self) -> None:
        """Connect (in the worker thread); raises what ``connect()`` raises."""
        try:
            self.sock.connect(self.host, self.port)
        finally:
            with self._lock:
                self._done = True
                abandoned = self._abandoned
            if abandoned:
                self.sock.disconnect()

    def abandon(self) -> None:
        """The caller stopped waiting: disconnect now, or when ``run`` returns."""
        with self._lock:
            self._abandoned = True
            done = self._done
        if done:
            self.sock.disconnect()
