"""The ``mbedtls`` component: ``net.TLS`` on mbed TLS 2.28, through python-mbedtls.

Theory of operation
-------------------
python-mbedtls's ``TLSWrappedBuffer`` is an mbed TLS connection over two
ring buffers of 32 KiB: ``receive_from_network()`` appends ciphertext to
the input ring, ``peek_outgoing()``/``consume_outgoing()`` take ciphertext
from the output ring, and ``do_handshake()``, ``readinto()``, ``write()``
and ``shutdown()`` never touch a socket. ``MbedTLSEngine`` maps that onto
nettls's engine protocol, and the shared session
(``nettls.components.kit.TLSSession``) drives it like every other
engine. What the engine has to make good, and how:

    rings of 32 KiB           More ciphertext than fits waits in ``_backlog``
                              and is moved in as mbed TLS drains the ring; the
                              output ring is emptied into ``_pending`` after
                              every call, and plaintext is written one record
                              (16 KiB) at a time, so a write always fits.
    do_handshake() is one     It is called until the handshake is over or mbed
    step                      TLS needs input (WantReadError); WantWriteError
                              only says the step produced output.
    no end of stream          mbed TLS cannot be told the stream ended; the
                              engine remembers ``feed_eof()`` and turns "needs
                              input" at the end into a failed handshake or a
                              truncation (``EngineEOF``).
    close_notify resets       On the peer's close_notify (error -0x7880) and on
                              every failure python-mbedtls resets the connection;
                              another call would start a new handshake. The
                              engine latches: after close_notify it reads b""
                              and refuses to send (TLS 1.2 discards writes after
                              the peer's close_notify, RFC 5246 7.2.1); after a
                              failure it repeats the failure. Version, suite and
                              peer chain are kept when the handshake completes.
    only the leaf             ``getpeercert()`` gives the peer's leaf alone; the
                              chain as sent is read from the peer's Certificate
                              message, in the clear in TLS 1.2 (``_wire``).
    always asks clients       A server sends a CertificateRequest whatever it is
                              told (see ``DEVIATIONS``) and does not verify what
                              comes; the engine hands none of it over: a server
                              session sees no client certificate (SPEC 6).

``native_context`` builds a ``ClientContext``/``ServerContext`` per context
configuration (cached: a server makes a session per connection), keys and
certificates from memory. python-mbedtls exposes no chain verifier
(``CRT.verify`` checks one signature), so ``verifyCertificate`` delegates
to nettls's purpose-free verifier on ``cryptography``
(``nettls.components.kit.verify_chain``), as the stdlib component does.
"""

from __future__ import annotations

import functools
from typing import Any

import mbedtls
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from mbedtls import pk as _pk
from mbedtls import tls as _tls
from mbedtls import version as _mbedtls_version
from mbedtls import x509 as _x509
from mbedtls.exceptions import TLSError as MbedTLSError

from nettls.components.kit import (
    BaseCertStore,
    BaseTLSContext,
    Component,
    ContextConfig,
    EngineEOF,
    EngineError,
    TLSSession,
    parse_private_key,
    pem_to_der,
    VERIFY_DEVIATIONS,
    verify_chain,
)
from nettls.interfaces import CertificateError, VerifyStatus

from ._wire import PeerCertificates

__all__ = ["TLS", "TLSContext", "TLSCertStore", "COMPONENT", "DEVIATIONS", "MbedTLSEngine", "native_context"]

#: MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, as python-mbedtls's TLSError.err gives it.
PEER_CLOSE_NOTIFY = 0x7880
#: Plaintext per write: one record (MBEDTLS_SSL_OUT_CONTENT_LEN), whose
#: ciphertext always fits the 32 KiB output ring once it is empty.
WRITE_CHUNK = 16384
#: Calls into mbed TLS one engine call may make: a TLS 1.2 handshake has
#: about 20 steps, each maybe preceded by moving ciphertext into the ring.
MAX_STEPS = 256

_SUITES = _tls.ciphers_available()


def _default_suite(name: str) -> bool:
    """CIPHER_DEFAULT, after CPython's own default: forward-secret key
    exchange, AES-GCM, ChaCha20-Poly1305 or AES-CBC with SHA-2; no SHA-1,
    no CCM, no PSK, no static RSA or ECDH key exchange."""
    if not name.startswith(("TLS-ECDHE-ECDSA-", "TLS-ECDHE-RSA-", "TLS-DHE-RSA-")):
        return False
    if "-AES-" in name and ("-GCM-" in name or name.endswith(("-CBC-SHA256", "-CBC-SHA384"))):
        return True
    return "-CHACHA20-POLY1305-" in name


