"""``TCPServerSocket``: a listening socket.

``bind`` takes a host name, an address or one of the wildcards of
``TCPServerSocketConstants``; a wildcard tries its address families in order
(``_WILDCARDS``), a name binds its first address that works. ``unbind``
shuts the socket down before closing it, which wakes a thread blocked in
``accept``. ``TCPSocket.accept`` takes connections through ``_accept``;
when the socket listens on one address (not a wildcard), every connection
it accepts has that same local endpoint (``_accepted_local``), so the
accepted socket need not ask the kernel (``getsockname``) for it.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
from typing import Any

from zope.interface import implementer

from nettls.interfaces import (
    ISelectable,
    IServerSocketOptions,
    ITCPServerSocket,
    NetworkEndpoint,
    TCPServerSocketConstants,
)

from ._addresses import _check_address, _check_port, _endpoint, _show
from ._errors import _os_error, _timed_out
from ._io import _wait_readable

__all__ = ["TCPServerSocket"]

# Ask the kernel for the largest accept queue: a server faces thousands of
# connections, and Linux silently caps this at net.core.somaxconn anyway.
_BACKLOG = max(socket.SOMAXCONN, 4096)
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
# Linux's accept4() never passes the listener's O_NONBLOCK on to the new
# socket; other systems' accept() may.
_ACCEPT_KEEPS_NONBLOCK = not sys.platform.startswith("linux")


def _is_wildcard(address: str) -> bool:
    """True for an unspecified address (0.0.0.0, ::), however it was bound."""
    return ipaddress.ip_address(address.partition("%")[0]).is_unspecified


@implementer(ITCPServerSocket, ISelectable, IServerSocketOptions)
class TCPServerSocket(TCPServerSocketConstants):
    """A listening TCP socket; see ``ITCPServerSocket``."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._nonblocking = False
        self._local: NetworkEndpoint | None = None
        # The local endpoint of every accepted connection: ours when we listen
        # on one address; None on a wildcard (each connection has its own).
        self._accepted_local: NetworkEndpoint | None = None
        self._kind: tuple[int, int, int] = (0, 0, 0)  # family, type, protocol of what we accept

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
        self._local = local = _endpoint(sock.getsockname())
        self._accepted_local = None if _is_wildcard(local.address) else local
        self._kind = (sock.family, sock.type, sock.proto)
        self._sock = sock
        return True

    def unbind(self) -> None:
        """See ``ITCPServerSocket.unbind``; a thread blocked in ``accept`` gets False."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._local = self._accepted_local = None
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

    def _await_connection(self, seconds: float) -> None:
        """Wait up to ``seconds`` for a connection; TimeoutError if none came.
        Returns at once when unbound or unbound meanwhile (``_accept`` then
        says so). Two threads waiting on one listener may both wake for one
        connection: the one that does not get it waits in ``_accept``."""
        sock = self._sock
        if sock is not None and not _wait_readable(sock, seconds):
            raise _timed_out("accept()", _show(self._local), seconds)

    def _accept(self) -> tuple[socket.socket, Any] | None:
        """The next waiting connection and its peer address, or None (see ``accept``)."""
        while True:
            sock = self._sock
            if sock is None:
                return None
            try:
                # socket.accept() less its Python: it turns the listener's
                # family and type into enums (four Python calls) every time.
                fd, peer = sock._accept()  # type: ignore[attr-defined]
                conn = socket.socket(*self._kind, fd)
                if self._nonblocking and _ACCEPT_KEEPS_NONBLOCK:
                    conn.setblocking(False)  # tell the socket object what its descriptor may be
                return conn, peer
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

