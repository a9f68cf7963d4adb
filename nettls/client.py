"""``connect_tls``: the one-call verified client (SPEC 13).

Dana's ``connect()`` authenticates nothing: the caller verifies the chain
and checks the host name. ``connect_tls`` does what a careful caller does,
with the extension interfaces and nothing else, so it works on any
component that provides them (a third party's included):

1. the trust store: ``cafile`` through ``loadLocation``, else the system's
   roots through ``ISystemTrust``;
2. a CLIENT context that verifies the chain and the host name during the
   handshake (``IVerifyOnConnect``);
3. a TCP socket whose blocking calls are bounded by ``timeout``
   (``ITimeout``), so no read waits for ever;
4. a session naming its server (``IServerName``: SNI, and the name checked).

The session it returns is the component's own, wrapped only so that
``close()`` also disconnects the socket and ``with`` closes both.
"""

from __future__ import annotations

from typing import Any

from zope.interface import directlyProvides, providedBy

from .capabilities import resolve_tls
from .interfaces import CertificateError, IServerName, ISystemTrust, ITimeout, IVerifyOnConnect, TLSError
from .registry import resolve

__all__ = ["connect_tls", "ClientSession"]


class ClientSession:
    """A connected, verified session (see ``ITLS``) that owns its socket.

    Every ``ITLS`` method is the session's own; ``close()`` also
    disconnects the TCP socket, and ``with`` ends in ``close()``.
    """

    def __init__(self, session: Any) -> None:
        self._session = session
        directlyProvides(self, providedBy(session))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def close(self) -> int:
        """close_notify (``ITLS.close``), then disconnect the socket; returns close()'s status."""
        try:
            return int(self._session.close())
        finally:
            sock = self._session.getSocket()
            if sock is not None:
                sock.disconnect()

    def __enter__(self) -> "ClientSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ClientSession {self._session!r}>"


def connect_tls(
    host: str,
    port: int,
    *,
    component: str | None = None,
    cafile: str | None = None,
    server_name: str | None = None,
    timeout: float | None = 10.0,
) -> ClientSession:
    """Connect to ``host``:``port`` and return a session whose server proved
    its identity: chain verified, host name checked, during the handshake.

    Args:
        host: a host name or an IP address to connect to.
        port: the TCP port.
        component: the TLS component (None: the linked one, or another that
            provides the extensions needed, logged as a substitution).
        cafile: a PEM file (or OpenSSL hashed directory) of trusted roots;
            None uses the system's roots.
        server_name: the name sent as SNI and checked against the
            certificate; defaults to ``host``.
        timeout: seconds that each blocking call (connect, handshake, recv,
            send) may wait; None waits for ever, as Dana does.

    Returns:
        A ``ClientSession``: the component's session, whose ``close()``
        also disconnects the socket.

    Raises:
        nettls.TLSHandshakeError: the handshake failed, the chain did not
            verify or the host name did not match (the reason says which).
        nettls.CertificateError: ``cafile`` holds no certificate.
        ConnectionError, TimeoutError: the TCP connection could not be made.
        nettls.RegistryError: no component provides what is needed.
    """
    needed = [IVerifyOnConnect, IServerName] + ([] if cafile else [ISystemTrust])
    tls = resolve_tls(component, provides=needed)
    store = tls.TLSCertStore()
    if cafile is not None:
        if not store.loadLocation(cafile):
            raise CertificateError(f"cafile {cafile!r}: no certificate could be read from it")
    elif not store.loadSystemTrust():
        raise TLSError("no system roots were found to verify the server against: pass cafile=")
    ctx = tls.TLSContext(tls.TLSContext.CLIENT)
    ctx.setVerifyOnConnect(store, checkHostName=True)
    sock = resolve("net.TCPSocket")()
    if timeout is not None:
        if not ITimeout.providedBy(sock):
            raise TLSError(f"the linked TCP socket ({type(sock).__name__}) does not provide ITimeout, needed for timeout=")
        sock.setTimeout(timeout)
    sock.connect(host, port)
    try:
        session = tls.TLS(ctx)
        session.setServerName(server_name or host)
        session.connect(sock)
    except BaseException:
        sock.disconnect()
        raise
    return ClientSession(session)
