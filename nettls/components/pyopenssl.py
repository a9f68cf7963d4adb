"""The ``pyopenssl`` component: ``net.TLS`` on pyOpenSSL.

Theory of operation
-------------------
An ``OpenSSL.SSL.Connection`` made with no socket (``Connection(ctx,
None)``) has two memory BIOs: ``bio_write`` feeds it ciphertext from the
peer, ``bio_read`` takes the ciphertext it produced, ``bio_shutdown`` marks
the peer's end of stream. That is the engine the shared session
(``_common.session``) drives; this module only maps pyOpenSSL's calls and
exceptions onto the engine protocol:

    WantReadError      "needs input": None from handshake()/read()
    ZeroReturnError    the peer's close_notify: b"" / 0
    SysCallError       with memory BIOs only an end of stream that came
                       before close_notify: ``EngineEOF`` (a truncation)
    any other Error    ``EngineError`` carrying OpenSSL's reason string

Once OpenSSL has failed a connection it reports later calls as an
``Error`` with an empty queue; the engine remembers its first failure and
repeats it, so a truncated stream stays a truncation on every read (as
``ssl.SSLObject`` does).

``native_context`` builds one ``SSL.Context`` per context configuration
(cached: a server makes a session per connection), loading certificate and
key from memory. ``verifyCertificate`` runs OpenSSL's own
``X509_verify_cert`` through ``X509StoreContext``, with no purpose set,
as Dana does.
"""

from __future__ import annotations

import functools
from typing import Any

import OpenSSL
from cryptography import x509
from OpenSSL import SSL, crypto

from nettls.interfaces import CertificateError, VerifyStatus
from nettls.interfaces.component import Component

from ._common.config import BaseCertStore, BaseTLSContext, ContextConfig
from ._common.pem import certificate_pem, parse_certificate, parse_private_key
from ._common.session import RECORD_PLAINTEXT, EngineEOF, EngineError, TLSSession

__all__ = ["TLS", "TLSContext", "TLSCertStore", "COMPONENT", "native_context"]

#: TLS 1.2 suites for CIPHER_DEFAULT: CPython's own default string
#: (``ssl._DEFAULT_CIPHERS``), so this component and ``stdlib`` negotiate alike.
CIPHERS_DEFAULT = "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
#: OpenSSL's full TLS 1.2 list less unauthenticated, null, PSK and SRP suites.
CIPHERS_ALL = "ALL:!aNULL:!eNULL:!PSK:!SRP"
#: SSL_OP_NO_RENEGOTIATION; pyOpenSSL exports it only where its OpenSSL has it.
OP_NO_RENEGOTIATION: int = getattr(SSL, "OP_NO_RENEGOTIATION", 0x40000000)
#: One SSL_read returns at most one record's plaintext, so a larger buffer
#: (pyOpenSSL allocates one per call) would only cost memory.
READ_LIMIT = RECORD_PLAINTEXT
#: Ciphertext taken from the output BIO per ``bio_read``.
OUTPUT_CHUNK = 65536
#: OpenSSL's reason for an end of stream inside a record or before close_notify.
UNEXPECTED_EOF = "unexpected eof while reading"

LIBRARY = f"pyOpenSSL {OpenSSL.__version__} on {SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()}"


def _reason(exc: SSL.Error) -> str:
    """OpenSSL's reason strings from a pyOpenSSL ``Error`` ("" if it has none).

    pyOpenSSL puts the drained error queue in ``args[0]`` as a list of
    ``(library, function, reason)``; the reason is what OpenSSL prints,
    such as "wrong version number" or "tlsv1 alert unknown ca".
    """
    if not exc.args:
        return ""
    if not isinstance(exc.args[0], list):
        return " ".join(str(a) for a in exc.args)
    reasons: list[str] = []
    for entry in exc.args[0]:
        if isinstance(entry, tuple) and len(entry) == 3:
            library, _function, reason = entry
            text = f"{reason} ({library})" if reason and library else str(reason or library)
        else:
            text = str(entry)
        if text and text not in reasons:
            reasons.append(text)
    return "; ".join(reasons)


