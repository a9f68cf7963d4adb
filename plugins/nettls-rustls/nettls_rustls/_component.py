"""The ``rustls`` component: ``net.TLS`` on rustls, through ``rtls``.

Theory of operation
-------------------
``rtls`` puts rustls behind the ``ssl`` module's API: ``rtls.MemoryBIO``,
``rtls.SSLContext.wrap_bio()`` returning an ``SSLObject``-shaped object,
and ``rtls.SSL*Error`` classes that subclass ``ssl``'s. So the engine is
nettls's own ``SSLObjectEngine`` (the stdlib component's engine, written to
serve any ``ssl``-shaped module) with ``_ssl = rtls``; the shared session
(``nettls.components.kit.TLSSession``) drives it as it drives the stdlib
one. This module holds only what is about rtls:

- where rtls's ``SSLObject`` does not behave as ``ssl.SSLObject`` does,
  ``RustlsEngine`` overrides that one method (below, each with the reason);
- ``native_context`` builds an ``rtls.SSLContext`` from a context
  configuration (cached per configuration), keys and certificates loaded
  from memory, which rtls allows;
- rtls exposes no stand-alone chain verifier (rustls's verifiers need a
  server name and a purpose), so ``verifyCertificate`` delegates to
  nettls's purpose-free verifier on ``cryptography``
  (``nettls.components.kit.verify_chain``), as the stdlib component does.

The client verifies in the handshake (SPEC 6, ``client_verifies_chain``)
------------------------------------------------------------------------
rtls offers a client three verifiers: rustls's full one (chain and host
name), one without the host name, and none at all (``CERT_NONE``). The last
skips the server's handshake signature too, not only the chain: a server
presenting someone else's certificate without its key would be accepted,
and a ``verifyCertificate`` afterwards would approve the genuine chain of
a peer that is not there. There is no verifier that checks the signature
and leaves the chain to ``verifyCertificate``. So a rustls client always
verifies the chain during the handshake (webpki, the TLS server purpose):
against the store given by ``IVerifyOnConnect.setVerifyOnConnect`` when
there is one, else the system's roots (``ISystemTrust``'s search), and the
host name only when the context asks for it (rustls's own check, on the
name given by ``IServerName.setServerName``). With no roots anywhere it
refuses to connect, saying why. The conformance cases this changes are in
``DEVIATIONS``. SNI: rtls would send "localhost" when no name is set, so a
session without a server name uses a native context with SNI off.

Where rtls's SSLObject differs from ssl.SSLObject, and what the engine does:

    read() after the peer's   raises SSLWantReadError (then SSLEOFError once
    close_notify              the stream ends): a clean close looks like a
                              truncation. The engine asks rustls itself
                              (``wants_read()`` false with no plaintext
                              pending means close_notify was received).
    do_handshake() at end     raises SSLWantReadError for ever. The engine
    of stream                 fails the handshake once the input buffer has
                              reached its end.
    write() of more than      writes what fits in rustls's 64 KiB buffer and
    64 KiB                    returns the count; ssl's writes everything.
                              The engine writes one record (16 KiB) at a time.
    get_unverified_chain()    returns certificates whose ``public_bytes()``
                              takes no encoding argument.
    read() failing            leaves the fatal alert inside rustls (its
                              do_handshake() hands it over); the engine moves
                              it to the output buffer.
    do_handshake() with a     feeds rustls what fits its buffer, puts the
    large message             rest back and asks for more input: the engine
                              calls it again while the input buffer shrinks.
    unwrap()                  marks the object shut: every later read says
                              "clean end", hiding data and truncations. The
                              engine sends close_notify through rustls itself.

Three names used below are rtls's private ones, pinned by the component
tests: ``SSLObject._conn`` (rustls's connection),
``SSLObject._flush_outgoing()`` (what rtls's own do_handshake() calls to
hand over an alert and close_notify) and ``SSLContext._get_builder()`` (to
turn SNI off).
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any, ClassVar

import rtls
from rtls import _rustls
from zope.interface import implementer_only

from nettls.components.kit import (
    BaseTLSContext,
    Component,
    ContextConfig,
    EngineEOF,
    EngineError,
    ExtendedCertStore,
    ExtendedTLSContext,
    ExtendedTLSSession,
    SSLObjectEngine,
    VERIFY_DEVIATIONS,
    keylog_path,
    system_trust,
    verify_chain,
)
from nettls.interfaces import (
    CertificateError,
    IEncryptedKeys,
    IEndOfStream,
    IRecvInto,
    IKeyLog,
    IMinimumVersion,
    INegotiatedProtocol,
    IProtocolNegotiation,
    ISessionInfo,
    IServerName,
    ISystemTrust,
    ITLS,
    ITLSCertStore,
    ITLSContext,
    IVerifyOnConnect,
    IVerifyResult,
    VerifyStatus,
)

__all__ = ["TLS", "TLSContext", "TLSCertStore", "COMPONENT", "DEVIATIONS", "RustlsEngine", "native_context"]

#: Plaintext given to rustls per write: one TLS record, well inside rustls's
#: 64 KiB send buffer, so every write is taken whole.
WRITE_CHUNK = 16384
#: OpenSSL's full TLS 1.2 list less unauthenticated, null, PSK and SRP suites
#: (SPEC 8). rtls maps it onto rustls's suites: rustls implements only
#: ECDHE with AES-GCM or ChaCha20-Poly1305, so this is rustls's whole list.
CIPHERS_ALL = "ALL:!aNULL:!eNULL:!PSK:!SRP"

LIBRARY = f"rtls {getattr(rtls, '__version__', '?')} on rustls {_rustls.rustls_version()} ({_rustls.crypto_provider()} {_rustls.crypto_provider_version()})"

_VERIFIES = (
    "a rustls client verifies the server's chain in the handshake, since rtls cannot check the handshake "
    "signature without it (SPEC 6): a server whose chain does not verify is refused at connect()"
)
_NO_SERVER_SNI = (
    "an rtls server does not tell which name the client sent (rtls has no SNI callback), so a rustls "
    "server's getServerName() is None; the rustls client's SNI is checked against the other components' "
    "servers in the interop cases"
)

#: Conformance cases rustls cannot meet: case id -> why (the suite makes each a strict xfail).
DEVIATIONS: dict[str, str] = {
    "8.cipher-set:cipher_all_server_accepts_a_sha1_suite": "rustls implements no CBC suite and no SHA-1 MAC: "
    "CIPHER_ALL is every suite rustls has (ECDHE with AES-GCM or ChaCha20-Poly1305), so a client offering only "
    "ECDHE-RSA-AES128-SHA finds no shared suite",
    "8.cipher-set:cipher_all_client_offers_a_sha1_suite": "rustls implements no CBC suite and no SHA-1 MAC: "
    "CIPHER_ALL cannot offer ECDHE-RSA-AES128-SHA, the only suite that server accepts",
    # The client verifies the chain in the handshake (module docstring): a
    # server whose chain does not verify against the client's roots is refused.
    "6.no-verify:connect_does_not_verify": _VERIFIES,
    "6.peer-chain:chain_order_is_kept[blocking-leaf-only]": _VERIFIES + " (a leaf sent without its intermediate)",
    "6.peer-chain:chain_order_is_kept[nonblocking-leaf-only]": _VERIFIES + " (a leaf sent without its intermediate)",
    "6.peer-chain:chain_order_is_kept[blocking-two-intermediates]": _VERIFIES + " (a chain past its path length)",
    "6.peer-chain:chain_order_is_kept[nonblocking-two-intermediates]": _VERIFIES + " (a chain past its path length)",
    "11.verify-on-connect:wrong_host_name_fails_the_handshake": "rustls refuses the name inside the handshake "
    "and hands out no certificate it refused, so getVerifyResult().failedCertificate is None on a host-name "
    "mismatch (SPEC 6 allows None where the library cannot tell); the reason names the host",
    "11.alpn:negotiation_outcomes[['spdy/1']-['h2']-None]": "a rustls server refuses a client whose ALPN protocols "
    "share none with its own, with RFC 7301's no_application_protocol alert, where OpenSSL goes on without ALPN",
    "14.post-handshake-flood:a_long_post_handshake_flood_ends_the_session_with_an_alert": "rustls ends a KeyUpdate "
    "flood itself, after 32 messages (TooManyKeyUpdateRequests), sooner than nettls's limit, but hands over no "
    "alert for the peer: the session fails with rustls's reason and the peer sees the connection end",
    "11.server-name:client_sends_server_name": _NO_SERVER_SNI,
    "11.server-name:internationalised_name_is_sent_as_a_labels": _NO_SERVER_SNI,
    "11.alert-delivery:refusal_alert_reaches_the_peer": "rustls refuses the TLS 1.1 ClientHello for lacking the "
    "signature_algorithms extension before it looks at the version, so the alert it hands over (and the peer "
    "receives) is handshake_failure, not the protocol_version alert the case looks for",
}


def _reason(exc: BaseException) -> str:
    """rustls's own words for an rtls error (rtls puts them in ``reason``)."""
    if isinstance(exc, rtls.SSLCertVerificationError):
        return f"certificate verify failed: {exc.args[0] if exc.args else 'no reason given'} (rustls)"
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason and not reason.isdigit():
        return f"{reason} (rustls)"
    return f"{exc.args[-1] if exc.args else type(exc).__name__} (rustls)"


