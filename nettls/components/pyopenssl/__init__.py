"""The ``pyopenssl`` component: ``net.TLS`` on pyOpenSSL.

Theory of operation
-------------------
An ``OpenSSL.SSL.Connection`` made with no socket (``Connection(ctx,
None)``) has two memory BIOs: ``bio_write`` feeds it ciphertext from the
peer, ``bio_read`` takes the ciphertext it produced, ``bio_shutdown`` marks
the peer's end of stream. That is the engine the shared session
(``_common``) drives; ``_engine`` maps pyOpenSSL's calls and exceptions
onto the engine protocol:

    WantReadError      "needs input": None from handshake()/read()
    ZeroReturnError    the peer's close_notify: b"" / 0
    SysCallError       with memory BIOs only an end of stream that came
                       before close_notify: ``EngineEOF`` (a truncation)
    any other Error    ``EngineError`` carrying OpenSSL's reason string

Once OpenSSL has failed a connection it reports later calls as an
``Error`` with an empty queue; the engine remembers its first failure and
repeats it, so a truncated stream stays a truncation on every read (as
``ssl.SSLObject`` does).

The package: this module (the component, its context and store classes,
``native_context`` and the extension callbacks), ``_engine`` (the
engines), ``_verify`` (``verifyCertificate``: OpenSSL's
``X509_verify_cert`` finds the path, SPEC 6's profile judges it) and
``_binding`` (pyOpenSSL's private cffi binding, and OpenSSL's error texts).

``native_context`` builds one ``SSL.Context`` per context configuration
(cached: a server makes a session per connection), loading certificate and
key from memory.

Below pyOpenSSL's public API. The component uses pyOpenSSL's private
binding (``OpenSSL._util``) and private names where the public API has no
form of a call or is measurably slow, each with a public fallback where
the binding lacks the name: ``DirectEngine``'s data path and
``PyOpenSSLEngine``'s ``pending``/``output``/``resumed`` (memory-BIO sizes,
``SSL_session_reused`` on ``Connection._ssl``), the C verify callback below
(``Context._context``, ``Connection._reverse_mapping``,
``X509._from_raw_x509_ptr``) and ``_verify``'s ``X509._x509``. The list,
with the reasons, is in docs/decisions.md ("Private library interfaces").

Extensions (``nettls.interfaces.tlsext``). Per-connection state lives on
the engine, which the ``Connection`` points back to (a weak reference as
its app data), so the context-wide callbacks find it:

- ALPN: ``set_alpn_protos`` on a client, a select callback that picks in
  the server's own order on a server;
- minimum version: ``set_min_proto_version``;
- client certificates and verification on connect: ``set_verify`` with
  VERIFY_PEER (plus FAIL_IF_NO_PEER_CERT to require) over the context's
  ``X509Store``; OpenSSL verifies the chain, and the verify callback notes
  the first failure and, at the leaf, checks the host name with
  ``nettls.hostname.check_host_name`` (pyOpenSSL has no host-name setting).
  The callback is a C callback of this module's (``_NATIVE_VERIFY``) rather
  than pyOpenSSL's wrapper, so that a host-name refusal can set OpenSSL's
  error to a host-name mismatch: the peer gets bad_certificate, as from
  the other components, not internal_error. The chain OpenSSL built is
  ``Connection.get_verified_chain()`` (``IVerifiedChain``);
- SNI: ``set_tlsext_host_name`` on a client; on a server
  ``get_servername()``, and a servername callback that switches the
  connection to the native context of the certificate chosen by name;
- resumption: ``get_session``/``set_session``; a client's info callback
  notes when a session ticket arrived (TLS 1.3 sends them after the
  handshake), and ``SSL_session_reused`` says whether a handshake resumed.
  OpenSSL makes a session unresumable when its connection is freed without
  close_notify; an engine whose session was handed out marks a quiet
  shutdown before it goes, as ``ssl`` does by copying the session.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import OpenSSL
from OpenSSL import SSL, crypto

from nettls.interfaces import CertificateError, ClientCertificateConstants, VerifyStatus
from nettls.interfaces.component import Component

from .._common.config import BaseTLSContext, ContextConfig
from .._common.keylog import KeyLogWriter, keylog_path
from .._common.extensions import (
    ExtendedCertStore,
    ExtendedTLSContext,
    ExtendedTLSSession,
    select_name_certificate,
)
from .._common.pem import parse_certificate, parse_private_key
from ._binding import _FFI, _LIB, _reason
from ._engine import (
    DIRECT_DATA_PATH,
    ENGINE,
    READ_LIMIT,
    DirectEngine,
    PyOpenSSLEngine,
    _engine_of,
)
from ._verify import DEVIATIONS, trust_store, verify_chain

__all__ = [
    "TLS",
    "TLSContext",
    "TLSCertStore",
    "COMPONENT",
    "native_context",
    "PyOpenSSLEngine",
    "DirectEngine",
    "ENGINE",
    "DIRECT_DATA_PATH",
    "READ_LIMIT",
    "trust_store",
    "verify_chain",
]

#: TLS 1.2 suites for CIPHER_DEFAULT: CPython's own default string
#: (``ssl._DEFAULT_CIPHERS``), so this component and ``stdlib`` negotiate alike.
CIPHERS_DEFAULT = "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
#: OpenSSL's full TLS 1.2 list less unauthenticated, null, PSK and SRP suites.
CIPHERS_ALL = "ALL:!aNULL:!eNULL:!PSK:!SRP"
#: SSL_OP_NO_RENEGOTIATION; pyOpenSSL exports it only where its OpenSSL has it.
OP_NO_RENEGOTIATION: int = getattr(SSL, "OP_NO_RENEGOTIATION", 0x40000000)
#: (pyOpenSSL allocates one per call) would only cost memory.

LIBRARY = f"pyOpenSSL {OpenSSL.__version__} on {SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()}"
#: The floor of each IMinimumVersion setting.
_TLS_VERSIONS = {"TLSv1.2": SSL.TLS1_2_VERSION, "TLSv1.3": SSL.TLS1_3_VERSION}
#: The session id context of every server context: OpenSSL refuses to resume
#: a session on a server that verifies clients unless one is set.
SESSION_ID_CONTEXT = b"nettls"




def _verify_callback(conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
    """The verify callback of every verifying context: OpenSSL's verdict,
    noted on the engine, plus the host-name check. Never raises (pyOpenSSL
    would re-raise it from the handshake as a foreign exception)."""
    try:
        engine = _engine_of(conn)
        if engine is None:
            return bool(ok)
        return engine._on_verify(cert, errno, depth, bool(ok))
    except Exception:
        return False


def _native_verify_callback() -> Any:
    """The C verify callback of every verifying context, or None where
    pyOpenSSL's binding lacks what it needs (then pyOpenSSL's own wrapper
    of ``_verify_callback`` serves).

    It calls ``_verify_callback`` as pyOpenSSL's wrapper does, and does the
    one thing that wrapper cannot: when nettls refuses a certificate OpenSSL
    accepted (the host-name check at the leaf), it sets the store context's
    error to X509_V_ERR_HOSTNAME_MISMATCH. OpenSSL then sends the peer
    bad_certificate, as for its own host-name check (the stdlib component)
    and as rustls does; with the error left at X509_V_OK it would send
    internal_error.
    """
    ffi, lib = _FFI, _LIB
    needed = (
        "X509_STORE_CTX_get_ex_data", "SSL_get_ex_data_X509_STORE_CTX_idx", "X509_STORE_CTX_get_current_cert",
        "X509_up_ref", "X509_STORE_CTX_get_error", "X509_STORE_CTX_get_error_depth", "X509_STORE_CTX_set_error",
        "SSL_CTX_set_verify", "X509_V_OK", "X509_V_ERR_HOSTNAME_MISMATCH",
    )  # fmt: skip
    if (
        ffi is None
        or not all(hasattr(lib, name) for name in needed)
        or not hasattr(SSL.Connection, "_reverse_mapping")
        or not hasattr(crypto.X509, "_from_raw_x509_ptr")
    ):
        return None

    def verify(ok: int, store_ctx: Any) -> int:
        try:
            ssl = lib.X509_STORE_CTX_get_ex_data(store_ctx, lib.SSL_get_ex_data_X509_STORE_CTX_idx())
            conn = SSL.Connection._reverse_mapping[ssl]
            x509 = lib.X509_STORE_CTX_get_current_cert(store_ctx)
            lib.X509_up_ref(x509)  # the wrapper below frees its reference
            cert = crypto.X509._from_raw_x509_ptr(x509)
            error = lib.X509_STORE_CTX_get_error(store_ctx)
            depth = lib.X509_STORE_CTX_get_error_depth(store_ctx)
            if _verify_callback(conn, cert, error, depth, bool(ok)):
                lib.X509_STORE_CTX_set_error(store_ctx, lib.X509_V_OK)
                return 1
            if ok:  # refused by nettls, not by OpenSSL: the host name
                lib.X509_STORE_CTX_set_error(store_ctx, lib.X509_V_ERR_HOSTNAME_MISMATCH)
            return 0
        except Exception:  # never let an exception cross into OpenSSL: refuse
            return 0

    return ffi.callback("int (*)(int, X509_STORE_CTX *)", verify)


#: Made once and kept for the life of the process: every context uses it.
_NATIVE_VERIFY = _native_verify_callback()


def _set_verify(ctx: SSL.Context, mode: int) -> None:
    """Verify peers with ``mode`` through ``_verify_callback``."""
    if _NATIVE_VERIFY is None:
        ctx.set_verify(mode, _verify_callback)  # a host-name mismatch draws internal_error here
    else:
        _LIB.SSL_CTX_set_verify(ctx._context, mode, _NATIVE_VERIFY)


def _client_info_callback(conn: SSL.Connection, _where: int, _ret: int) -> None:
    try:
        engine = _engine_of(conn)
        if engine is not None:
            engine._on_info()
    except Exception:  # an observer only: never let it disturb the handshake
        pass


def _alpn_selector(protocols: tuple[str, ...]) -> Callable[[SSL.Connection, list[bytes]], Any]:
    """A server's ALPN choice: the first of its own protocols the client offered."""
    wanted = [p.encode("ascii") for p in protocols]

    def select(_conn: SSL.Connection, offered: list[bytes]) -> Any:
        for protocol in wanted:
            if protocol in offered:
                return protocol
        return SSL.NO_OVERLAPPING_PROTOCOLS  # no protocol selected; the handshake goes on

    return select


