"""The ``tcp`` component: ``net.TCPSocket``, ``net.TCPServerSocket`` and
``net.TCPMonitor`` on Python's ``socket``, ``select`` and ``selectors``.

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
so a timeout loses nothing. Non-blocking mode puts the OS socket in
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

The monitor. On Linux ``TCPMonitor`` drives ``select.epoll`` directly,
registering ``EPOLLIN | EPOLLRDHUP`` so that a peer's FIN or reset is seen
as ``close`` without a read; elsewhere it uses ``selectors`` and tells a
close by peeking one byte (``MSG_PEEK``) when a socket turns readable.
``armSendNotify`` adds write interest and the first writable report drops
it again (one-shot). The kernel forgets a descriptor when it is closed, so a
socket disconnected while watched simply stops reporting; its entry is
dropped at ``remSocket`` or when its descriptor number is reused, and the
selectors fallback checks ``fileno()`` on each report. ``wait`` allocates
nothing per event beyond the ``MonitorEvent``.
"""

from __future__ import annotations

import enum
import errno
import math
import platform
import select
import selectors
import socket
import threading
import time
from typing import Any, Callable, Protocol

from zope.interface import implementer

from nettls.interfaces import (
    IHalfClose,
    ISelectable,
    IServerSocketOptions,
    ITCPMonitor,
    ITCPServerSocket,
    ITCPSocket,
    ITimeout,
    MonitorEvent,
    NetworkEndpoint,
    TCPServerSocketConstants,
)
from nettls.interfaces.component import Component

from ._common.events import Event
from ._common.sendqueue import SendQueue
from ._common.streamargs import as_view, check_recv_size

__all__ = ["TCPSocket", "TCPServerSocket", "TCPMonitor", "ConnectTimeoutError", "COMPONENT"]

# Ask the kernel for the largest accept queue: a server faces thousands of
# connections, and Linux silently caps this at net.core.somaxconn anyway.
_BACKLOG = max(socket.SOMAXCONN, 4096)
# A write to a connection the peer reset must raise EPIPE, never kill the
# process with SIGPIPE (Python ignores SIGPIPE, but an embedding host may not).
_SEND_FLAGS = getattr(socket, "MSG_NOSIGNAL", 0)
# What each wildcard of bind() listens on, in order; the next is tried only
# when the host lacks the previous one's family. "ANY" is dual stack: one
# IPv6 socket that also takes IPv4 (as mapped addresses), where IPv6 exists.
_Candidate = tuple[int, str, bool | None]  # family, host, IPV6_V6ONLY (None: leave it)
_WILDCARDS: dict[str, tuple[_Candidate, ...]] = {
    TCPServerSocketConstants.ANY_ADDRESS: ((socket.AF_INET6, "::", False), (socket.AF_INET, "0.0.0.0", None)),
    TCPServerSocketConstants.ANY_ADDRESS_v4: ((socket.AF_INET, "0.0.0.0", None),),
    TCPServerSocketConstants.ANY_ADDRESS_v6: ((socket.AF_INET6, "::", True),),
}
_NO_FAMILY = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)
# disconnect() reads away at most this much unread input (see _discard_input),
# so a peer that never stops sending cannot keep it busy.
_DISCARD_CHUNK = 1 << 16
_DISCARD_CHUNKS = 64
# Peek without waiting, where the platform can say so per call.
_PEEK_FLAGS = socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)


class ConnectTimeoutError(ConnectionError, TimeoutError):
    """``connect()`` ran out of time: both a ``ConnectionError`` (as
    ``connect`` promises) and a ``TimeoutError`` (as ``setTimeout`` does)."""


class _State(enum.Enum):
    IDLE = "idle"  # made, never connected
    OPEN = "connected"  # connected() is True
    PEER_CLOSED = "peer closed"  # end of stream or reset seen; we may still send after a half-close
    CLOSED = "closed"  # disconnect() ran


# --- small helpers -----------------------------------------------------------


def _check_address(address: object, call: str) -> str:
    if not isinstance(address, str):
        raise TypeError(f"{call}() takes the address as a str, not {type(address).__name__}")
    if not address:
        raise ValueError(f"{call}() takes a non-empty address")
    return address