class RustlsEngine(SSLObjectEngine):
    """``SSLObjectEngine`` serving rtls, with rtls's differences from ``ssl`` made good.

    Inherited unchanged: construction (``wrap_bio`` over two ``MemoryBIO``),
    ``feed``, ``feed_eof``, ``output``, ``shutdown``, ``version``, ``cipher``.
    """

    __slots__ = ("_fault",)

    _ssl: ClassVar[ModuleType] = rtls
    _reason = staticmethod(_reason)
    #: rtls's pending() does not count what rustls holds decrypted, so the
    #: session must not take "nothing pending" to mean "needs input".
    pending = None  # type: ignore[assignment]  # "no such hook" to the session
    #: rtls reads through ``read`` (its failure handling); the session's
    #: recvInto then reads and copies.
    read_into = None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: A read failure held back while rustls still had plaintext from
        #: records before the bad one: that plaintext is handed out first.
        self._fault: EngineError | None = None

    def _peer_closed(self) -> bool:
        """True once rustls has received close_notify and handed out all plaintext.

        rustls's ``wants_read()`` turns false when close_notify arrived or
        when plaintext waits to be read; ``pending()`` tells the two apart.
        """
        obj: Any = self._obj  # rtls's SSLObject (typed as ssl's by SSLObjectEngine)
        conn = obj._conn
        return not conn.wants_read() and conn.pending() == 0

    def _hand_over_alert(self) -> None:
        """Move what rustls wrote on failing (its fatal alert) to the output buffer."""
        flush = getattr(self._obj, "_flush_outgoing", None)
        if flush is not None:
            try:
                flush()
            except Exception:  # nothing more to tell the peer
                pass

    def handshake(self) -> bool:
        obj = self._obj
        while True:
            before = self._in.pending
            try:
                obj.do_handshake()
                return True
            except rtls.SSLWantReadError:
                # rtls feeds rustls only what fits its buffer and puts the rest
                # back: a handshake message larger than that (a 30 KiB
                # certificate chain, a 40 KiB ClientHello) needs another turn
                # on input already here, or it waits for input that never comes.
                if self._in.pending and self._in.pending < before:
                    continue
                if self._in.eof:
                    raise EngineError("the peer closed the connection during the handshake (rustls got no more data)") from None
                return False
            except rtls.SSLError as exc:
                if isinstance(exc, rtls.SSLCertVerificationError):
                    self._note_verify_failure(exc)
                raise EngineError(_reason(exc)) from exc

    def shutdown(self) -> None:
        """close_notify, without rtls's ``unwrap()``: that marks the object shut,
        after which every read says "clean end", so data already on its way
        and a truncation by the peer would both be lost."""
        obj: Any = self._obj
        try:
            obj._conn.send_close_notify()
            obj._flush_outgoing()
        except rtls.SSLError as exc:
            raise EngineError(_reason(exc)) from exc

    def _note_verify_failure(self, exc: Any) -> None:
        """rustls's verdict; it hands out no certificate it refused, so none is named."""
        self._verify_failure = VerifyStatus(VerifyStatus.FAIL, None, _reason(exc))

    def read(self, n: int) -> bytes | None:
        if self._fault is not None:
            left = self._plaintext_left(n)
            if left:
                return left
            raise self._fault
        try:
            data = self._obj.read(n)
        except rtls.SSLWantReadError:
            return b"" if self._peer_closed() else None
        except rtls.SSLZeroReturnError:
            return b""
        except rtls.SSLEOFError as exc:
            if self._peer_closed():
                return b""
            raise EngineEOF(_reason(exc)) from exc
        except rtls.SSLError as exc:
            self._hand_over_alert()
            fault = EngineError(_reason(exc))
            fault.__cause__ = exc
            left = self._plaintext_left(n)  # records authenticated before the bad one
            if left:
                self._fault = fault
                return left
            raise fault from exc
        return bytes(data)

    def _plaintext_left(self, n: int) -> bytes:
        """Plaintext rustls still holds after a failure (b"" if none)."""
        obj: Any = self._obj
        try:
            return bytes(obj._conn.read_plaintext(n) or b"")
        except Exception:  # nothing more can come out of a failed connection
            return b""

    def write(self, data: memoryview) -> None:
        obj = self._obj
        try:
            for pos in range(0, len(data), WRITE_CHUNK):
                chunk = data[pos : pos + WRITE_CHUNK]
                while chunk:
                    taken = obj.write(chunk)
                    if not taken:
                        raise EngineError("rustls took no plaintext (its send buffer is full)")
                    chunk = chunk[taken:]
        except rtls.SSLError as exc:
            raise EngineError(_reason(exc)) from exc

    def peer_chain(self) -> list[bytes]:
        obj: Any = self._obj
        chain = obj.get_unverified_chain() or []
        return [bytes(cert.public_bytes()) for cert in chain]


