"""How a session reads its socket: one reader, chosen when the session starts.

The three strategies (``pump.py``'s module docstring says why each exists):
``NonBlockingReader`` (one bounded read per call, SPEC 14),
``DescriptorReader`` (a blocking socket's descriptor, many records per
system call) and ``RecordReader`` (whole records through the socket's
interface alone). ``reader_for`` chooses; the session holds the object and
chooses again only when its mode changes.
"""

from __future__ import annotations

import os
import select
from typing import ClassVar, Protocol

from nettls.interfaces import ISelectable

__all__ = [
    "Socket", "SelectableSocket", "Reader", "NonBlockingReader", "DescriptorReader", "RecordReader", "reader_for",
    "NONBLOCKING_READ", "FAST_READ",
]  # fmt: skip

#: Ciphertext read from a non-blocking socket at a time; a non-blocking call
#: reads once, so this is also its work per call (SPEC 14).
NONBLOCKING_READ = 65536
#: Ciphertext read at a time through a blocking socket's descriptor. Not
#: more: above 128 KiB malloc maps fresh pages for every read.
FAST_READ = 65536
#: Largest ciphertext record body TLS allows (2^14 + 2048).
MAX_RECORD_BODY = 16384 + 2048
#: Record content types: change_cipher_spec, alert, handshake, application_data, heartbeat.
_CONTENT_TYPES = frozenset((20, 21, 22, 23, 24))
#: The descriptor fast path needs ``os.read`` on a socket and ``poll``: POSIX.
_FAST_PATH = os.name == "posix" and hasattr(select, "poll")
_POLLIN = getattr(select, "POLLIN", 1)


class Socket(Protocol):
    """What a session uses of its ``ITCPSocket``."""

    def recv(self, n: int) -> bytes: ...
    def send(self, data: bytes | memoryview) -> int: ...
    def sendBuffer(self) -> int: ...
    def getBufferUnsent(self) -> int: ...
    def connected(self) -> bool: ...
    def setNonBlocking(self, sendWaitData: object = None) -> bool: ...


class SelectableSocket(Socket, Protocol):
    """A socket that also provides ``ISelectable`` (what the fast path uses)."""

    def fileno(self) -> int: ...
    def isNonBlocking(self) -> bool: ...


class Feeder(Protocol):
    """Where a reader puts what it read (the session's ``Pump``)."""

    def _feed(self, data: bytes) -> None: ...
    def _feed_eof(self) -> None: ...


class Reader(Protocol):
    """How a session takes ciphertext from its socket (chosen when it starts)."""

    #: Socket reads one call may make (SPEC 14); None: as many as it takes.
    per_call: ClassVar[int | None]

    def pull(self, sock: Socket, feeder: Feeder) -> bool:
        """Feed the engine ciphertext (or end of stream); False if none is there yet."""

    def call_ended(self) -> None:
        """The call made its reads and the engine still needs input."""


class NonBlockingReader:
    """One ``recv(NONBLOCKING_READ)`` per call (see the module docstring)."""

    __slots__ = ("_drained",)
    per_call: ClassVar[int | None] = 1

    def __init__(self) -> None:
        self._drained = False  # the last read emptied the kernel's buffer

    def pull(self, sock: Socket, feeder: Feeder) -> bool:
        if self._drained:
            self._drained = False  # (a system call and an exception saved)
            return False
        data = sock.recv(NONBLOCKING_READ)
        if data:
            self._drained = len(data) < NONBLOCKING_READ
            feeder._feed(data)
            return True
        if sock.connected():
            return False
        feeder._feed_eof()
        return True

    def call_ended(self) -> None:
        self._drained = False  # the engine took all of it: the next call reads


class DescriptorReader:
    """A blocking socket's descriptor first, its ``recv(1)`` to wait."""

    __slots__ = ("_poller", "_fd")
    per_call: ClassVar[int | None] = None

    def __init__(self) -> None:
        self._poller = select.poll()
        self._fd = -1

    def pull(self, sock: Socket, feeder: Feeder) -> bool:
        data = self._ready(sock)
        if data is None:
            # Nothing there yet: wait for one byte through the socket's
            # interface (its timeout), then take what came with it.
            data = sock.recv(1)
            if not data:
                feeder._feed_eof()
                return True
            more = self._ready(sock)
            if more:
                data += more
        feeder._feed(data)
        return True

    def _ready(self, sock: Socket) -> bytes | None:
        """What the descriptor has already received, without waiting; None
        when nothing is there (or at end of stream or a reset, which the
        socket's own ``recv()`` then reports)."""
        fd = sock.fileno()  # type: ignore[attr-defined]  # (chosen for ISelectable sockets only)
        if fd < 0:
            return None
        if fd != self._fd:
            if self._fd >= 0:
                self._poller.unregister(self._fd)
            self._poller.register(fd, _POLLIN)
            self._fd = fd
        if not self._poller.poll(0):
            return None
        try:
            return os.read(fd, FAST_READ) or None
        except OSError:
            return None

    def call_ended(self) -> None:
        """Never called: blocking calls have no read budget."""


class RecordReader:
    """Whole records through a blocking socket's ``recv(n)``."""

    __slots__ = ("_body_left",)
    per_call: ClassVar[int | None] = None

    def __init__(self) -> None:
        self._body_left = 0  # of the record whose header was fed

    def pull(self, sock: Socket, feeder: Feeder) -> bool:
        if not self._body_left:
            header = sock.recv(5)
            if len(header) < 5 or header[0] not in _CONTENT_TYPES or header[1] != 3:
                feeder._feed(header)  # short (end of stream) or not TLS: the engine says why
                feeder._feed_eof()
                return True
            length = (header[3] << 8) | header[4]
            # The engine keeps a partial record, so the header goes in now and
            # a body read that times out loses nothing: _body_left says where
            # the next pull picks up.
            feeder._feed(header)
            if length > MAX_RECORD_BODY:
                feeder._feed_eof()  # the engine refuses the length itself
                return True
            self._body_left = length
            if not length:
                return True
        left = self._body_left
        body = sock.recv(left)  # a timeout leaves _body_left as it was
        self._body_left = 0
        if body:
            feeder._feed(body)
        if len(body) < left:  # a blocking recv() comes back short only at end of stream
            feeder._feed_eof()
        return True

    def call_ended(self) -> None:
        """Never called: blocking calls have no read budget."""


def reader_for(sock: Socket, nonblocking: bool) -> Reader:
    """The reader a session over ``sock`` uses in the given mode."""
    if nonblocking:
        return NonBlockingReader()
    if _FAST_PATH and ISelectable.providedBy(sock):
        return DescriptorReader()
    return RecordReader()