class PyOpenSSLEngine:
    """The engine protocol on an ``SSL.Connection`` over memory BIOs."""

    __slots__ = ("_conn", "_server", "_fault")

    def __init__(self, ctx: SSL.Context, server: bool) -> None:
        conn = SSL.Connection(ctx, None)
        if server:
            conn.set_accept_state()
        else:
            conn.set_connect_state()
        self._conn = conn
        self._server = server
        self._fault: EngineError | None = None

    def _error(self, exc: SSL.Error, handshaking: bool = False) -> EngineError:
        """The engine error for ``exc``; the caller raises it ``from exc``."""
        if isinstance(exc, SSL.SysCallError):
            # Memory BIOs make no system calls: this is the end of stream
            # we marked with bio_shutdown(), reached before close_notify.
            if handshaking:
                err: EngineError = EngineError(f"the peer closed the connection during the handshake ({UNEXPECTED_EOF})")
            else:
                err = EngineEOF(UNEXPECTED_EOF)
        else:
            reason = _reason(exc)
            if not reason and self._fault is not None:
                # OpenSSL reports a failed connection again with an empty queue.
                return type(self._fault)(str(self._fault))
            err = EngineError(reason or f"OpenSSL failed without a reason ({type(exc).__name__})")
        if self._fault is None:
            self._fault = err
        return err

    def handshake(self) -> bool:
        try:
            self._conn.do_handshake()
            return True
        except SSL.WantReadError:
            return False
        except SSL.Error as exc:
            raise self._error(exc, handshaking=True) from exc

    def read(self, n: int) -> bytes | None:
        try:
            return self._conn.recv(min(n, READ_LIMIT))
        except SSL.WantReadError:
            return None
        except SSL.ZeroReturnError:
            return b""
        except SSL.Error as exc:
            raise self._error(exc) from exc

    def read_into(self, view: memoryview) -> int | None:
        try:
            # recv_into(buffer, nbytes) reads into a private buffer of nbytes
            # and copies into ``view``; nbytes bounds that buffer.
            return self._conn.recv_into(view, min(len(view), READ_LIMIT))
        except SSL.WantReadError:
            return None
        except SSL.ZeroReturnError:
            return 0
        except SSL.Error as exc:
            raise self._error(exc) from exc

    def write(self, data: memoryview) -> None:
        try:
            # sendall: contexts are in partial-write mode, so one SSL_write
            # may stop after a record; memory BIOs always take everything.
            self._conn.sendall(data)
        except SSL.Error as exc:
            raise self._error(exc) from exc

    def shutdown(self) -> None:
        try:
            self._conn.shutdown()
        except SSL.WantReadError:
            pass  # close_notify is written; we do not wait for the peer's
        except SSL.Error as exc:
            raise self._error(exc) from exc

    def feed(self, data: bytes) -> None:
        if data:  # BIO_write of nothing reports a failure
            try:
                self._conn.bio_write(data)
            except SSL.Error as exc:
                raise self._error(exc) from exc

    def feed_eof(self) -> None:
        self._conn.bio_shutdown()

    def output(self) -> bytes:
        chunks = []
        while True:
            try:
                chunk = self._conn.bio_read(OUTPUT_CHUNK)
            except SSL.WantReadError:  # the output BIO is empty
                break
            chunks.append(chunk)
            if len(chunk) < OUTPUT_CHUNK:
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def peer_chain(self) -> list[bytes]:
        conn = self._conn
        leaf = conn.get_peer_certificate()
        chain = conn.get_peer_cert_chain() or []
        if self._server:
            # A server's SSL_get_peer_cert_chain leaves out the client's leaf.
            certs = [leaf, *chain] if leaf is not None else list(chain)
        else:
            certs = list(chain) if chain else ([leaf] if leaf is not None else [])
        return [crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in certs]

    def version(self) -> str | None:
        return self._conn.get_protocol_version_name()

    def cipher(self) -> str | None:
        return self._conn.get_cipher_name()


@functools.lru_cache(maxsize=64)
def native_context(config: ContextConfig) -> SSL.Context:
    """An ``SSL.Context`` for ``config``, built once per configuration."""
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)  # TLS 1.0/1.1 are broken and deprecated
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
        except SSL.Error as exc:
            raise CertificateError(f"the certificate and key were refused by OpenSSL: {_reason(exc)}") from exc
        except (TypeError, ValueError) as exc:  # a key type pyOpenSSL cannot take
            raise CertificateError(f"the certificate and key were refused by pyOpenSSL: {exc}") from exc
    return ctx


@functools.lru_cache(maxsize=32)
def trust_store(roots: tuple[str, ...]) -> crypto.X509Store:
    """An ``X509Store`` trusting ``roots`` (PEM), built once per tuple."""
    store = crypto.X509Store()
    for pem in roots:
        store.add_cert(crypto.X509.from_cryptography(parse_certificate(pem)))
    return store


def verify_chain(roots: tuple[str, ...], leaf: x509.Certificate, chain: list[x509.Certificate]) -> VerifyStatus:
    """Verify ``leaf`` with untrusted ``chain`` against ``roots`` (PEM), now,
    with OpenSSL's ``X509_verify_cert`` and no purpose (Dana's check)."""
    untrusted = [crypto.X509.from_cryptography(c) for c in chain]
    context = crypto.X509StoreContext(trust_store(roots), crypto.X509.from_cryptography(leaf), untrusted)
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as exc:
        failed = exc.certificate.to_cryptography()
        subject = failed.subject.rfc4514_string() or "<empty subject>"
        depth = exc.errors[1] if len(exc.errors) > 1 else "?"
        return VerifyStatus(VerifyStatus.FAIL, certificate_pem(failed), f"{exc} (depth {depth}: {subject})")
    return VerifyStatus(VerifyStatus.OK)


class TLSContext(BaseTLSContext):
    """``net.TLSContext`` for the pyopenssl component; see ``ITLSContext``."""

    def setCertificate(self, cert: str | bytes, key: str | bytes) -> bool:
        super().setCertificate(cert, key)
        native_context(self._config)  # surface OpenSSL's own refusal here, not at accept()
        return True


class TLSCertStore(BaseCertStore):
    """``net.TLSCertStore`` for the pyopenssl component; see ``ITLSCertStore``."""


class TLS(TLSSession):
    """``net.TLS`` on ``OpenSSL.SSL.Connection``; see ``ITLS``."""

    component = "pyopenssl"

    def _native_context(self, config: ContextConfig) -> SSL.Context:
        return native_context(config)

    def _make_engine(self, native: SSL.Context, server: bool) -> PyOpenSSLEngine:
        return PyOpenSSLEngine(native, server)

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        return verify_chain(roots, leaf, chain)


COMPONENT = Component(
    name="pyopenssl",
    provides={"net.TLS": TLS, "net.TLSContext": TLSContext, "net.TLSCertStore": TLSCertStore},
    description="TLS on pyOpenSSL (SSL.Connection over memory BIOs); verification by OpenSSL's X509_verify_cert",
    library=LIBRARY,
)
