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
"""

from __future__ import annotations

import functools
import ssl
from types import ModuleType
from typing import Any, ClassVar

from nettls.interfaces import CertificateError, VerifyStatus
from nettls.interfaces.component import Component

from ._common.config import BaseCertStore, BaseTLSContext, ContextConfig
from ._common.pem import private_file
from ._common.session import EngineEOF, EngineError, TLSSession
from ._x509verify import verify_chain

__all__ = ["TLS", "TLSContext", "TLSCertStore", "COMPONENT"]

#: OpenSSL's full TLS 1.2 list less unauthenticated, null, PSK and SRP suites.
CIPHERS_ALL = "ALL:!aNULL:!eNULL:!PSK:!SRP"


def _reason(exc: ssl.SSLError) -> str:
    """A readable reason from an ``ssl.SSLError``: OpenSSL's reason, in words."""
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
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.0/1.1 are broken and deprecated
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
    return ctx


class StdlibEngine:
    """The engine protocol on ``ssl.SSLObject`` and two ``ssl.MemoryBIO``.

    It serves any module shaped like ``ssl`` (``MemoryBIO``, ``wrap_bio``
    and the ``SSLError`` family): a subclass sets ``_ssl`` to that module.
    """

    __slots__ = ("_obj", "_in", "_out", "_server")

    #: The ssl-like module whose MemoryBIO and exceptions this engine uses.
    _ssl: ClassVar[ModuleType] = ssl

    def __init__(self, ctx: ssl.SSLContext, server: bool) -> None:
        self._in = self._ssl.MemoryBIO()
        self._out = self._ssl.MemoryBIO()
        self._server = server
        self._obj = ctx.wrap_bio(self._in, self._out, server_side=server)

    def handshake(self) -> bool:
        try:
            self._obj.do_handshake()
            return True
        except self._ssl.SSLWantReadError:
            return False
        except self._ssl.SSLEOFError as exc:
            raise EngineError(f"the peer closed the connection during the handshake ({_reason(exc)})") from exc
        except self._ssl.SSLError as exc:
            raise EngineError(_reason(exc)) from exc

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
        ders = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
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


class TLSContext(BaseTLSContext):
    """``net.TLSContext`` for the stdlib component; see ``ITLSContext``."""

    def setCertificate(self, cert: str | bytes, key: str | bytes) -> bool:
        super().setCertificate(cert, key)
        native_context(self._config)  # surface ssl's own refusal here, not at accept()
        return True


class TLSCertStore(BaseCertStore):
    """``net.TLSCertStore`` for the stdlib component; see ``ITLSCertStore``."""


class TLS(TLSSession):
    """``net.TLS`` on ``ssl.SSLObject``; see ``ITLS``."""

    component = "stdlib"

    def _native_context(self, config: ContextConfig) -> ssl.SSLContext:
        return native_context(config)

    def _make_engine(self, native: ssl.SSLContext, server: bool) -> StdlibEngine:
        return StdlibEngine(native, server)

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        return verify_chain(roots, leaf, chain)


COMPONENT = Component(
    name="stdlib",
    provides={"net.TLS": TLS, "net.TLSContext": TLSContext, "net.TLSCertStore": TLSCertStore},
    description="TLS on Python's ssl module (SSLObject over MemoryBIO); verification by cryptography",
    library=ssl.OPENSSL_VERSION,
)