#: mbed TLS's default list has static RSA key exchange and SHA-1 suites in it: not a secure default.
CIPHERS_DEFAULT = tuple(s for s in _SUITES if _default_suite(s))
#: OpenSSL's ALL:!aNULL:!eNULL:!PSK:!SRP in mbed TLS's terms: every suite it has but PSK and NULL ones.
CIPHERS_ALL = tuple(s for s in _SUITES if "PSK" not in s and "NULL" not in s)

LIBRARY = f"python-mbedtls {mbedtls.__version__} on {_mbedtls_version.version}"

#: Conformance cases mbed TLS cannot meet: case id -> why (the suite makes each a strict xfail).
DEVIATIONS: dict[str, str] = {
    "6.handshake:openssl_client_to_session_server[default]": "mbed TLS 2.28 has no TLS 1.3: with the defaults "
    "the session negotiates TLS 1.2, where the case expects TLS 1.3",
    "6.peer-chain:session_client_to_openssl_server": "mbed TLS 2.28 has no TLS 1.3: the chain is as sent, "
    "but getProtocolVersion() is TLSv1.2 where the case expects TLSv1.3 against openssl s_server",
    "7.one-way-tls13": "mbed TLS 2.28 has no TLS 1.3, so there is no TLS 1.3 transfer to check "
    "(the session negotiates TLS 1.2)",
    "11.session-info:session_info_after_handshake": "mbed TLS 2.28 has no TLS 1.3: getProtocolVersion() "
    "is TLSv1.2 where the case expects TLSv1.3",
    "8.secure-defaults:no_certificate_request_on_the_wire": "python-mbedtls cannot set MBEDTLS_SSL_VERIFY_NONE: "
    "validate_certificates=False is VERIFY_OPTIONAL, True is VERIFY_REQUIRED, so a server always sends a "
    "CertificateRequest, and a client holding a certificate sends it: in TLS 1.2 (all mbed TLS 2.28 has) "
    "in the clear, so the client's identity crosses the wire unasked. The server neither verifies it nor "
    "hands it to the application (getPeerCertificate() None, getPeerCertChain() [], as SPEC 6 asks)",
}


def _reason(exc: BaseException) -> str:
    """mbed TLS's error text and code from a python-mbedtls error."""
    message = getattr(exc, "msg", None) or (str(exc.args[-1]) if exc.args else type(exc).__name__)
    code = getattr(exc, "err", None)
    return f"{message} (mbed TLS -0x{code:04X})" if isinstance(code, int) and code else str(message)


