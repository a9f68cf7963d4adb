"""``TCPSocket``: one TCP connection.

Theory of operation
-------------------

A ``TCPSocket`` owns at most one OS socket. Its life is one ``_State``:
``IDLE`` (made, never connected) -> ``OPEN`` (``connect``/``accept``) ->
``PEER_CLOSED`` (a ``recv`` saw end of stream or a reset, or a ``send``
found the connection broken) -> ``CLOSED`` (``disconnect``; a closed socket
may connect again). ``connected()`` is simply ``state is OPEN``.

Modes. Blocking mode keeps the OS socket in Python's blocking or timeout
mode (``setTimeout``), so the kernel does the waiting: ``send`` is
``sendall`` and ``recv(n)`` loops on ``recv_into`` until ``n`` bytes or end
of stream, against one deadline for the whole call. Bytes a timed-out
``recv`` had already read are kept and returned first by the next ``recv``,
so a timeout loses nothing; ``accept`` with a timeout first polls a blocking
listener for at most that long. Non-blocking mode puts the OS socket in
``O_NONBLOCK`` and nothing ever waits: ``EAGAIN`` means "no data yet"
(``recv`` returns ``b""`` and ``connected()`` stays True) or "kernel buffer
full" (``send`` queues).

The send queue (SPEC section 7) exists only in non-blocking mode. Its
invariant, true after every call::

    sum(send returns) + sum(sendBuffer returns) + getBufferUnsent()
        == sum(len(data) given to send)

``send`` writes straight to the kernel only while the queue is empty (so
order is kept), queues what the kernel did not take, and fires ``sendWait``
when it queued anything; with bytes already queued it appends everything,
returns 0 and fires nothing (a notification is already due).
``sendBuffer`` writes from the head of the queue until it is empty or the
kernel says ``EAGAIN``, and fires ``sendWait`` when bytes remain. A
``shutdownOutput`` asked for while bytes are queued is done by the
``sendBuffer`` that empties the queue, so the FIN follows the data.

Threads. One thread may be in ``recv`` while another is in ``send`` or
``sendBuffer`` (full duplex): the read side touches only the OS socket and
the stash of a timed-out ``recv``, the write side only the OS socket and
the send queue, and no lock is ever held across a system call, so the two
never serialise. Events fire with no lock held.

Closing. ``disconnect`` first reads away input that arrived unread (a
kernel closing a socket with unread input sends a reset, not a FIN, and the
reset throws away bytes still queued for the peer: TLS 1.3 session tickets
a client never read are enough), then shuts the socket down, which also
wakes a thread blocked in it, and closes it.
"""

from __future__ import annotations

import enum
import errno
import socket
import time
from typing import Any

from zope.interface import implementer

from nettls.interfaces import IHalfClose, ISelectable, ITCPSocket, ITimeout, NetworkEndpoint

from .._common.events import Event
from .._common.sendqueue import SendQueue
from .._common.streamargs import as_view, check_recv_size
from ._addresses import _check_address, _check_port, _check_timeout, _endpoint, _show
from ._dial import _dial
from ._errors import _connection_error, _is_timeout, _timed_out
from ._io import _DONTWAIT, _SEND_FLAGS, _close, _drain, _read_on, _send_now
from ._server import TCPServerSocket

__all__ = ["TCPSocket"]

# Peek without waiting.
_PEEK_FLAGS = socket.MSG_PEEK | _DONTWAIT


class _State(enum.Enum):
    IDLE = "idle"  # made, never connected
    OPEN = "connected"  # connected() is True
    PEER_CLOSED = "peer closed"  # end of stream or reset seen; we may still send after a half-close
    CLOSED = "closed"  # disconnect() ran


# The members by plain name: ``_State.OPEN`` is a lookup through the enum's
# metaclass, several times a module global's cost in CPython 3.11.
_IDLE = _State.IDLE
_OPEN = _State.OPEN
_PEER_CLOSED = _State.PEER_CLOSED
_CLOSED = _State.CLOSED


