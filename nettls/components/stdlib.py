"""The ``stdlib`` component: ``net.TLS`` on Python's ``ssl`` module.

Theory of operation
-------------------
An ``ssl.SSLObject`` over two ``ssl.MemoryBIO`` buffers is the engine that
the shared session (``_common.session``) drives: this module only maps the
``ssl`` calls and exceptions onto the engine protocol, builds
``ssl.SSLContext`` objects from context configurations (cached, since a
server makes a session per connection), and verifies chains with
``cryptography``'s verifier, since ``ssl`` has no stand-alone one.
``ssl`` reads keys only from files: they go through ``private_file`` (a
memory file on Linux, never a file on disk).

Extensions (``nettls.interfaces.tlsext``), all in ``ssl`` itself: ALPN by
``set_alpn_protocols`` (a server picks in its own order); the minimum
version by ``minimum_version``; client certificates by ``verify_mode``
(CERT_OPTIONAL / CERT_REQUIRED) over ``load_verify_locations(cadata=)``;
verification on connect by CERT_REQUIRED and ``check_hostname`` (OpenSSL's
own chain and host-name checks, during the handshake), and the chain they
built by ``get_verified_chain`` (``IVerifiedChain``); SNI by
``server_hostname`` on the client and ``sni_callback`` on the server, which
records the name the client sent and, where certificates by name are set,
switches the ``SSLObject`` to the native context of the one chosen for
it; resumption by ``SSLObject.session`` / ``session_reused`` (``ssl``
hands out a copy of the session, so it stays resumable whatever becomes of
this connection).
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

from nettls.interfaces import CertificateError, ClientCertificateConstants, VerifyStatus
from nettls.interfaces.component import Component

from ._common.config import BaseTLSContext, ContextConfig
from ._common.extensions import ExtendedCertStore, ExtendedTLSContext, ExtendedTLSSession, select_name_certificate
from ._common.keylog import keylog_path
from ._common.pem import private_file
from ._common.sslobject import SSLObjectEngine, ssl_reason
from ._x509verify import DEVIATIONS as VERIFY_DEVIATIONS
from ._x509verify import verify_chain

__all__ = ["TLS", "TLSContext", "TLSCertStore", "COMPONENT"]

#: OpenSSL's full TLS 1.2 list less unauthenticated, null, PSK and SRP suites.
CIPHERS_ALL = "ALL:!aNULL:!eNULL:!PSK:!SRP"


_TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


@functools.lru_cache(maxsize=64)
def native_context(config: ContextConfig) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for ``config``, built once per configuration."""
    server = config.server
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    if not server:
        # connect() does not authenticate (Dana): verifyCertificate() does.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    # TLS 1.0/1.1 are broken and deprecated; IMinimumVersion may raise the floor to 1.3.
    ctx.minimum_version = _TLS_VERSIONS[config.minimumVersion]
    ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED  # TLS 1.3 on
    ctx.options |= ssl.OP_NO_COMPRESSION  # CRIME
    ctx.options |= ssl.OP_NO_RENEGOTIATION  # renegotiation attacks and DoS
    if config.cipherSet == BaseTLSContext.CIPHER_ALL:
        ctx.set_ciphers(CIPHERS_ALL)
    if config.certificate and config.privateKey:
        with private_file([config.privateKey, config.certificate, *config.chain]) as path:
            try:
                ctx.load_cert_chain(path)
            except ssl.SSLError as exc:
                raise CertificateError(f"the certificate and key were refused by ssl: {ssl_reason(exc)}") from exc
    if config.applicationProtocols:
        ctx.set_alpn_protocols(list(config.applicationProtocols))  # a server picks in its own order
    keylog = keylog_path(config)
    if keylog is not None:
        ctx.keylog_filename = keylog  # IKeyLog or SSLKEYLOGFILE: for debugging only
    if server:
        policy = config.clientCertificatePolicy
        if policy != ClientCertificateConstants.CLIENT_CERT_NONE:
            require = policy == ClientCertificateConstants.CLIENT_CERT_REQUIRE
            ctx.verify_mode = ssl.CERT_REQUIRED if require else ssl.CERT_OPTIONAL
            _trust(ctx, config.clientCertificateTrust)
        ctx.sni_callback = _server_name_callback(config)
    elif config.verifyTrust is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED  # verification on connect (IVerifyOnConnect)
        _trust(ctx, config.verifyTrust)
        ctx.hostname_checks_common_name = False  # RFC 6125: subject alternative names only
        ctx.check_hostname = config.verifyHostName
    return ctx


def _trust(ctx: ssl.SSLContext, pems: tuple[str, ...]) -> None:
    try:
        ctx.load_verify_locations(cadata="".join(pems))
    except ssl.SSLError as exc:
        raise CertificateError(f"the trusted certificates were refused by ssl: {ssl_reason(exc)}") from exc


def _note_server_name(sslobj: Any, name: str | None, _ctx: ssl.SSLContext) -> None:
    """A server's ``sni_callback`` without certificates by name: note the name
    the client sent on the ``SSLObject`` (``ssl`` has no getter for it)."""
    if name is not None:  # none sent: the engine reads None
        sslobj._nettls_server_name = name


def _server_name_callback(config: ContextConfig) -> Any:
    """A server's ``sni_callback``: note the name the client sent on the
    ``SSLObject`` (``ssl`` has no getter for it) and switch to the native
    context of the certificate chosen for that name, if any. It runs in
    every handshake, so without certificates by name it only notes the name."""
    if not config.nameCertificates:
        return _note_server_name

    def on_server_name(sslobj: Any, name: str | None, _ctx: ssl.SSLContext) -> None:
        sslobj._nettls_server_name = name
        try:
            entry = select_name_certificate(config, name)
            if entry is not None:
                sslobj.context = native_context(config.for_name(entry))
        except Exception:  # an unusable entry was refused when set; the default certificate serves
            pass

    return on_server_name


class TLSContext(ExtendedTLSContext):
    """``net.TLSContext`` for the stdlib component; see ``ITLSContext`` and the
    context extensions (``nettls.interfaces.tlsext``)."""

    _native_builder = staticmethod(native_context)


class TLSCertStore(ExtendedCertStore):
    """``net.TLSCertStore`` for the stdlib component; see ``ITLSCertStore`` and ``ISystemTrust``."""


class TLS(ExtendedTLSSession):
    """``net.TLS`` on ``ssl.SSLObject``; see ``ITLS`` and the session extensions."""

    component = "stdlib"
    __slots__ = ()

    def _native_context(self, config: ContextConfig) -> ssl.SSLContext:
        return native_context(config)

    def _make_engine(self, native: ssl.SSLContext, server: bool) -> SSLObjectEngine:
        name, session = self._engine_options()
        return SSLObjectEngine(native, server, name, session)

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        return verify_chain(roots, leaf, chain)


COMPONENT = Component(
    name="stdlib",
    provides={"net.TLS": TLS, "net.TLSContext": TLSContext, "net.TLSCertStore": TLSCertStore},
    description="TLS on Python's ssl module (SSLObject over MemoryBIO); verification by cryptography",
    library=ssl.OPENSSL_VERSION,
    # Where cryptography's verifier and OpenSSL's X509_verify_cert disagree
    # (tests/test_verify_differential.py keeps this table honest).
    deviations=VERIFY_DEVIATIONS,
)