def _trust(ctx: rtls.SSLContext, roots: tuple[str, ...]) -> None:
    try:
        ctx.load_verify_locations(cadata="".join(p if p.endswith("\n") else p + "\n" for p in roots))
    except (rtls.SSLError, ValueError) as exc:
        raise CertificateError(f"the trusted certificates were refused by rustls: {_reason(exc)}") from exc


def client_roots(config: ContextConfig) -> tuple[str, ...]:
    """The roots a client of ``config`` verifies the server's chain against:
    the verify-on-connect store, else the system's; () when there are none."""
    if config.verifyTrust is not None:
        return config.verifyTrust
    return system_trust()[0]


@functools.lru_cache(maxsize=64)
def native_context(config: ContextConfig, sni: bool = False) -> rtls.SSLContext:
    """An ``rtls.SSLContext`` for ``config``, built once per configuration;
    a client's with SNI on only for sessions that name their server."""
    server = config.server
    ctx = rtls.SSLContext(rtls.PROTOCOL_TLS_SERVER if server else rtls.PROTOCOL_TLS_CLIENT)
    if not server:
        # Always CERT_REQUIRED: rtls's CERT_NONE would skip the server's
        # handshake signature as well (see "The client verifies").
        ctx.verify_mode = rtls.CERT_REQUIRED
        ctx.check_hostname = config.verifyHostName
        roots = client_roots(config)
        if roots:
            _trust(ctx, roots)
        if not sni:
            # rtls would send "localhost" as SNI for a session with no server name.
            ctx._get_builder().set_sni_enabled(False)
    # A server's verify_mode stays CERT_NONE: no client certificate is requested.
    # rustls has nothing older than TLS 1.2; IMinimumVersion may raise the floor to 1.3.
    ctx.minimum_version = rtls.TLSVersion.TLSv1_3 if config.minimumVersion == "TLSv1.3" else rtls.TLSVersion.TLSv1_2
    ctx.maximum_version = rtls.TLSVersion.TLSv1_3  # TLS 1.3 on
    # No compression and no renegotiation: rustls implements neither.
    if config.cipherSet == BaseTLSContext.CIPHER_ALL:
        ctx.set_ciphers(CIPHERS_ALL)  # TLS 1.2 only; rustls keeps its TLS 1.3 suites
    if config.applicationProtocols:
        ctx.set_alpn_protocols(list(config.applicationProtocols))
    keylog = keylog_path(config)
    if keylog is not None:  # IKeyLog or SSLKEYLOGFILE: for debugging only
        ctx.keylog_filename = keylog
    if config.certificate and config.privateKey:
        pem = "".join(p if p.endswith("\n") else p + "\n" for p in (config.certificate, *config.chain))
        try:
            # rtls takes PEM from memory: no key file is ever written.
            ctx.load_cert_chain(pem.encode("ascii"), config.privateKey.encode("ascii"))
            if server:
                # rtls parses the key only when a connection is made: make one
                # now, so an unusable key is refused here and not at accept().
                ctx.wrap_bio(rtls.MemoryBIO(), rtls.MemoryBIO(), server_side=True)
        except (rtls.SSLError, ValueError, TypeError) as exc:
            raise CertificateError(f"the certificate and key were refused by rustls: {_reason(exc)}") from exc
    return ctx


