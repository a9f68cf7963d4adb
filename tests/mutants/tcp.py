"""Mutants of the TCP component: the tcp classes (stripped of their
extensions for the core clauses), one realistic bug each."""

from __future__ import annotations

import os
import select
import socket
import struct
from typing import Any

from nettls.components._common.events import Event
from nettls.interfaces import NetworkEndpoint

from . import mutant
from .bases import FullServerSocket, FullTCPSocket, PlainMonitor, PlainServerSocket, PlainTCPSocket


@mutant("1.interfaces")
class LazySendWait(PlainTCPSocket):
    """The sendWait event is made by setNonBlocking(), the only mode that fires it:
    a fresh socket has no sendWait attribute."""

    def __init__(self) -> None:
        super().__init__()
        del self.sendWait

    def setNonBlocking(self, sendWaitData: Any = None) -> bool:
        if not hasattr(self, "sendWait"):
            self.sendWait = Event("sendWait")
        return bool(super().setNonBlocking(sendWaitData))


@mutant("3.constants")
class WildcardConstantTypo(PlainServerSocket):
    """ANY_ADDRESS_v6 is spelt "ANY6", not Dana's "ANY_v6"."""

    ANY_ADDRESS_v6 = "ANY6"


@mutant("4.broken-recv")
class PeekErrorEscapes(PlainTCPSocket):
    """A blocking recv() waits for input and peeks at it first; the peek's
    ConnectionResetError escapes after a reset."""

    def recv(self, n: int) -> bytes:
        sock = self._sock
        if sock is not None and not self._nonblocking and isinstance(n, int) and n > 0:
            select.select([sock], [], [], self._timeout)
            sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # raises after a reset
        return bytes(super().recv(n))


@mutant("5.connect")
class UnnamedConnectError(PlainTCPSocket):
    """A refused connect() raises the kernel's error as it is, naming no address."""

    def connect(self, address: str, port: int) -> bool:
        try:
            return bool(super().connect(address, port))
        except ConnectionError as exc:
            raise type(exc)(exc.errno, os.strerror(exc.errno or 0)) from exc


@mutant("5.accept")
class ListenerEndpointForAll(PlainServerSocket):
    """Every accepted socket reports the listener's own endpoint as its local
    one, a wildcard (0.0.0.0) included."""

    def bind(self, address: str, port: int, reuseAddress: bool = False) -> bool:
        bound = bool(super().bind(address, port, reuseAddress))
        self._accepted_local = self._local
        return bound


@mutant("5.bind")
class UnbindTwiceRaises(PlainServerSocket):
    """unbind() of a socket that is not bound raises OSError."""

    def unbind(self) -> None:
        if self._sock is None:
            raise OSError("not bound")
        super().unbind()


@mutant("5.connected")
class ConnectedUntilDisconnect(PlainTCPSocket):
    """connected() is True from connect() to disconnect(), whatever the peer did."""

    def connected(self) -> bool:
        return self._sock is not None


@mutant("5.monitor")
class StickySendReady(PlainMonitor):
    """armSendNotify() is not one-shot: once armed, every wait() reports the socket writable."""

    def _disarm(self, entry: Any) -> None:
        pass


@mutant("5.ipv6")
class IPv4Only(PlainTCPSocket):
    """connect() resolves addresses for IPv4 only."""

    def connect(self, address: str, port: int) -> bool:
        try:
            socket.getaddrinfo(address, port, socket.AF_INET, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ConnectionError(f"cannot connect to {address} port {port}: {exc}") from exc
        return bool(super().connect(address, port))


@mutant("7.one-way-tls13", under_tls=True)
class AbruptDisconnect(PlainTCPSocket):
    """disconnect() resets the connection (SO_LINGER 0): bytes still queued for
    the peer, or not yet read by it, are thrown away."""

    def disconnect(self) -> None:
        fd = self.fileno()
        if fd >= 0:
            with socket.socket(fileno=os.dup(fd)) as dup:
                dup.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        super().disconnect()


# -- the TCP extensions of SPEC 11 ---------------------------------------------------------


@mutant("11.tcp-selectable")
class ForgetsNonBlocking(FullTCPSocket):  # type: ignore[misc,valid-type]
    """isNonBlocking() reports the mode the socket was made in, not the one set since."""

    def isNonBlocking(self) -> bool:
        return False


@mutant("11.tcp-server-options")
class RequestedPortEndpoint(FullServerSocket):  # type: ignore[misc,valid-type]
    """getLocalEndpoint() gives the port bind() was asked for, so port 0 stays 0."""

    _asked = 0

    def bind(self, address: str, port: int, reuseAddress: bool = False) -> bool:
        self._asked = port
        return bool(super().bind(address, port, reuseAddress))

    def getLocalEndpoint(self) -> Any:
        local = super().getLocalEndpoint()
        return None if local is None else NetworkEndpoint(local.address, self._asked)


@mutant("11.tcp-half-close")
class EarlyFin(FullTCPSocket):  # type: ignore[misc,valid-type]
    """shutdownOutput() sends the FIN at once, ahead of the bytes still queued."""

    def shutdownOutput(self) -> None:
        sock = self._sock
        if sock is not None and not self._output_shut:
            self._output_shut = True
            self._shutdown_write(sock)


@mutant("11.timeout")
class ConnectIgnoresTimeout(FullTCPSocket):  # type: ignore[misc,valid-type]
    """setTimeout() bounds recv() and send() but not connect(), which waits for the kernel."""

    def connect(self, address: str, port: int) -> bool:
        timeout, self._timeout = self._timeout, None
        try:
            return bool(super().connect(address, port))
        finally:
            self._timeout = timeout