class MbedTLSEngine:
    """The engine protocol on a python-mbedtls ``TLSWrappedBuffer``."""

    __slots__ = (
        "_buf",
        "_server",
        "_capacity",
        "_backlog",
        "_pending",
        "_eof",
        "_peer_closed",
        "_fault",
        "_wire",
        "_peer",
        "_version",
        "_cipher",
    )

    def __init__(self, ctx: Any, server: bool) -> None:
        try:
            self._buf = ctx.wrap_buffers() if server else ctx.wrap_buffers(None)  # None: no SNI (Dana has no host name)
        except MbedTLSError as exc:
            raise EngineError(_reason(exc)) from exc
        self._server = server
        self._capacity: int = self._buf._input_buffer.maxlen
        self._backlog = bytearray()  # peer ciphertext not yet in mbed TLS's input ring
        self._pending = bytearray()  # ciphertext taken from the output ring, not yet output()
        self._eof = False
        self._peer_closed = False
        self._fault: EngineError | None = None
        self._wire = PeerCertificates()
        self._peer: list[bytes] = []
        self._version: str | None = None
        self._cipher: str | None = None

    # -- moving ciphertext -------------------------------------------------------

    def _drain(self) -> int:
        """Move the output ring's ciphertext to ``_pending``; returns how much."""
        buf = self._buf
        size = len(buf._output_buffer)
        if size:
            self._pending += buf.peek_outgoing(size)
            buf.consume_outgoing(size)
        return size

    def _top_up(self) -> None:
        """Move backlog into the input ring as far as it has room."""
        if self._backlog:
            room = self._capacity - len(self._buf._input_buffer)
            if room > 0:
                self._buf.receive_from_network(bytes(self._backlog[:room]))
                del self._backlog[:room]

    def _failed(self, reason: str, eof: bool = False) -> EngineError:
        """Latch a failure (python-mbedtls has reset the connection) and hand over its alert."""
        self._drain()
        self._fault = EngineEOF(reason) if eof else EngineError(reason)
        return self._fault

    def _again(self) -> EngineError:
        """The latched failure once more, for a call after it."""
        assert self._fault is not None
        return type(self._fault)(str(self._fault))

    # -- the engine protocol -------------------------------------------------------

    def handshake(self) -> bool:
        if self._fault is not None:
            raise self._again()
        buf = self._buf
        for _ in range(MAX_STEPS):
            if buf._handshake_state is _tls.HandshakeStep.HANDSHAKE_OVER:
                self._completed()
                return True
            self._top_up()
            try:
                buf.do_handshake()
            except _tls.WantWriteError:
                pass  # the step produced output, taken below
            except _tls.WantReadError:
                if self._drain() or self._backlog:
                    continue  # the output ring was full, or more input can go in
                if self._eof:
                    raise self._failed("the peer closed the connection during the handshake") from None
                return False
            except MbedTLSError as exc:
                raise self._failed(_reason(exc)) from exc
            self._drain()
        raise self._failed(f"the handshake made no progress in {MAX_STEPS} steps")

    def _completed(self) -> None:
        """Keep what the session may ask for later: python-mbedtls forgets it on a reset."""
        if self._version is not None:
            return
        buf = self._buf
        version = buf.negotiated_tls_version()
        self._version = version.name.replace("_", ".") if version is not None else None
        cipher = buf.cipher()
        self._cipher = cipher.replace("-", "_") if cipher else None
        leaf = buf.getpeercert(True)
        sent = self._wire.certificates
        if leaf is None or self._server:
            # A server never hands over a client certificate: mbed TLS asks
            # for one it does not verify (see DEVIATIONS), and nettls has
            # no client-certificate policy here (SPEC 6: None and []).
            self._peer = []
        elif sent and sent[0] == leaf:
            self._peer = list(sent)
        else:  # resumed, or not seen on the wire: what mbed TLS vouches for
            self._peer = [leaf]

    def read_into(self, view: memoryview) -> int | None:
        if self._peer_closed:
            return 0
        if self._fault is not None:
            raise self._again()
        buf = self._buf
        for _ in range(MAX_STEPS):
            self._top_up()
            try:
                count = buf.readinto(view, len(view))
            except _tls.WantReadError:
                if self._drain() or self._backlog:
                    continue
                if self._eof:
                    raise self._failed("the stream ended without close_notify", eof=True) from None
                return None
            except _tls.WantWriteError:
                self._drain()
                continue
            except _tls.RaggedEOF as exc:
                raise self._failed("the stream ended without close_notify", eof=True) from exc
            except MbedTLSError as exc:
                if getattr(exc, "err", None) == PEER_CLOSE_NOTIFY:
                    self._peer_closed = True
                    self._drain()
                    return 0
                raise self._failed(_reason(exc)) from exc
            self._drain()
            return int(count)
        raise self._failed(f"a read made no progress in {MAX_STEPS} steps")

    def read(self, n: int) -> bytes | None:
        buffer = bytearray(n)
        count = self.read_into(memoryview(buffer))
        if count is None:
            return None
        return bytes(buffer[:count])

    def write(self, data: memoryview) -> None:
        if self._peer_closed:
            raise EngineError("the peer sent close_notify: mbed TLS has reset the connection and sends nothing more")
        if self._fault is not None:
            raise self._again()
        buf = self._buf
        for pos in range(0, len(data), WRITE_CHUNK):
            self._drain()
            try:
                buf.write(data[pos : pos + WRITE_CHUNK])
            except (_tls.WantReadError, _tls.WantWriteError) as exc:
                raise self._failed("mbed TLS could not write a record into an empty output buffer") from exc
            except MbedTLSError as exc:
                raise self._failed(_reason(exc)) from exc
        self._drain()

    def shutdown(self) -> None:
        if self._peer_closed or self._fault is not None:
            return  # python-mbedtls has reset the connection: nothing to close
        self._buf.shutdown()  # close_notify; python-mbedtls reports no error here
        self._drain()

    def feed(self, data: bytes) -> None:
        if not self._server and not self._wire.done:  # a server hands over no client chain
            self._wire.feed(data)
        self._backlog += data

    def feed_eof(self) -> None:
        self._eof = True

    def output(self) -> bytes:
        self._drain()
        if not self._pending:
            return b""
        out = bytes(self._pending)
        self._pending.clear()
        return out

    def peer_chain(self) -> list[bytes]:
        return list(self._peer)

    def version(self) -> str | None:
        return self._version

    def cipher(self) -> str | None:
        return self._cipher


