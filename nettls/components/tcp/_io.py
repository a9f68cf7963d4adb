"""Raw work on an OS socket: waiting for input (``TCPServerSocket`` shares
it), and ``TCPSocket``'s system-call loops: writing what the kernel takes
now, draining the send queue, reading on to exactly ``n`` bytes, and
closing after reading away unread input."""

from __future__ import annotations

import select
import socket
import time

from .._common.sendqueue import SendQueue
from ._errors import _is_timeout

# disconnect() reads away at most this much unread input (see _discard_input),
# so a peer that never stops sending cannot keep it busy.
_DISCARD_CHUNK = 1 << 16
_DISCARD_CHUNKS = 64
# Read without waiting, where the platform can say so per call (no system
# call to make the socket non-blocking first).
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
# A write to a connection the peer reset must raise EPIPE, never kill the
# process with SIGPIPE (Python ignores SIGPIPE, but an embedding host may not).
_SEND_FLAGS = getattr(socket, "MSG_NOSIGNAL", 0)


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


def _close(sock: socket.socket) -> None:
    """Close a connected socket: read away unread input (see
    ``_discard_input``), shut it down (which wakes a thread blocked in it),
    close it."""
    _discard_input(sock)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already reset
        pass
    sock.close()


def _send_now(sock: socket.socket, data: bytes | memoryview) -> int:
    """How much of ``data`` the kernel takes now, without waiting (0 when its
    buffer is full); an ``OSError`` other than ``EAGAIN`` propagates."""
    total = len(data)
    try:
        sent = sock.send(data, _SEND_FLAGS)
    except BlockingIOError:
        return 0
    if 0 < sent < total:  # the kernel took part: it may take more
        view = memoryview(data)
        while sent < total:
            try:
                k = sock.send(view[sent:], _SEND_FLAGS)
            except BlockingIOError:
                break
            if not k:
                break
            sent += k
    return sent


def _drain(sock: socket.socket, queue: SendQueue) -> int:
    """Write from the head of ``queue`` until it is empty or the kernel's
    buffer is full; how many bytes went. Any other ``OSError`` propagates."""
    written = 0
    while queue:
        with queue.peek() as chunk:
            try:
                n = sock.send(chunk, _SEND_FLAGS)
            except BlockingIOError:
                break
        queue.consume(n)
        written += n
    return written


def _read_on(sock: socket.socket, data: bytes, n: int, deadline: float | None) -> tuple[bytes, str]:
    """``data`` and what a blocking ``sock`` gives after it, up to ``n`` bytes,
    with why the reading stopped: "full", "end" (end of stream or a reset)
    or "timeout" (``deadline``, a ``time.monotonic()`` value, passed; None
    waits for ever). Nothing read is lost: every byte is in the result."""
    buf = bytearray(n)
    got = len(data)
    buf[:got] = data
    why = "full"
    with memoryview(buf) as view:
        while got < n:
            try:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not _wait_readable(sock, remaining):
                        why = "timeout"
                        break
                k = sock.recv_into(view[got:])
            except OSError as exc:
                why = "timeout" if _is_timeout(exc) else "end"
                break
            if not k:
                why = "end"
                break
            got += k
    del buf[got:]
    return bytes(buf), why
