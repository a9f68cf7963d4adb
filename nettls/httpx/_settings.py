"""What a ``nettls.httpx`` transport verifies and presents: one CLIENT context.

The transport's arguments become one nettls ``TLSContext`` of the chosen
component, made once and shared by every connection (SPEC 8: a context is
configuration). Each need is checked against the component's classes
before any connection is made, and refused with an error naming the
missing extension interface:

    verify=True       IVerifyOnConnect (context), IServerName (session),
                      ISystemTrust (store): the system's roots and the host name
    verify="ca.pem"   IVerifyOnConnect, IServerName: that file's (or
    or trust=store    directory's, or store's) certificates and the host name
    verify=False      nothing: no verification (see the note on rustls below)
    cert=(crt, key)   nothing beyond the spec: setCertificate on a CLIENT context
    http2=True        IProtocolNegotiation (context), INegotiatedProtocol
                      (session), and the h2 package

A component whose client always verifies the chain in the handshake
(``Component.client_verifies_chain``, the rustls plugin) still verifies it
against the system's roots with ``verify=False``: it cannot connect
unverified (SPEC 6).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import nettls
from nettls.aio._channel import SessionMaker, require
from nettls.components.kit import certificate_pem, file_certificates, file_private_key
from nettls.interfaces import (
    CertificateError,
    INegotiatedProtocol,
    IProtocolNegotiation,
    IServerName,
    ISystemTrust,
    ITLSCertStore,
    IVerifyOnConnect,
    TLSError,
)

__all__ = ["ClientSettings", "read_identity"]

#: Largest certificate or key file read: a key or a chain is a few KiB.
MAX_IDENTITY_FILE = 1024 * 1024
def _read(path: str | os.PathLike[str], what: str) -> bytes:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"nettls.httpx: {what} must be a file path, not {type(path).__name__}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IDENTITY_FILE + 1)
    except OSError as exc:
        raise ValueError(f"nettls.httpx: cannot read {what} {path!r}: {exc.strerror or exc}") from exc
    if len(data) > MAX_IDENTITY_FILE:
        raise ValueError(f"nettls.httpx: {what} {path!r} is larger than {MAX_IDENTITY_FILE // 1024} KiB")
    return data


def read_identity(cert: Any) -> tuple[str, str, list[str]]:
    """``(certificate, key, chain)`` PEM from httpx's ``cert``: a file holding
    the certificate, its chain and the key, or ``(certfile, keyfile)``, or
    ``(certfile, keyfile, password)`` for a PKCS#8 encrypted key (decrypted
    in memory). Read by nettls's strict PEM parser, in its file mode."""
    password: bytes | None = None
    if isinstance(cert, (str, os.PathLike)):
        cert_data = key_data = _read(cert, "cert")
    elif isinstance(cert, tuple) and len(cert) in (2, 3):
        if len(cert) == 3 and cert[2]:
            password = cert[2].encode("utf-8") if isinstance(cert[2], str) else bytes(cert[2])
        cert_data, key_data = _read(cert[0], "the certificate file"), _read(cert[1], "the key file")
    else:
        raise TypeError("nettls.httpx: cert must be a file path or a (certfile, keyfile[, password]) tuple")
    try:
        certs = [certificate_pem(c) for c in file_certificates(cert_data, "nettls.httpx: cert", MAX_IDENTITY_FILE)]
        if not certs:
            raise ValueError("nettls.httpx: cert holds no PEM certificate")
        if b"PRIVATE KEY-----" not in key_data:
            raise ValueError("nettls.httpx: cert holds no PEM private key")
        key = file_private_key(key_data, "nettls.httpx: the key", MAX_IDENTITY_FILE, password=password)
    except CertificateError as exc:  # a ValueError too; said as the parser says it
        raise ValueError(str(exc)) from None
    return certs[0], key, certs[1:]


class ClientSettings:
    """The context and session maker of one transport (see the module docstring)."""

    def __init__(
        self,
        component: str | None,
        verify: bool | str | os.PathLike[str],
        cert: Any,
        trust: Any,
        http2: bool,
        tcp_component: str | None = None,
    ) -> None:
        layer = "nettls.httpx"
        name = component or nettls.registry.linked("net.TLS") or "?"
        Context: Any = nettls.resolve("net.TLSContext", component=component)
        Store: Any = nettls.resolve("net.TLSCertStore", component=component)
        TLS: Any = nettls.resolve("net.TLS", component=component)
        context = Context(Context.CLIENT)
        if verify is not False:
            why = f"verify={verify!r} (verifying the server and its name in the handshake)"
            require(Context, [IVerifyOnConnect], f"{layer}: the net.TLSContext of component {name!r}", why)
            require(TLS, [IServerName], f"{layer}: the net.TLS of component {name!r}", why)
            context.setVerifyOnConnect(self._trust_store(Store, name, verify, trust), checkHostName=True)
        elif trust is not None:
            raise ValueError("nettls.httpx: trust= is what verification trusts; it makes no sense with verify=False")
        if cert is not None:
            certificate, key, chain = read_identity(cert)
            context.setCertificate(certificate, key)
            if chain:
                context.setCertificateChain(chain)
        if http2:
            if importlib.util.find_spec("h2") is None:
                raise ImportError("nettls.httpx: http2=True needs the h2 package: pip install 'nettls[httpx]'")
            why = "http2=True (ALPN)"
            require(Context, [IProtocolNegotiation], f"{layer}: the net.TLSContext of component {name!r}", why)
            require(TLS, [INegotiatedProtocol], f"{layer}: the net.TLS of component {name!r}", why)
            context.setApplicationProtocols(["h2", "http/1.1"])
        elif IProtocolNegotiation.providedBy(context):
            context.setApplicationProtocols(["http/1.1"])
        self.context = context
        self.maker = SessionMaker(context, component, tcp_component, layer)

    @staticmethod
    def _trust_store(Store: Any, name: str, verify: Any, trust: Any) -> Any:
        """The store verification trusts: ``trust``'s certificates, else
        ``verify``'s file or directory, else the system's roots."""
        store = Store()
        if trust is not None:
            if not ITLSCertStore.providedBy(trust):
                raise TypeError(f"nettls.httpx: trust must be a TLSCertStore, not {type(trust).__name__}")
            for pem in trust.certificates:
                store.addCertificate(pem)
            if not store.certificates:
                raise ValueError("nettls.httpx: the trust store holds no certificate")
        elif verify is True:
            require(Store, [ISystemTrust], f"nettls.httpx: the net.TLSCertStore of component {name!r}", "verify=True (the system's roots)")
            if not store.loadSystemTrust():
                raise TLSError("nettls.httpx: verify=True, but no trusted root certificates were found on this system")
        elif isinstance(verify, (str, os.PathLike)):
            if not store.loadLocation(os.fspath(verify)):
                raise ValueError(f"nettls.httpx: verify={os.fspath(verify)!r}: no certificate could be loaded from it")
        else:
            raise TypeError(f"nettls.httpx: verify must be True, False or a CA file or directory, not {verify!r}")
        return store