def _check_port(port: object, call: str) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"{call}() takes the port as an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"{call}() takes a port from 0 to 65535, not {port}")
    return port


def _endpoint(sockaddr: Any) -> NetworkEndpoint:
    """A ``NetworkEndpoint`` from a socket address, IPv4-mapped IPv6 unmapped."""
    host = sockaddr[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return NetworkEndpoint(host, sockaddr[1])


def _show(ep: NetworkEndpoint | None) -> str:
    if ep is None:
        return "-"
    return f"[{ep.address}]:{ep.port}" if ":" in ep.address else f"{ep.address}:{ep.port}"


def _os_error(exc: OSError, message: str) -> OSError:
    """A new ``OSError`` (same errno, so the same subclass) saying ``message``."""
    if exc.errno is None or isinstance(exc, socket.gaierror):
        return OSError(f"{message}: {exc.strerror or exc}")
    return OSError(exc.errno, f"{message}: {exc.strerror}")


def _connection_error(exc: OSError, message: str) -> ConnectionError:
    """``exc`` as a ``ConnectionError`` saying ``message``, keeping the subclass
    (``ConnectionRefusedError`` ...) where it already was one."""
    cls = type(exc) if isinstance(exc, ConnectionError) else ConnectionError
    if exc.errno is None or isinstance(exc, socket.gaierror):
        return cls(f"{message}: {exc.strerror or exc}")
    return cls(exc.errno, f"{message}: {exc.strerror}")


def _is_timeout(exc: OSError) -> bool:
    """Python's own socket timeout (errno None), not a kernel ETIMEDOUT."""
    return isinstance(exc, TimeoutError) and exc.errno is None


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
    try:
        sock.setblocking(False)
        for _ in range(_DISCARD_CHUNKS):
            if len(sock.recv(_DISCARD_CHUNK)) < _DISCARD_CHUNK:
                return
    except OSError:  # nothing (more) to read, or already reset
        pass


# --- TCPSocket ---------------------------------------------------------------


@implementer(ITCPSocket, ISelectable, IHalfClose, ITimeout)
class TCPSocket:
    """A TCP connection; see ``ITCPSocket`` and the module's theory of operation."""

    __slots__ = (
        "sendWait",
        "_sock",
        "_state",
        "_nonblocking",
        "_send_wait_data",
        "_timeout",
        "_queue",
        "_stash",
        "_remote",
        "_local",
        "_output_shut",
        "_shutdown_pending",
        "__weakref__",
    )

    def __init__(self) -> None:
        self.sendWait = Event("sendWait")
        self._sock: socket.socket | None = None
        self._state = _State.IDLE
        self._nonblocking = False
        self._send_wait_data: Any = None
        self._timeout: float | None = None
        self._queue = SendQueue()
        self._stash = b""  # bytes a timed-out blocking recv() had read
        self._remote: NetworkEndpoint | None = None
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
        self._check_unconnected(f"connect({address!r}, {port})")
        what = f"cannot connect to {address} port {port}"
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        try:
            infos = socket.getaddrinfo(address, port, 0, socket.SOCK_STREAM)
        except OSError as exc:
            raise _connection_error(exc, what) from exc
        last: OSError | None = None
        for family, kind, proto, _, sockaddr in infos:
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:
                last = exc
                continue
            try:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise socket.timeout("timed out")
                    sock.settimeout(remaining)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                last = exc
                if _is_timeout(exc):
                    break
                continue
            self._attach(sock, sockaddr)
            return True
        if last is None:  # getaddrinfo gave nothing usable
            raise ConnectionError(f"{what}: no usable address")
        if _is_timeout(last):
            raise ConnectTimeoutError(errno.ETIMEDOUT, f"{what}: timed out after {self._timeout} s") from last
        raise _connection_error(last, what) from last

    def accept(self, server: TCPServerSocket) -> bool:
        """See ``ITCPSocket.accept``; False also when ``server`` is not (or no longer) bound."""
        if not isinstance(server, TCPServerSocket):
            raise TypeError(f"accept() takes a TCPServerSocket of the tcp component, not {type(server).__name__}")
        self._check_unconnected("accept()")
        pair = server._accept()
        if pair is None:
            return False
        self._attach(*pair)
        return True

    def disconnect(self) -> None:
        """See ``ITCPSocket.disconnect``; queued bytes are dropped."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._state = _State.CLOSED
        self._queue.clear()
        self._stash = b""
        self._remote = self._local = None
        self._output_shut = self._shutdown_pending = False
        _discard_input(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv()
        except OSError:
            pass
        sock.close()

    def connected(self) -> bool:
        """See ``ITCPSocket.connected``."""
        return self._state is _State.OPEN

    def getRemoteEndpoint(self) -> NetworkEndpoint | None:
        """See ``ITCPSocket.getRemoteEndpoint``; kept after the peer closes, until ``disconnect()``."""
        return self._remote

    def getLocalEndpoint(self) -> NetworkEndpoint | None:
        """See ``ITCPSocket.getLocalEndpoint``; kept after the peer closes, until ``disconnect()``."""
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
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise TypeError(f"setTimeout() takes seconds as a number or None, not {type(seconds).__name__}")
            if not seconds > 0:
                raise ValueError(f"setTimeout() takes a positive number of seconds or None, not {seconds}")
            seconds = None if math.isinf(seconds) else float(seconds)
        self._timeout = seconds
        if self._sock is not None and not self._nonblocking:
            self._sock.settimeout(seconds)

    def fileno(self) -> int:
        """See ``ISelectable.fileno``."""
        sock = self._sock
        return -1 if sock is None else sock.fileno()

    # sending

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """See ``IStream.send`` and SPEC section 7."""
        view = as_view(data)
        sock = self._writable_socket()
        if not self._nonblocking:
            try:
                sock.sendall(view, _SEND_FLAGS)
            except OSError as exc:
                raise self._send_error(exc, "send()") from exc
            return len(view)
        if self._queue:
            self._queue.append(view)
            return 0
        total = len(view)
        sent = 0
        while sent < total:
            try:
                sent += sock.send(view[sent:], _SEND_FLAGS)
            except BlockingIOError:
                break
            except OSError as exc:
                raise self._send_error(exc, "send()") from exc
        if sent < total:
            self._queue.append(view[sent:])
            self.sendWait.fire(self, self._send_wait_data)
        return sent

    def sendBuffer(self) -> int:
        """See ``ITCPSocket.sendBuffer`` and SPEC section 7."""
        queue = self._queue
        if not queue:
            return 0
        sock = self._writable_socket(shut_ok=True)
        written = 0
        while queue:
            with queue.peek() as chunk:
                try:
                    n = sock.send(chunk, _SEND_FLAGS)
                except BlockingIOError:
                    break
                except OSError as exc:
                    raise self._send_error(exc, "sendBuffer()") from exc
            queue.consume(n)
            written += n
        if queue:
            self.sendWait.fire(self, self._send_wait_data)
        elif self._shutdown_pending:
            self._shutdown_pending = False
            self._shutdown_write(sock)
        return written

    def getBufferUnsent(self) -> int:
        """See ``ITCPSocket.getBufferUnsent``."""
        return len(self._queue)

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
        check_recv_size(n)
        sock = self._sock
        if sock is None:
            return self._take_stash(n)
        if self._nonblocking:
            return self._recv_now(sock, n)
        return self._recv_all(sock, n)

    def _recv_now(self, sock: socket.socket, n: int) -> bytes:
        data = self._take_stash(n)
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
        data = self._take_stash(n)
        if not data:  # the common case: one system call may be enough
            try:
                data = sock.recv(n)
            except OSError as exc:
                if _is_timeout(exc):
                    raise self._timeout_error("recv()") from exc
                self._peer_closed()
                return b""
            if not data:
                self._peer_closed()
        if len(data) == n or not data:
            return data
        buf = bytearray(n)
        got = len(data)
        buf[:got] = data
        timeout = self._timeout
        with memoryview(buf) as view:
            while got < n:
                try:
                    if timeout is not None:
                        remaining = start + timeout - time.monotonic()
                        if remaining <= 0 or not _wait_readable(sock, remaining):
                            raise socket.timeout("timed out")
                    k = sock.recv_into(view[got:])
                except OSError as exc:
                    if _is_timeout(exc):
                        self._stash = bytes(buf[:got])
                        raise self._timeout_error("recv()") from exc
                    self._peer_closed()
                    break
                if not k:
                    self._peer_closed()
                    break
                got += k
        del buf[got:]
        return bytes(buf)

    # Python protocols

    def __enter__(self) -> TCPSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        mode = "non-blocking" if self._nonblocking else "blocking"
        where = "" if self._sock is None else f" {_show(self._local)} -> {_show(self._remote)}"
        unsent = f" unsent={len(self._queue)}" if self._queue else ""
        return f"<TCPSocket {self._state.value}{where} {mode}{unsent}>"

    # internals

    def _attach(self, sock: socket.socket, peer: Any = None) -> None:
        """Adopt a connected OS socket in this object's mode."""
        if self._nonblocking:
            sock.setblocking(False)
        else:
            sock.settimeout(self._timeout)
        try:
            self._remote = _endpoint(peer if peer is not None else sock.getpeername())
            self._local = _endpoint(sock.getsockname())
        except OSError:  # reset before we looked: recv() will say so
            pass
        self._queue.clear()
        self._stash = b""
        self._output_shut = self._shutdown_pending = False
        self._sock = sock
        self._state = _State.OPEN

    def _check_unconnected(self, call: str) -> None:
        if self._sock is not None:
            raise ConnectionError(errno.EISCONN, f"{call}: already connected to {_show(self._remote)}")

    def _writable_socket(self, shut_ok: bool = False) -> socket.socket:
        sock = self._sock
        if sock is None:
            raise ConnectionError(errno.ENOTCONN, f"cannot send: {self._state.value}, not connected")
        if self._output_shut and not shut_ok:
            raise ConnectionError(errno.EPIPE, f"cannot send to {_show(self._remote)}: output shut down")
        return sock

    def _send_error(self, exc: OSError, call: str) -> OSError:
        if _is_timeout(exc):
            return self._timeout_error(call)
        self._peer_closed()
        return _connection_error(exc, f"{call} to {_show(self._remote)} failed")

    def _timeout_error(self, call: str) -> TimeoutError:
        return TimeoutError(errno.ETIMEDOUT, f"{call} on {_show(self._remote)} timed out after {self._timeout} s")

    def _peer_closed(self) -> None:
        if self._state is _State.OPEN:
            self._state = _State.PEER_CLOSED

    def _take_stash(self, n: int) -> bytes:
        stash = self._stash
        if not stash:
            return b""
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


# --- TCPServerSocket ---------------------------------------------------------


@implementer(ITCPServerSocket, ISelectable, IServerSocketOptions)
class TCPServerSocket(TCPServerSocketConstants):
    """A listening TCP socket; see ``ITCPServerSocket``."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._nonblocking = False
        self._local: NetworkEndpoint | None = None

    def bind(self, address: str, port: int, reuseAddress: bool = False) -> bool:
        """See ``ITCPServerSocket.bind``; a host name binds its first address that works."""
        _check_address(address, "bind")
        _check_port(port, "bind")
        if self._sock is not None:
            raise OSError(errno.EINVAL, f"bind({address!r}, {port}): already bound to {_show(self._local)}")
        wildcard = _WILDCARDS.get(address)
        try:
            if wildcard is not None:
                sock = self._listen_wildcard(wildcard, port, reuseAddress)
            else:
                sock = self._listen_named(address, port, reuseAddress)
        except OSError as exc:
            raise _os_error(exc, f"cannot bind to {address} port {port}") from exc
        if self._nonblocking:
            sock.setblocking(False)
        self._local = _endpoint(sock.getsockname())
        self._sock = sock
        return True

    def unbind(self) -> None:
        """See ``ITCPServerSocket.unbind``; a thread blocked in ``accept`` gets False."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._local = None
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept() (Linux)
        except OSError:
            pass
        sock.close()

    def setNonBlocking(self) -> bool:
        """See ``IServerSocketOptions.setNonBlocking``; may be called before ``bind``."""
        self._nonblocking = True
        if self._sock is not None:
            self._sock.setblocking(False)
        return True

    def isNonBlocking(self) -> bool:
        """See ``ISelectable.isNonBlocking``."""
        return self._nonblocking

    def getLocalEndpoint(self) -> NetworkEndpoint | None:
        """See ``IServerSocketOptions.getLocalEndpoint``; None when not bound."""
        return self._local

    def fileno(self) -> int:
        """See ``ISelectable.fileno``."""
        sock = self._sock
        return -1 if sock is None else sock.fileno()

    def __enter__(self) -> TCPServerSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.unbind()

    def __repr__(self) -> str:
        mode = "non-blocking" if self._nonblocking else "blocking"
        where = "unbound" if self._sock is None else f"listening on {_show(self._local)}"
        return f"<TCPServerSocket {where} {mode}>"

    # internals

    def _accept(self) -> tuple[socket.socket, Any] | None:
        """The next waiting connection and its peer address, or None (see ``accept``)."""
        while True:
            sock = self._sock
            if sock is None:
                return None
            try:
                return sock.accept()
            except BlockingIOError:
                return None
            except ConnectionAbortedError:  # gone before we took it
                if self._nonblocking:
                    return None
            except OSError as exc:
                if self._sock is None or exc.errno in (errno.EBADF, errno.EINVAL):
                    return None  # unbound meanwhile
                raise _os_error(exc, f"accept on {_show(self._local)} failed") from exc

    @staticmethod
    def _listen(family: int, sockaddr: Any, reuse: bool, v6only: bool | None = None) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if reuse:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if v6only is not None:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
            sock.bind(sockaddr)
            sock.listen(_BACKLOG)
        except BaseException:
            sock.close()
            raise
        return sock

    def _listen_wildcard(self, candidates: tuple[_Candidate, ...], port: int, reuse: bool) -> socket.socket:
        for i, (family, host, v6only) in enumerate(candidates):
            try:
                return self._listen(family, (host, port), reuse, v6only)
            except OSError as exc:
                if i == len(candidates) - 1 or exc.errno not in _NO_FAMILY:
                    raise
        raise AssertionError("unreachable")

    def _listen_named(self, address: str, port: int, reuse: bool) -> socket.socket:
        first: OSError | None = None
        infos = socket.getaddrinfo(address, port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
        for family, _, _, _, sockaddr in infos:
            try:
                return self._listen(family, sockaddr, reuse)
            except OSError as exc:
                first = first or exc
        raise first or OSError(f"no address for {address}")


# --- TCPMonitor --------------------------------------------------------------


class _Poller(Protocol):
    """What ``TCPMonitor`` needs from an OS readiness API. Reports are
    ``(fd, mask)`` with ``mask`` tested against ``IN``, ``OUT`` and ``CLOSED``."""

    IN: int
    OUT: int
    CLOSED: int

    def register(self, fd: int, obj: Any, write: bool) -> None: ...

    def modify(self, fd: int, obj: Any, write: bool) -> None: ...

    def unregister(self, fd: int, live: bool) -> None: ...

    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]: ...

    def close(self) -> None: ...


class _EpollPoller:
    """Linux: epoll with EPOLLRDHUP, so a peer's FIN or reset shows without a read."""

    IN = getattr(select, "EPOLLIN", 0)
    OUT = getattr(select, "EPOLLOUT", 0)
    CLOSED = getattr(select, "EPOLLRDHUP", 0) | getattr(select, "EPOLLHUP", 0) | getattr(select, "EPOLLERR", 0)
    _READ = IN | getattr(select, "EPOLLRDHUP", 0)

    def __init__(self) -> None:
        self._epoll = select.epoll()

    def register(self, fd: int, obj: Any, write: bool) -> None:
        mask = self._READ | self.OUT if write else self._READ
        try:
            self._epoll.register(fd, mask)
        except FileExistsError:  # this very descriptor is registered already
            self._epoll.modify(fd, mask)

    def modify(self, fd: int, obj: Any, write: bool) -> None:
        self._epoll.modify(fd, self._READ | self.OUT if write else self._READ)

    def unregister(self, fd: int, live: bool) -> None:
        if live:  # the kernel dropped a closed descriptor by itself
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass

    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]:
        return self._epoll.poll(timeout, maxevents)

    def close(self) -> None:
        self._epoll.close()