def _name_selector(config: ContextConfig) -> Callable[[SSL.Connection], None]:
    """A server's servername callback: the certificate chosen by the client's name."""

    def on_server_name(conn: SSL.Connection) -> None:
        try:
            raw = conn.get_servername()
            entry = select_name_certificate(config, raw.decode("ascii", "replace") if raw else None)
            if entry is not None:
                conn.set_context(native_context(config.for_name(entry)))
        except Exception:  # an unusable entry was refused when set; the default certificate serves
            pass

    return on_server_name


def _trust(ctx: SSL.Context, pems: tuple[str, ...]) -> None:
    store = ctx.get_cert_store()
    if store is None:
        raise CertificateError("OpenSSL gave the context no certificate store")
    for pem in pems:
        store.add_cert(crypto.X509.from_cryptography(parse_certificate(pem, "trusted certificate")))


@functools.lru_cache(maxsize=64)
def native_context(config: ContextConfig) -> SSL.Context:
    """An ``SSL.Context`` for ``config``, built once per configuration."""
    ctx = SSL.Context(SSL.TLS_METHOD)
    # TLS 1.0/1.1 are broken and deprecated; IMinimumVersion may raise the floor to 1.3.
    ctx.set_min_proto_version(_TLS_VERSIONS[config.minimumVersion])
    ctx.set_max_proto_version(0)  # up to the newest the library has: TLS 1.3 on
    # OpenSSL's interoperability workarounds, less the empty-fragment one, exactly as Python's ssl:
    ctx.set_options(SSL.OP_ALL & ~SSL.OP_DONT_INSERT_EMPTY_FRAGMENTS)
    ctx.set_options(SSL.OP_NO_COMPRESSION)  # CRIME
    ctx.set_options(OP_NO_RENEGOTIATION)  # renegotiation attacks and DoS
    ctx.set_options(SSL.OP_CIPHER_SERVER_PREFERENCE)  # the server's order picks the suite, as Python's ssl
    ctx.set_mode(SSL.MODE_RELEASE_BUFFERS)  # free idle read/write buffers: ~half the memory per connection
    ctx.set_verify(SSL.VERIFY_NONE)  # no client certificate requested; connect() does not authenticate (Dana)
    suites = CIPHERS_ALL if config.cipherSet == BaseTLSContext.CIPHER_ALL else CIPHERS_DEFAULT
    ctx.set_cipher_list(suites.encode("ascii"))  # TLS 1.2 only; TLS 1.3 suites stay OpenSSL's
    if config.certificate and config.privateKey:
        try:
            ctx.use_certificate(parse_certificate(config.certificate))
            ctx.use_privatekey(parse_private_key(config.privateKey))  # type: ignore[arg-type]
            for pem in config.chain:
                ctx.add_extra_chain_cert(parse_certificate(pem, "chain certificate"))
            ctx.check_privatekey()
        except (SSL.Error, crypto.Error) as exc:  # crypto.Error: a certificate OpenSSL cannot encode
            raise CertificateError(f"the certificate and key were refused by OpenSSL: {_reason(exc)}") from exc
        except (TypeError, ValueError) as exc:  # a key type pyOpenSSL cannot take
            raise CertificateError(f"the certificate and key were refused by pyOpenSSL: {exc}") from exc
    if config.server:
        ctx.set_session_id(SESSION_ID_CONTEXT)
        if config.applicationProtocols:
            ctx.set_alpn_select_callback(_alpn_selector(config.applicationProtocols))
        if config.nameCertificates:
            ctx.set_tlsext_servername_callback(_name_selector(config))
        policy = config.clientCertificatePolicy
        if policy != ClientCertificateConstants.CLIENT_CERT_NONE:
            _trust(ctx, config.clientCertificateTrust)
            mode = SSL.VERIFY_PEER
            if policy == ClientCertificateConstants.CLIENT_CERT_REQUIRE:
                mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
            _set_verify(ctx, mode)
    else:
        ctx.set_info_callback(_client_info_callback)  # session tickets, for resumption
        if config.applicationProtocols:
            ctx.set_alpn_protos([p.encode("ascii") for p in config.applicationProtocols])
        if config.verifyTrust is not None:  # verification on connect (IVerifyOnConnect)
            _trust(ctx, config.verifyTrust)
            _set_verify(ctx, SSL.VERIFY_PEER)
    keylog = keylog_path(config)
    if keylog is not None:  # IKeyLog or SSLKEYLOGFILE: for debugging only
        ctx.set_keylog_callback(KeyLogWriter(keylog))
    return ctx


