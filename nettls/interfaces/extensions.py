"""Extension interfaces: what real programs need beyond the Dana API.

Never extra methods on the spec interfaces (SPEC section 1): a component
provides these alongside, and callers check with ``IFoo.providedBy(obj)``.
Every built-in component provides all of them. The TLS extensions beyond
SPEC section 11 (host names, SNI, ALPN, client certificates, system trust,
minimum version, resumption, end of stream) are in ``tlsext.py`` and
re-exported here; ``EXTENSION_INTERFACES`` names every extension interface.
"""

from __future__ import annotations

from zope.interface import Interface
from zope.interface.interface import InterfaceClass

from .tlstrust import IEncryptedKeys, IKeyLog, ISystemTrust
from .tlsext import (
    TLS_VERSIONS,
    ClientCertificateConstants,
    IClientCertificates,
    IEndOfStream,
    IMinimumVersion,
    INegotiatedProtocol,
    IProtocolNegotiation,
    IRecvInto,
    IResumption,
    IServerName,
    IServerNameCertificates,
    IVerifiedChain,
    IVerifyOnConnect,
    IVerifyResult,
    NameCertificate,
)

__all__ = [
    "EXTENSION_INTERFACES",
    "ISelectable",
    "IServerSocketOptions",
    "IHalfClose",
    "ITimeout",
    "ISessionInfo",
    "IProtocolNegotiation",
    "IMinimumVersion",
    "IClientCertificates",
    "IServerNameCertificates",
    "IVerifyOnConnect",
    "ISystemTrust",
    "IServerName",
    "INegotiatedProtocol",
    "IVerifyResult",
    "IVerifiedChain",
    "IKeyLog",
    "IEncryptedKeys",
    "IResumption",
    "IEndOfStream",
    "IRecvInto",
    "ClientCertificateConstants",
    "NameCertificate",
    "TLS_VERSIONS",
]


class ISelectable(Interface):
    """A socket a ``TCPMonitor`` (or a session's fast path) can wait on."""

    def fileno():
        """The OS file descriptor, or -1 when closed."""

    def isNonBlocking():
        """True once the socket is in non-blocking mode."""


class IServerSocketOptions(Interface):
    """Server-socket controls for event-driven servers."""

    def setNonBlocking():
        """Make ``TCPSocket.accept(server)`` return False at once when no
        connection waits. Returns True."""

    def getLocalEndpoint():
        """The bound ``NetworkEndpoint`` (the real port after binding port 0)."""


class IHalfClose(Interface):
    """Half-closing a TCP connection."""

    def shutdownOutput():
        """Send FIN and keep reading: the peer sees end of stream."""


class ITimeout(Interface):
    """A bound on each blocking call of a TCP socket."""

    def setTimeout(seconds):
        """Bound each blocking call (connect, recv, send, and a session's
        blocking handshake or I/O over this socket) to ``seconds``; None
        waits for ever. A call that runs out raises ``TimeoutError`` (a
        session raises ``nettls.TLSTimeoutError``)."""


class ISessionInfo(Interface):
    """What was negotiated, and why a session failed."""

    def getProtocolVersion():
        """The protocol in use, such as "TLSv1.3"; None before the handshake."""

    def getCipherSuite():
        """The cipher suite's name, such as "TLS_AES_256_GCM_SHA384"; None before."""

    def getFailureReason():
        """The reason behind the last FAIL or TLSError, or None."""


#: Every extension interface, by its Python name (what ``nettls.resolve(...,
#: provides=[...])`` and ``nettls components`` accept and show).
EXTENSION_INTERFACES: dict[str, InterfaceClass] = {
    iface.__name__: iface
    for iface in (
        ISelectable,
        IServerSocketOptions,
        IHalfClose,
        ITimeout,
        ISessionInfo,
        IServerName,
        INegotiatedProtocol,
        IVerifyResult,
        IVerifiedChain,
        IResumption,
        IEndOfStream,
        IRecvInto,
        IProtocolNegotiation,
        IMinimumVersion,
        IClientCertificates,
        IServerNameCertificates,
        IVerifyOnConnect,
        IKeyLog,
        IEncryptedKeys,
        ISystemTrust,
    )
}