class _SelectorPoller:
    """Portable: ``selectors``; a close is told by peeking at a readable socket."""

    IN = selectors.EVENT_READ
    OUT = selectors.EVENT_WRITE
    CLOSED = 4

    def __init__(self, selector: Callable[[], selectors.BaseSelector] = selectors.DefaultSelector) -> None:
        self._selector = selector()

    def register(self, fd: int, obj: Any, write: bool) -> None:
        mask = selectors.EVENT_READ | selectors.EVENT_WRITE if write else selectors.EVENT_READ
        try:
            self._selector.register(fd, mask, obj)
        except KeyError:  # registered already, perhaps for a descriptor since closed
            self._selector.unregister(fd)
            self._selector.register(fd, mask, obj)

    def modify(self, fd: int, obj: Any, write: bool) -> None:
        self._selector.modify(fd, selectors.EVENT_READ | selectors.EVENT_WRITE if write else selectors.EVENT_READ, obj)

    def unregister(self, fd: int, live: bool) -> None:
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError, OSError):
            pass

    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]:
        wait = None if timeout < 0 else timeout
        try:
            ready = self._selector.select(wait)
        except (OSError, ValueError):  # select() refuses a closed descriptor
            self._drop_stale()
            ready = self._selector.select(wait)
        reports = []
        for key, mask in ready:
            obj = key.data
            if obj.fileno() != key.fd:  # closed while watched
                self.unregister(key.fd, False)
                continue
            if mask & selectors.EVENT_READ:
                peer_gone = getattr(obj, "_peer_gone", None)
                if peer_gone is not None and peer_gone():
                    mask |= self.CLOSED
            reports.append((key.fd, mask))
        return reports

    def close(self) -> None:
        self._selector.close()

    def _drop_stale(self) -> None:
        for key in list(self._selector.get_map().values()):
            if key.data.fileno() != key.fd:
                self.unregister(key.fd, False)