class TLSContext(ExtendedTLSContext):
    """``net.TLSContext`` for the pyopenssl component; see ``ITLSContext`` and
    the context extensions (``nettls.interfaces.tlsext``)."""

    _native_builder = staticmethod(native_context)


class TLSCertStore(ExtendedCertStore):
    """``net.TLSCertStore`` for the pyopenssl component; see ``ITLSCertStore`` and ``ISystemTrust``."""


class TLS(ExtendedTLSSession):
    """``net.TLS`` on ``OpenSSL.SSL.Connection``; see ``ITLS`` and the session extensions."""

    component = "pyopenssl"

    def _native_context(self, config: ContextConfig) -> SSL.Context:
        return native_context(config)

    def _make_engine(self, native: SSL.Context, server: bool) -> PyOpenSSLEngine:
        name, session = self._engine_options()
        return ENGINE(native, server, name, session, verify_host_name=self._config.verifyHostName)

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        return verify_chain(roots, leaf, chain)

    def _verified_ders(self, engine: PyOpenSSLEngine) -> list[bytes]:
        chain = engine._conn.get_verified_chain() or []  # SSL_get0_verified_chain
        return [crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in chain]



COMPONENT = Component(
    name="pyopenssl",
    provides={"net.TLS": TLS, "net.TLSContext": TLSContext, "net.TLSCertStore": TLSCertStore},
    description="TLS on pyOpenSSL (SSL.Connection over memory BIOs); verification by OpenSSL's X509_verify_cert "
    "under nettls's strict profile",
    library=LIBRARY,
    # Where OpenSSL cannot be brought to the profile's verdict (tests/test_verify_differential.py).
    deviations=DEVIATIONS,
)