def _private_key(pem: str) -> Any:
    """An mbed TLS key from unencrypted PKCS#8 PEM (what a context configuration holds)."""
    key = parse_private_key(pem)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    if isinstance(key, rsa.RSAPrivateKey):
        return _pk.RSA.from_DER(der)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return _pk.ECC.from_DER(der)
    raise CertificateError(f"mbed TLS 2.28 takes RSA and EC keys only, not {type(key).__name__.removesuffix('PrivateKey')}")


@functools.lru_cache(maxsize=64)
def native_context(config: ContextConfig) -> Any:
    """A python-mbedtls ``ServerContext``/``ClientContext`` for ``config``, built once per configuration."""
    chain = None
    if config.certificate and config.privateKey:
        try:
            certs = tuple(_x509.CRT.from_DER(pem_to_der(p)) for p in (config.certificate, *config.chain))
            chain = (certs, _private_key(config.privateKey))
        except MbedTLSError as exc:
            raise CertificateError(f"the certificate and key were refused by mbed TLS: {_reason(exc)}") from exc
    conf = _tls.TLSConfiguration(
        # False is VERIFY_OPTIONAL: connect() does not authenticate (Dana), verifyCertificate() does.
        # (True would be VERIFY_REQUIRED; VERIFY_NONE cannot be had: see DEVIATIONS.)
        validate_certificates=False,
        certificate_chain=chain,
        ciphers=CIPHERS_ALL if config.cipherSet == BaseTLSContext.CIPHER_ALL else CIPHERS_DEFAULT,
        lowest_supported_version=_tls.TLSVersion.TLSv1_2,  # TLS 1.0/1.1 are broken and deprecated
        highest_supported_version=_tls.TLSVersion.TLSv1_2,  # the newest mbed TLS 2.28 has
    )
    # No compression (mbed TLS 2.28 is built without it) and no renegotiation
    # (python-mbedtls turns it off in every configuration).
    try:
        return _tls.ServerContext(conf) if config.server else _tls.ClientContext(conf)
    except MbedTLSError as exc:
        raise CertificateError(f"mbed TLS refused the configuration: {_reason(exc)}") from exc


class TLSContext(BaseTLSContext):
    """``net.TLSContext`` for the mbedtls component; see ``ITLSContext``."""

    def setCertificate(self, cert: str | bytes, key: str | bytes) -> bool:
        super().setCertificate(cert, key)
        native_context(self._config)  # surface mbed TLS's own refusal here, not at accept()
        return True


class TLSCertStore(BaseCertStore):
    """``net.TLSCertStore`` for the mbedtls component; see ``ITLSCertStore``."""


class TLS(TLSSession):
    """``net.TLS`` on mbed TLS (python-mbedtls's TLSWrappedBuffer); see ``ITLS``."""

    component = "mbedtls"

    def _native_context(self, config: ContextConfig) -> Any:
        return native_context(config)

    def _make_engine(self, native: Any, server: bool) -> MbedTLSEngine:
        return MbedTLSEngine(native, server)

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        return verify_chain(roots, leaf, chain)


COMPONENT = Component(
    name="mbedtls",
    provides={"net.TLS": TLS, "net.TLSContext": TLSContext, "net.TLSCertStore": TLSCertStore},
    description="TLS 1.2 on mbed TLS 2.28 (python-mbedtls's TLSWrappedBuffer); verification by cryptography",
    library=LIBRARY,
    # its own, and those of the verifier it delegates to (cryptography vs OpenSSL)
    deviations={**DEVIATIONS, **VERIFY_DEVIATIONS},
)
