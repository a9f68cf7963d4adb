"""Waiting on and draining an OS socket: the two pieces of raw socket work
``TCPSocket`` and ``TCPServerSocket`` share (imports nothing of the package)."""

from __future__ import annotations

import select
import socket

# disconnect() reads away at most this much unread input (see _discard_input),
# so a peer that never stops sending cannot keep it busy.
_DISCARD_CHUNK = 1 << 16
_DISCARD_CHUNKS = 64
# Read without waiting, where the platform can say so per call (no system
# call to make the socket non-blocking first).
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


if hasattr(select, "poll"):

    def _wait_readable(sock: socket.socket, seconds: float) -> bool:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(seconds * 1000.0))

else:  # pragma: no cover - Windows

    def _wait_readable(sock: socket.socket, seconds: float) -> bool:
        return bool(select.select([sock], [], [], seconds)[0])


def _discard_input(sock: socket.socket) -> None:
    """Drop what has arrived unread. Closing a socket with unread input sends
    a reset instead of a FIN (RFC 2525), and a reset can destroy data the peer
    has not read yet: TLS 1.3 session tickets a client never read are enough."""
    flags = _DONTWAIT
    try:
        if not flags or sock.gettimeout():
            # No per-call flag, or Python would wait for input before reading
            # (a socket with a timeout): make the socket itself non-blocking.
            sock.setblocking(False)
            flags = 0
        for _ in range(_DISCARD_CHUNKS):
            if len(sock.recv(_DISCARD_CHUNK, flags)) < _DISCARD_CHUNK:
                return
    except OSError:  # nothing (more) to read, or already reset
        pass