_HAS_EPOLL = hasattr(select, "epoll") and hasattr(select, "EPOLLRDHUP")


def _default_poller() -> _Poller:
    return _EpollPoller() if _HAS_EPOLL else _SelectorPoller()


class _Entry:
    """One watched socket."""

    __slots__ = ("socket", "userData", "fd", "armed")

    def __init__(self, sock: Any, userData: Any, fd: int) -> None:
        self.socket = sock
        self.userData = userData
        self.fd = fd
        self.armed = False


@implementer(ITCPMonitor)
class TCPMonitor:
    """Readiness of many sockets at once; see ``ITCPMonitor``.

    ``wait`` runs in one thread; ``addSocket``, ``armSendNotify`` and
    ``remSocket`` may be called from others meanwhile.
    """

    __slots__ = ("_poller", "_by_fd", "_by_socket", "_lock", "__weakref__")

    _poller_factory: Callable[[], _Poller] = staticmethod(_default_poller)

    def __init__(self) -> None:
        self._poller: _Poller | None = self._poller_factory()
        self._by_fd: dict[int, _Entry] = {}
        self._by_socket: dict[int, _Entry] = {}  # id(socket): the entry holds the socket alive
        self._lock = threading.Lock()

    def addSocket(self, s: Any, userData: Any = None) -> bool:
        """See ``ITCPMonitor.addSocket``; adding a watched socket again replaces its
        ``userData``. False (nothing watched) when ``s`` is closed."""
        if not ISelectable.providedBy(s):
            raise TypeError(
                "addSocket() takes a socket providing nettls.interfaces.ISelectable "
                f"(fileno() and isNonBlocking()), such as a TCPSocket or TCPServerSocket, not {type(s).__name__}"
            )
        poller = self._live_poller("addSocket")
        fd = s.fileno()
        if fd < 0:
            return False
        with self._lock:
            entry = self._by_socket.get(id(s))
            if entry is not None:
                if entry.fd == fd:
                    # Register again: the socket may have been reconnected
                    # under the same number, which the kernel forgot at close.
                    poller.register(fd, s, entry.armed)
                    entry.userData = userData
                    return True
                self._forget(entry)  # reconnected under a new number
            stale = self._by_fd.get(fd)
            if stale is not None:  # another socket's, closed while watched
                self._forget(stale)
            poller.register(fd, s, False)
            entry = _Entry(s, userData, fd)
            self._by_fd[fd] = entry
            self._by_socket[id(s)] = entry
        return True

    def armSendNotify(self, s: Any) -> bool:
        """See ``ITCPMonitor.armSendNotify``; arming twice before the event is arming
        once. False when ``s`` is not watched or is closed."""
        poller = self._live_poller("armSendNotify")
        with self._lock:
            entry = self._by_socket.get(id(s))
            if entry is None or s.fileno() != entry.fd:
                return False
            if not entry.armed:
                try:
                    poller.modify(entry.fd, s, True)
                except OSError:
                    return False
                entry.armed = True
        return True

    def remSocket(self, s: Any) -> None:
        """See ``ITCPMonitor.remSocket``."""
        with self._lock:
            entry = self._by_socket.get(id(s))
            if entry is not None and self._poller is not None:
                self._forget(entry)

    def wait(self, ms: float | None = None) -> list[MonitorEvent]:
        """See ``ITCPMonitor.wait``."""
        poller = self._live_poller("wait")
        if ms is None:
            timeout = -1.0
        elif isinstance(ms, bool) or not isinstance(ms, (int, float)):
            raise TypeError(f"wait() takes milliseconds as a number or None, not {type(ms).__name__}")
        elif ms < 0:
            raise ValueError(f"wait() takes a number of milliseconds >= 0 or None, not {ms}")
        else:
            timeout = ms / 1000.0
        ready = poller.poll(timeout, len(self._by_fd) or 1)
        receive, send, closed = poller.IN, poller.OUT, poller.CLOSED
        by_fd = self._by_fd
        events = []
        for fd, mask in ready:
            entry = by_fd.get(fd)
            if entry is None:
                continue
            send_ready = False
            if mask & send and entry.armed:
                send_ready = True
                self._disarm(entry)
            recv_ready = bool(mask & receive)
            close = bool(mask & closed)
            if recv_ready or send_ready or close:
                events.append(MonitorEvent(entry.socket, entry.userData, recv_ready, send_ready, close))
        return events

    def close(self) -> None:
        """Release the OS selector; later calls raise ValueError. Safe to repeat."""
        with self._lock:
            poller, self._poller = self._poller, None
            self._by_fd.clear()
            self._by_socket.clear()
        if poller is not None:
            poller.close()

    def __len__(self) -> int:
        return len(self._by_socket)

    def __enter__(self) -> TCPMonitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._poller is None:
            return "<TCPMonitor closed>"
        return f"<TCPMonitor {type(self._poller).__name__[1:-6].lower()} watching {len(self._by_socket)}>"

    # internals

    def _live_poller(self, call: str) -> _Poller:
        poller = self._poller
        if poller is None:
            raise ValueError(f"{call}() on a closed TCPMonitor")
        return poller

    def _forget(self, entry: _Entry) -> None:
        """Drop ``entry``; called with the lock held."""
        if self._by_socket.get(id(entry.socket)) is entry:
            del self._by_socket[id(entry.socket)]
        if self._by_fd.get(entry.fd) is entry:  # else the number is another socket's now
            del self._by_fd[entry.fd]
            assert self._poller is not None
            self._poller.unregister(entry.fd, entry.socket.fileno() == entry.fd)

    def _disarm(self, entry: _Entry) -> None:
        with self._lock:
            if entry.armed and self._poller is not None:
                entry.armed = False
                try:
                    self._poller.modify(entry.fd, entry.socket, False)
                except OSError:  # closed meanwhile
                    pass


COMPONENT = Component(
    name="tcp",
    provides={
        "net.TCPSocket": TCPSocket,
        "net.TCPServerSocket": TCPServerSocket,
        "net.TCPMonitor": TCPMonitor,
    },
    description="TCP sockets, server sockets and a readiness monitor on Python's socket and selectors",
    library=f"Python {platform.python_version()} socket and {'epoll' if _HAS_EPOLL else 'selectors'}",
)