@implementer(ITCPSocket, ISelectable, IHalfClose, ITimeout)
class TCPSocket:
    """A TCP connection; see ``ITCPSocket`` and the module's theory of operation."""

    __slots__ = (
        "sendWait", "_sock", "_state", "_nonblocking", "_send_wait_data", "_timeout", "_queue", "_stash",
        "_remote_addr", "_local_addr", "_local", "_output_shut", "_shutdown_pending", "__weakref__",
    )  # fmt: skip

    def __init__(self) -> None:
        self.sendWait = Event("sendWait")
        self._sock: socket.socket | None = None
        self._state = _IDLE
        self._nonblocking = False
        self._send_wait_data: Any = None
        self._timeout: float | None = None
        self._queue = SendQueue()
        self._stash = b""  # bytes a timed-out blocking recv() had read
        # Socket addresses, made endpoints when asked for (most never are); a
        # local endpoint already known (from the listener) is kept as it is.
        self._remote_addr: Any = None
        self._local_addr: Any = None
        self._local: NetworkEndpoint | None = None
        self._output_shut = False
        self._shutdown_pending = False

    # connection life

    def connect(self, address: str, port: int) -> bool:
        """See ``ITCPSocket.connect``. Always waits for the outcome, even in
        non-blocking mode, bounded by ``setTimeout`` over the whole call (every
        address of a host name included); running out raises ``ConnectTimeoutError``."""
        _check_address(address, "connect")
        _check_port(port, "connect")
        if self._sock is not None:  # (the message is made only when needed)
            self._check_unconnected(f"connect({address!r}, {port})")
        self._attach(*_dial(address, port, self._timeout))
        return True

    def accept(self, server: TCPServerSocket) -> bool:
        """See ``ITCPSocket.accept``; False also when ``server`` is not (or no longer) bound.
        A blocking ``server`` is waited on for at most ``setTimeout`` (``TimeoutError``)."""
        if not isinstance(server, TCPServerSocket):
            raise TypeError(f"accept() takes a TCPServerSocket of the tcp component, not {type(server).__name__}")
        self._check_unconnected("accept()")
        if self._timeout is not None and not server._nonblocking:
            server._await_connection(self._timeout)
        pair = server._accept()
        if pair is None:
            return False
        self._attach(pair[0], pair[1], server._accepted_local)
        return True

    def disconnect(self) -> None:
        """See ``ITCPSocket.disconnect``; queued bytes are dropped."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._state = _CLOSED
        if self._nonblocking:  # only non-blocking mode queues
            self._queue.clear()
        self._stash = b""
        self._remote_addr = self._local_addr = self._local = None
        self._output_shut = self._shutdown_pending = False
        _close(sock)

    def connected(self) -> bool:
        """See ``ITCPSocket.connected``."""
        return self._state is _OPEN

    def getRemoteEndpoint(self) -> NetworkEndpoint | None:
        """See ``ITCPSocket.getRemoteEndpoint``; kept after the peer closes, until ``disconnect()``."""
        addr = self._remote_addr
        return None if addr is None else _endpoint(addr)

    def getLocalEndpoint(self) -> NetworkEndpoint | None:
        """See ``ITCPSocket.getLocalEndpoint``; kept after the peer closes, until ``disconnect()``."""
        if self._local is None and self._local_addr is not None:
            return _endpoint(self._local_addr)
        return self._local

    # modes

    def setNonBlocking(self, sendWaitData: Any = None) -> bool:
        """See ``ITCPSocket.setNonBlocking``; may be called before connecting."""
        self._send_wait_data = sendWaitData
        self._nonblocking = True
        if self._sock is not None:
            self._sock.setblocking(False)
        return True

    def isNonBlocking(self) -> bool:
        """See ``ISelectable.isNonBlocking``."""
        return self._nonblocking

    def setTimeout(self, seconds: float | None) -> None:
        """See ``ITimeout.setTimeout``; ignored while in non-blocking mode."""
        seconds = self._timeout = _check_timeout(seconds)
        if self._sock is not None and not self._nonblocking:
            self._sock.settimeout(seconds)

    def fileno(self) -> int:
        """See ``ISelectable.fileno``."""
        sock = self._sock
        return -1 if sock is None else sock.fileno()

    # sending

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """See ``IStream.send`` and SPEC section 7."""
        if type(data) is not bytes:  # bytes go to the kernel as they are
            data = as_view(data)
        sock = self._sock
        if sock is None or self._output_shut:
            sock = self._writable_socket()  # raises
        try:
            if not self._nonblocking:
                sock.sendall(data, _SEND_FLAGS)
                return len(data)
            if self._queue:
                self._queue.append(data)
                return 0
            sent = _send_now(sock, data)
        except OSError as exc:
            raise self._send_error(exc, "send()") from exc
        if sent < len(data):
            self._queue.append(memoryview(data)[sent:])
            self.sendWait.fire(self, self._send_wait_data)
        return sent

    def sendBuffer(self) -> int:
        """See ``ITCPSocket.sendBuffer`` and SPEC section 7."""
        queue = self._queue
        if not queue:
            return 0
        sock = self._writable_socket(shut_ok=True)
        try:
            written = _drain(sock, queue)
        except OSError as exc:
            raise self._send_error(exc, "sendBuffer()") from exc
        if queue:
            self.sendWait.fire(self, self._send_wait_data)
        elif self._shutdown_pending:
            self._shutdown_pending = False
            self._shutdown_write(sock)
        return written

    def getBufferUnsent(self) -> int:
        """See ``ITCPSocket.getBufferUnsent``."""
        return len(self._queue) if self._nonblocking else 0  # only non-blocking mode queues

    def shutdownOutput(self) -> None:
        """See ``IHalfClose.shutdownOutput``; with bytes queued the FIN follows them
        (sent by the ``sendBuffer()`` that empties the queue). Does nothing when
        not connected."""
        sock = self._sock
        if sock is None or self._output_shut:
            return
        self._output_shut = True
        if self._queue:
            self._shutdown_pending = True
        else:
            self._shutdown_write(sock)

    # receiving

    def recv(self, n: int) -> bytes:
        """See ``IStream.recv``; after a ``TimeoutError`` the bytes already read
        come first in the next call."""
        if type(n) is not int or n <= 0:
            check_recv_size(n)  # raises (or passes an int subclass)
        sock = self._sock
        if sock is None:
            return self._take_stash(n)
        if self._nonblocking:
            return self._recv_now(sock, n)
        return self._recv_all(sock, n)

    def _recv_now(self, sock: socket.socket, n: int) -> bytes:
        data = self._take_stash(n) if self._stash else b""
        if len(data) == n:
            return data
        try:
            more = sock.recv(n - len(data))
        except BlockingIOError:
            return data
        except OSError:
            self._peer_closed()
            return data
        if not more:
            self._peer_closed()
        return data + more if data else more

    def _recv_all(self, sock: socket.socket, n: int) -> bytes:
        start = time.monotonic()
        data = self._take_stash(n) if self._stash else b""
        if not data:  # the common case: one system call may be enough
            try:
                data = sock.recv(n)
            except OSError as exc:
                if _is_timeout(exc):
                    raise _timed_out("recv()", _show(self.getRemoteEndpoint()), self._timeout) from exc
                self._peer_closed()
                return b""
            if not data:
                self._peer_closed()
        if len(data) == n or not data:
            return data
        deadline = None if self._timeout is None else start + self._timeout
        data, why = _read_on(sock, data, n, deadline)
        if why == "timeout":
            self._stash = data
            raise _timed_out("recv()", _show(self.getRemoteEndpoint()), self._timeout)
        if why == "end":
            self._peer_closed()
        return data

    # Python protocols

    def __enter__(self) -> TCPSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        mode = "non-blocking" if self._nonblocking else "blocking"
        where = "" if self._sock is None else f" {_show(self.getLocalEndpoint())} -> {_show(self.getRemoteEndpoint())}"
        unsent = f" unsent={len(self._queue)}" if self._queue else ""
        return f"<TCPSocket {self._state.value}{where} {mode}{unsent}>"

    # internals

    def _attach(self, sock: socket.socket, peer: Any = None, local: NetworkEndpoint | None = None) -> None:
        """Adopt a connected OS socket in this object's mode; ``local`` is its
        local endpoint where already known (accepted from a listener on one
        address), else the kernel is asked. The endpoints themselves are
        made when first asked for (most connections never are)."""
        timeout = 0.0 if self._nonblocking else self._timeout
        if sock.gettimeout() != timeout:  # an accepted socket is already blocking
            sock.settimeout(timeout)
        self._local = local
        try:
            self._remote_addr = peer if peer is not None else sock.getpeername()
            if local is None:
                self._local_addr = sock.getsockname()
        except OSError:  # reset before we looked: recv() will say so
            pass
        if self._state is not _IDLE:  # connected before: disconnect() reset all, but a send racing it may not
            self._queue.clear()
            self._stash = b""
            self._output_shut = self._shutdown_pending = False
        self._sock = sock
        self._state = _OPEN

    def _check_unconnected(self, call: str) -> None:
        if self._sock is not None:
            raise ConnectionError(errno.EISCONN, f"{call}: already connected to {_show(self.getRemoteEndpoint())}")

    def _writable_socket(self, shut_ok: bool = False) -> socket.socket:
        sock = self._sock
        if sock is None:
            raise ConnectionError(errno.ENOTCONN, f"cannot send: {self._state.value}, not connected")
        if self._output_shut and not shut_ok:
            raise ConnectionError(errno.EPIPE, f"cannot send to {_show(self.getRemoteEndpoint())}: output shut down")
        return sock

    def _send_error(self, exc: OSError, call: str) -> OSError:
        if _is_timeout(exc):
            return _timed_out(call, _show(self.getRemoteEndpoint()), self._timeout)
        self._peer_closed()
        return _connection_error(exc, f"{call} to {_show(self.getRemoteEndpoint())} failed")

    def _peer_closed(self) -> None:
        if self._state is _OPEN:
            self._state = _PEER_CLOSED

    def _take_stash(self, n: int) -> bytes:
        stash = self._stash
        self._stash = stash[n:]
        return stash[:n]

    def _shutdown_write(self, sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # already reset: nothing left to end
            pass

    def _peer_gone(self) -> bool:
        """True if the peer closed or reset (peeks; for a readable socket only)."""
        sock = self._sock
        if sock is None:
            return True
        try:
            return not sock.recv(1, _PEEK_FLAGS)
        except (BlockingIOError, TimeoutError):
            return False
        except OSError:
            return True

