"""The classes mutants are made of.

``Plain*``: the real components stripped of every extension interface
(``implementer_only``), so a core clause must catch a core bug with
nothing but the spec interfaces to go on. The code is the real code: only
what the classes declare changes, so the suite skips every extension test.
``Full*``: the real classes, for mutants of the extension clauses.

The sockets keep ``ISelectable``: SPEC 5 gives it to every socket of a TCP
component (a ``TCPMonitor`` watches sockets through it).
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer_only

import nettls
from nettls.interfaces import ISelectable, ITCPServerSocket, ITCPSocket, ITLS, ITLSCertStore, ITLSContext

FullTLS: Any = nettls.resolve("net.TLS", component="stdlib")
FullContext: Any = nettls.resolve("net.TLSContext", component="stdlib")
FullStore: Any = nettls.resolve("net.TLSCertStore", component="stdlib")
FullTCPSocket: Any = nettls.resolve("net.TCPSocket", component="tcp")
FullServerSocket: Any = nettls.resolve("net.TCPServerSocket", component="tcp")
FullMonitor: Any = nettls.resolve("net.TCPMonitor", component="tcp")


@implementer_only(ITLS)
class PlainTLS(FullTLS):  # type: ignore[misc,valid-type]
    """The stdlib session, declaring ITLS only."""


@implementer_only(ITLSContext)
class PlainContext(FullContext):  # type: ignore[misc,valid-type]
    """The stdlib context, declaring ITLSContext only."""


@implementer_only(ITLSCertStore)
class PlainStore(FullStore):  # type: ignore[misc,valid-type]
    """The stdlib store, declaring ITLSCertStore only."""


@implementer_only(ITCPSocket, ISelectable)
class PlainTCPSocket(FullTCPSocket):  # type: ignore[misc,valid-type]
    """The tcp socket, without timeouts and half-close."""


@implementer_only(ITCPServerSocket)
class PlainServerSocket(FullServerSocket):  # type: ignore[misc,valid-type]
    """The tcp server socket, without its extension (setNonBlocking, getLocalEndpoint)."""


class PlainMonitor(FullMonitor):  # type: ignore[misc,valid-type]
    """The tcp monitor (it has no extension to strip)."""


PLAIN_TLS = {"net.TLS": PlainTLS, "net.TLSContext": PlainContext, "net.TLSCertStore": PlainStore}
FULL_TLS = {"net.TLS": FullTLS, "net.TLSContext": FullContext, "net.TLSCertStore": FullStore}
PLAIN_TCP = {"net.TCPSocket": PlainTCPSocket, "net.TCPServerSocket": PlainServerSocket, "net.TCPMonitor": PlainMonitor}
FULL_TCP = {"net.TCPSocket": FullTCPSocket, "net.TCPServerSocket": FullServerSocket, "net.TCPMonitor": FullMonitor}

#: The control components: the plain bases, unbroken.
CONTROLS = {"plain": PLAIN_TLS, "plain-tcp": PLAIN_TCP}


def role_of(cls: type) -> tuple[str, bool]:
    """``(interface name, full?)`` of a mutant class, from its base."""
    for table, full in ((PLAIN_TLS, False), (PLAIN_TCP, False), (FULL_TLS, True), (FULL_TCP, True)):
        for interface, base in table.items():
            if issubclass(cls, base):
                return interface, full
    raise TypeError(f"{cls.__name__} subclasses none of the mutant bases")
