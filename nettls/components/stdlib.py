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
own chain and host-name checks, during the handshake); SNI by
``server_hostname`` on the client and ``sni_callback`` on the server, which
records the name the client sent and switches the ``SSLObject`` to the
native context of the certificate chosen for it; resumption by
``SSLObject.session`` / ``session_reused`` (``ssl`` hands out a copy of
the session, so it stays resumable whatever becomes of this connection).
"""

from __future__ import annotations

import functools
import ssl
from types import ModuleType
from typing import Any, ClassVar

from nettls.hostname import ServerName
from nettls.interfaces import CertificateError, ClientCertificateConstants, VerifyStatus
from nettls.interfaces.component import Component

from ._common.config import BaseTLSContext, ContextConfig
from ._common.extensions import ExtendedCertStore, ExtendedTLSContext, ExtendedTLSSession, select_name_certificate
from ._common.pem import der_to_pem, private_file
from ._common.session import EngineEOF, EngineError
from ._x509verify import verify_chain

__all__ = ["TLS", "TLSContext", "TLSCertStore", "COMPONENT"]

#: OpenSSL's full TLS 1.2 list less unauthenticated, null, PSK and SRP suites.
CIPHERS_ALL = "ALL:!aNULL:!eNULL:!PSK:!SRP"


#: OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH:
#: failures whose certificate at fault is the leaf.
_NAME_MISMATCH = (62, 64)
_TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def _reason(exc: ssl.SSLError) -> str:
    """A readable reason from an ``ssl.SSLError``: OpenSSL's reason, in words."""
    verify = getattr(exc, "verify_message", None)
    if verify:  # an SSLCertVerificationError: say which check failed
        return f"certificate verify failed: {verify}"
    code = getattr(exc, "reason", None)
    if code:
        library = getattr(exc, "library", None)
        text = code.replace("_", " ").lower()
        return f"{text} ({library} routines)" if library else text
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc)


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
                raise CertificateError(f"the certificate and key were refused by ssl: {_reason(exc)}") from exc
    if config.applicationProtocols:
        ctx.set_alpn_protocols(list(config.applicationProtocols))  # a server picks in its own order
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
        raise CertificateError(f"the trusted certificates were refused by ssl: {_reason(exc)}") from exc


def _server_name_callback(config: ContextConfig) -> Any:
    """A server's ``sni_callback``: note the name the client sent on the
    ``SSLObject`` (``ssl`` has no getter for it) and switch to the native
    context of the certificate chosen for that name, if any."""

    def on_server_name(sslobj: Any, name: str | None, _ctx: ssl.SSLContext) -> None:
        sslobj._nettls_server_name = name
        try:
            entry = select_name_certificate(config, name)
            if entry is not None:
                sslobj.context = native_context(config.for_name(entry))
        except Exception:  # an unusable entry was refused when set; the default certificate serves
            pass

    return on_server_name


