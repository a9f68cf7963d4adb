"""Python's ``ssl`` (OpenSSL, the reference library) as a peer, with no
command line needed: the clauses that need a peer of a given protocol
version or cipher suite run wherever Python does.

``server(identity, directory, work)`` serves one loopback connection with
an ``ssl`` server socket and runs ``work(tls_socket)`` in a thread;
``client(port, work)`` connects an ``ssl`` client (which verifies nothing:
the session under test is what is checked). Both take the protocol
versions and the cipher list to pin, and give the outcome as ``work``'s
result, or the text of the ``ssl``/``OSError`` raised.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from pathlib import Path
from typing import Any, Callable

from .kits import DEFAULT_TIMEOUT, LOOPBACK, Background
from .pki import Identity

__all__ = ["server", "client", "Served", "TLS11", "TLS12", "SHA1_SUITE"]

#: Protocol pins: (minimum, maximum).
TLS11 = (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)
TLS12 = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
#: A TLS 1.2 suite with a SHA-1 MAC: in CIPHER_ALL (SPEC 8), in no secure default.
SHA1_SUITE = "ECDHE-RSA-AES128-SHA"
#: OpenSSL 3 offers or takes TLS 1.1 only at security level 0 (SPEC 8's testing note).
_LEVEL_ZERO = "DEFAULT:@SECLEVEL=0"

Work = Callable[[ssl.SSLSocket], Any]


def _pin(ctx: ssl.SSLContext, versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None, ciphers: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: that is the point
        if versions is not None:
            ctx.minimum_version, ctx.maximum_version = versions
        if ciphers is not None or versions == TLS11:
            ctx.set_ciphers(ciphers or _LEVEL_ZERO)


def _run(raw: socket.socket, wrap: Callable[[socket.socket], ssl.SSLSocket], work: Work) -> Any:
    """``work`` on ``raw`` once wrapped (its handshake done); the socket is closed after."""
    try:
        with wrap(raw) as tls:
            return work(tls)
    except (ssl.SSLError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        raw.close()


class Served:
    """One connection served by an ``ssl`` server: ``port``, then ``join()``."""

    def __init__(self, ctx: ssl.SSLContext, work: Work) -> None:
        self.listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self.listener.getsockname()[1]
        self._ctx = ctx
        self._thread = Background(self._serve, work, name="ssl server")

    def _serve(self, work: Work) -> Any:
        try:
            conn, _ = self.listener.accept()
        finally:
            self.listener.close()
        conn.settimeout(DEFAULT_TIMEOUT)
        return _run(conn, lambda raw: self._ctx.wrap_socket(raw, server_side=True), work)

    def join(self) -> Any:
        """``work``'s result, or the error's text; the listener is closed."""
        try:
            return self._thread.join()
        finally:
            self.listener.close()


def server(
    identity: Identity,
    directory: Path,
    work: Work,
    *,
    versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None,
    ciphers: str | None = None,
) -> Served:
    """An ``ssl`` server presenting ``identity`` (files written to ``directory``)."""
    cert, key = directory / "ssl-server-cert.pem", directory / "ssl-server-key.pem"
    cert.write_text(identity.cert_pem + "".join(identity.chain_pems))
    key.write_text(identity.key_pem())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _pin(ctx, versions, ciphers)
    ctx.load_cert_chain(str(cert), str(key))
    return Served(ctx, work)


def client(
    port: int,
    work: Work,
    *,
    versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None,
    ciphers: str | None = None,
) -> Any:
    """Connect an ``ssl`` client to loopback ``port`` and run ``work``; its
    result, or the error's text."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the peer is the session under test, not a server to trust
    _pin(ctx, versions, ciphers)
    raw = socket.create_connection((LOOPBACK, port), timeout=DEFAULT_TIMEOUT)
    return _run(raw, lambda sock: ctx.wrap_socket(sock, server_hostname="localhost"), work)