@implementer_only(ITLSContext, IVerifyOnConnect, IProtocolNegotiation, IMinimumVersion, IKeyLog, IEncryptedKeys)
class TLSContext(ExtendedTLSContext):
    """``net.TLSContext`` for the rustls component; see ``ITLSContext`` and the
    context extensions it declares. Not ``IServerNameCertificates`` (rtls
    gives a server no say in the certificate per name) nor
    ``IClientCertificates`` (an rtls server neither asks for nor verifies a
    client certificate, whatever its ``verify_mode``)."""

    _native_builder = staticmethod(native_context)


@implementer_only(ITLSCertStore, ISystemTrust)
class TLSCertStore(ExtendedCertStore):
    """``net.TLSCertStore`` for the rustls component; see ``ITLSCertStore`` and ``ISystemTrust``."""


#: The context settings a rustls session honours (see ``check_honoured``).
_HONOURED = frozenset(
    {
        "verifyTrust",
        "verifyHostName",
        "applicationProtocols",
        "minimumVersion",
        "keyLogFile",
    }
)


@implementer_only(ITLS, ISessionInfo, IServerName, IVerifyResult, INegotiatedProtocol, IEndOfStream, IRecvInto)
class TLS(ExtendedTLSSession):
    """``net.TLS`` on rustls (rtls's SSLObject over MemoryBIO); see ``ITLS``
    and the session extensions it declares."""

    component = "rustls"
    context_extensions = _HONOURED
    __slots__ = ()

    def _native_context(self, config: ContextConfig) -> rtls.SSLContext:
        return native_context(config)

    def _make_engine(self, native: rtls.SSLContext, server: bool) -> RustlsEngine:
        if server:
            return RustlsEngine(native, server)
        name, _session = self._engine_options()
        if not client_roots(self._config):
            raise EngineError(
                "a rustls client verifies the server's chain during the handshake (rtls cannot check the "
                "handshake signature without it), and there are no roots to verify against: give the "
                "context a store with setVerifyOnConnect(store, checkHostName=False), or install the "
                "system's trusted roots"
            )
        if name is not None:
            native = native_context(self._config, sni=True)
        return RustlsEngine(native, server, name)

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        return verify_chain(roots, leaf, chain)


COMPONENT = Component(
    name="rustls",
    provides={"net.TLS": TLS, "net.TLSContext": TLSContext, "net.TLSCertStore": TLSCertStore},
    description="TLS on rustls (rtls's SSLObject over MemoryBIO); verification by cryptography",
    library=LIBRARY,
    # its own, and those of the verifier it delegates to (cryptography vs OpenSSL)
    deviations={**DEVIATIONS, **VERIFY_DEVIATIONS},
    client_verifies_chain=True,
)