class StdlibEngine:
    """The engine protocol on ``ssl.SSLObject`` and two ``ssl.MemoryBIO``.

    It serves any module shaped like ``ssl`` (``MemoryBIO``, ``wrap_bio``
    and the ``SSLError`` family): a subclass sets ``_ssl`` to that module.
    """

    __slots__ = ("_obj", "_in", "_out", "_server", "_verify_failure")

    #: The ssl-like module whose MemoryBIO and exceptions this engine uses.
    _ssl: ClassVar[ModuleType] = ssl

    def __init__(
        self, ctx: ssl.SSLContext, server: bool, server_name: ServerName | None = None, session: Any = None
    ) -> None:
        self._in = self._ssl.MemoryBIO()
        self._out = self._ssl.MemoryBIO()
        self._server = server
        self._verify_failure: VerifyStatus | None = None
        # Keywords only when used, so that an ssl-shaped module without them still serves.
        options: dict[str, Any] = {}
        if server_name is not None and not server:
            options["server_hostname"] = server_name.text  # ssl sends no SNI for an address
        if session is not None:
            options["session"] = session
        try:
            self._obj = ctx.wrap_bio(self._in, self._out, server_side=server, **options)
        except ValueError:
            if options.pop("session", None) is None:
                raise
            # The session belongs to a native context since rebuilt: a full handshake.
            self._obj = ctx.wrap_bio(self._in, self._out, server_side=server, **options)

    def handshake(self) -> bool:
        try:
            self._obj.do_handshake()
            return True
        except self._ssl.SSLWantReadError:
            return False
        except self._ssl.SSLEOFError as exc:
            raise EngineError(f"the peer closed the connection during the handshake ({_reason(exc)})") from exc
        except self._ssl.SSLError as exc:
            if getattr(exc, "verify_message", None):
                self._note_verify_failure(exc)
            raise EngineError(_reason(exc)) from exc

    def _note_verify_failure(self, exc: ssl.SSLError) -> None:
        code = getattr(exc, "verify_code", None)
        leaf = None
        if code in _NAME_MISMATCH:
            try:
                ders = self.peer_chain()
            except Exception:  # no chain to name: the reason says enough
                ders = []
            leaf = der_to_pem(ders[0]) if ders else None
        self._verify_failure = VerifyStatus(VerifyStatus.FAIL, leaf, str(getattr(exc, "verify_message", "")) or _reason(exc))

    def read(self, n: int) -> bytes | None:
        try:
            return self._obj.read(n)
        except self._ssl.SSLWantReadError:
            return None
        except self._ssl.SSLZeroReturnError:
            return b""
        except self._ssl.SSLEOFError as exc:
            raise EngineEOF(_reason(exc)) from exc
        except self._ssl.SSLError as exc:
            raise EngineError(_reason(exc)) from exc

    def read_into(self, view: memoryview) -> int | None:
        try:
            # typeshed types read() as bytes, but given a buffer it returns the count read into it
            return self._obj.read(len(view), view)  # type: ignore[return-value]
        except self._ssl.SSLWantReadError:
            return None
        except self._ssl.SSLZeroReturnError:
            return 0
        except self._ssl.SSLEOFError as exc:
            raise EngineEOF(_reason(exc)) from exc
        except self._ssl.SSLError as exc:
            raise EngineError(_reason(exc)) from exc

    def write(self, data: memoryview) -> None:
        try:
            self._obj.write(data)
        except self._ssl.SSLError as exc:
            raise EngineError(_reason(exc)) from exc

    def shutdown(self) -> None:
        try:
            self._obj.unwrap()
        except self._ssl.SSLWantReadError:
            pass  # close_notify is written; we do not wait for the peer's
        except self._ssl.SSLError as exc:
            # unwrap() writes close_notify, then reads on for the peer's; data
            # still unread there is not a failure of ours to close.
            if getattr(exc, "reason", None) != "APPLICATION_DATA_AFTER_CLOSE_NOTIFY":
                raise EngineError(_reason(exc)) from exc

    def feed(self, data: bytes) -> None:
        self._in.write(data)

    def feed_eof(self) -> None:
        self._in.write_eof()

    def output(self) -> bytes:
        return self._out.read()

    def peer_chain(self) -> list[bytes]:
        sslobj = self._obj._sslobj  # type: ignore[attr-defined]
        chain = sslobj.get_unverified_chain() or []
        # A server whose client sent no certificate gets [None] from ssl: skip it.
        ders = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain if c is not None]  # type: ignore[attr-defined]
        if self._server or not ders:
            # OpenSSL leaves the leaf out of a server's view of the client chain.
            leaf = self._obj.getpeercert(binary_form=True)
            if leaf and (not ders or ders[0] != leaf):
                ders.insert(0, leaf)
        return ders

    def version(self) -> str | None:
        return self._obj.version()

    def cipher(self) -> str | None:
        info = self._obj.cipher()
        return info[0] if info else None

    # -- ExtendedEngine -----------------------------------------------------------------

    def server_name(self) -> str | None:
        if self._server:
            name: str | None = getattr(self._obj, "_nettls_server_name", None)
            return name
        return self._obj.server_hostname

    def alpn(self) -> str | None:
        return self._obj.selected_alpn_protocol()

    def resumed(self) -> bool:
        return bool(self._obj.session_reused)

    def session(self) -> Any:
        session = self._obj.session
        if session is None:
            return None
        # TLS 1.3 tickets follow the handshake; TLS 1.2 resumes by ticket or id.
        if session.has_ticket or (self._obj.version() == "TLSv1.2" and session.id):
            return session
        return None

    def verify_failure(self) -> VerifyStatus | None:
        return self._verify_failure


class TLSContext(ExtendedTLSContext):
    """``net.TLSContext`` for the stdlib component; see ``ITLSContext`` and the
    context extensions (``nettls.interfaces.tlsext``)."""

    def setCertificate(self, cert: str | bytes, key: str | bytes) -> bool:
        super().setCertificate(cert, key)
        native_context(self._config)  # surface ssl's own refusal here, not at accept()
        return True

    def _check_native(self, config: ContextConfig) -> None:
        native_context(config)
        for entry in config.nameCertificates:
            native_context(config.for_name(entry))


class TLSCertStore(ExtendedCertStore):
    """``net.TLSCertStore`` for the stdlib component; see ``ITLSCertStore`` and ``ISystemTrust``."""


class TLS(ExtendedTLSSession):
    """``net.TLS`` on ``ssl.SSLObject``; see ``ITLS`` and the session extensions."""

    component = "stdlib"

    def _native_context(self, config: ContextConfig) -> ssl.SSLContext:
        return native_context(config)

    def _make_engine(self, native: ssl.SSLContext, server: bool) -> StdlibEngine:
        name, session = self._engine_options()
        return StdlibEngine(native, server, name, session)

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        return verify_chain(roots, leaf, chain)


COMPONENT = Component(
    name="stdlib",
    provides={"net.TLS": TLS, "net.TLSContext": TLSContext, "net.TLSCertStore": TLSCertStore},
    description="TLS on Python's ssl module (SSLObject over MemoryBIO); verification by cryptography",
    library=ssl.OPENSSL_VERSION,
)
