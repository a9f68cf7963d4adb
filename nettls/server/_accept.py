"""Accepting connections for ``nettls.server``: in batches, and with a pause
when ``accept()`` fails (out of file descriptors) instead of a spinning loop."""

from __future__ import annotations

import errno
import logging
from typing import Any, Callable

from nettls.eventloop import EventLoop, Timer

__all__ = ["Acceptor"]

#: Connections accepted per readiness event before other work gets a turn.
ACCEPT_BATCH = 256
#: Back-off when accept() fails (typically EMFILE: out of file descriptors).
ACCEPT_RETRY = 0.1
#: Seconds between two log lines about failing accept() calls.
ACCEPT_LOG_EVERY = 5.0


class Acceptor:
    """Watches a non-blocking listener and hands each accepted socket to
    ``on_accept``; ``close()`` stops and unbinds it.

    Args:
        loop: the loop to watch the listener on.
        listener: a bound, listening, non-blocking ``TCPServerSocket``.
        socket_class: the ``TCPSocket`` class to accept into.
        on_accept: called with each accepted socket.
        open_count: how many connections are open (for the log line).
        log: where failures go.
    """

    def __init__(
        self,
        loop: EventLoop,
        listener: Any,
        socket_class: Any,
        on_accept: Callable[[Any], None],
        open_count: Callable[[], int],
        log: logging.Logger,
    ) -> None:
        self._loop = loop
        self._listener = listener
        self._socket_class = socket_class
        self._on_accept = on_accept
        self._open_count = open_count
        self._log = log
        self._retry: Timer | None = None
        self._failure_logged = -float("inf")
        self._closed = False
        loop.watch(listener, self._accept_all)

    def _accept_all(self, _event: object = None) -> None:
        listener = self._listener
        for _ in range(ACCEPT_BATCH):
            if self._closed:
                return
            sock = self._socket_class()
            try:
                if not sock.accept(listener):
                    return
            except OSError as exc:
                self._back_off(exc)
                return
            self._on_accept(sock)

    def _back_off(self, exc: OSError) -> None:
        """EMFILE/ENFILE/ENOBUFS: stop accepting for a moment, or the
        still-readable listener would spin the loop."""
        now = self._loop.time()
        level = logging.WARNING if exc.errno in (errno.EMFILE, errno.ENFILE) else logging.ERROR
        if now - self._failure_logged < ACCEPT_LOG_EVERY:
            level = logging.DEBUG  # once in a while is enough while it lasts
        else:
            self._failure_logged = now
        self._log.log(level, "accept failed (%d connections open): %s", self._open_count(), exc)
        self._loop.unwatch(self._listener)
        self._retry = self._loop.call_later(ACCEPT_RETRY, self._resume)

    def _resume(self) -> None:
        self._retry = None
        if not self._closed:
            self._loop.watch(self._listener, self._accept_all)

    def close(self) -> None:
        """Stop accepting and unbind the listener; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        try:
            self._loop.unwatch(self._listener)
        except Exception:  # the monitor may be closed already
            pass
        self._listener.unbind()
