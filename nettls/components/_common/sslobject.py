"""An engine on ``ssl.SSLObject`` over two ``ssl.MemoryBIO`` buffers.

The stdlib component's engine, and any plugin's whose library is shaped like
``ssl`` (``MemoryBIO``, ``SSLContext.wrap_bio`` and the ``SSLError``
family): such a plugin subclasses ``SSLObjectEngine``, sets ``_ssl`` to its
module and overrides only the hooks where its library differs
(``_reason``, ``_der``, or a whole method).
"""

from __future__ import annotations

import ssl
from types import ModuleType
from typing import Any, ClassVar

from nettls.hostname import ServerName
from nettls.interfaces import VerifyStatus

from .pem import der_to_pem
from .engine import EngineEOF, EngineError

__all__ = ["SSLObjectEngine", "ssl_reason"]

#: OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH:
#: failures whose certificate at fault is the leaf.
_NAME_MISMATCH = (62, 64)


def ssl_reason(exc: ssl.SSLError) -> str:
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



class SSLObjectEngine:
    """The engine protocol on ``ssl.SSLObject`` and two ``ssl.MemoryBIO``.

    It serves any module shaped like ``ssl`` (``MemoryBIO``, ``wrap_bio``
    and the ``SSLError`` family): a subclass sets ``_ssl`` to that module.
    """

    __slots__ = ("_obj", "_in", "_out", "_server", "_verify_failure", "_rd", "_wr", "_left")

    #: The ssl-like module whose MemoryBIO and exceptions this engine uses.
    _ssl: ClassVar[ModuleType] = ssl
    #: How an exception of that module reads as a reason (a hook for other modules).
    _reason = staticmethod(ssl_reason)

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
        # The data path calls the C object under ssl.SSLObject (its ``_sslobj``)
        # where there is one: the same calls without the Python layer of
        # ssl.py (about 0.2 us each); an ssl-shaped module without it serves as is.
        native: Any = getattr(self._obj, "_sslobj", self._obj)
        self._rd, self._wr, self._left = native.read, native.write, native.pending

    def handshake(self) -> bool:
        try:
            self._obj.do_handshake()
            return True
        except self._ssl.SSLWantReadError:
            return False
        except self._ssl.SSLEOFError as exc:
            raise EngineError(f"the peer closed the connection during the handshake ({self._reason(exc)})") from exc
        except self._ssl.SSLError as exc:
            if getattr(exc, "verify_message", None):
                self._note_verify_failure(exc)
            raise EngineError(self._reason(exc)) from exc

    def _note_verify_failure(self, exc: ssl.SSLError) -> None:
        code = getattr(exc, "verify_code", None)
        leaf = None
        if code in _NAME_MISMATCH:
            try:
                ders = self.peer_chain()
            except Exception:  # no chain to name: the reason says enough
                ders = []
            leaf = der_to_pem(ders[0]) if ders else None
        self._verify_failure = VerifyStatus(VerifyStatus.FAIL, leaf, str(getattr(exc, "verify_message", "")) or self._reason(exc))

    def read(self, n: int) -> bytes | None:
        try:
            return self._rd(n)
        except self._ssl.SSLWantReadError:
            return None
        except self._ssl.SSLZeroReturnError:
            return b""
        except self._ssl.SSLEOFError as exc:
            raise EngineEOF(self._reason(exc)) from exc
        except self._ssl.SSLError as exc:
            raise EngineError(self._reason(exc)) from exc

    def read_into(self, view: memoryview) -> int | None:
        try:
            # given a buffer, read() returns the count read into it
            return self._rd(len(view), view)
        except self._ssl.SSLWantReadError:
            return None
        except self._ssl.SSLZeroReturnError:
            return 0
        except self._ssl.SSLEOFError as exc:
            raise EngineEOF(self._reason(exc)) from exc
        except self._ssl.SSLError as exc:
            raise EngineError(self._reason(exc)) from exc

    def write(self, data: memoryview) -> None:
        try:
            # ssl writes everything at once; an ssl-shaped module may take a part.
            written = self._wr(data)
            while written < len(data):
                data = data[written:]
                written = self._wr(data)
        except self._ssl.SSLError as exc:
            raise EngineError(self._reason(exc)) from exc

    def shutdown(self) -> None:
        try:
            self._obj.unwrap()
        except self._ssl.SSLWantReadError:
            pass  # close_notify is written; we do not wait for the peer's
        except self._ssl.SSLError as exc:
            # unwrap() writes close_notify, then reads on for the peer's; data
            # still unread there is not a failure of ours to close.
            if getattr(exc, "reason", None) != "APPLICATION_DATA_AFTER_CLOSE_NOTIFY":
                raise EngineError(self._reason(exc)) from exc

    def pending(self) -> bool:
        """False when a read would certainly need input (saves a failing read)."""
        return self._in.pending > 0 or self._left() > 0

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
        ders = [self._der(c) for c in chain if c is not None]
        if self._server or not ders:
            # OpenSSL leaves the leaf out of a server's view of the client chain.
            leaf = self._obj.getpeercert(binary_form=True)
            if leaf and (not ders or ders[0] != leaf):
                ders.insert(0, leaf)
        return ders

    def verified_chain(self) -> list[bytes]:
        """The chain OpenSSL built when it verified the peer (the ``SSLObject``'s
        ``get_verified_chain``: public from Python 3.13, on ``_sslobj`` before)."""
        native: Any = getattr(self._obj, "_sslobj", self._obj)
        chain = native.get_verified_chain() or []
        return [self._der(c) for c in chain if c is not None]

    @staticmethod
    def _der(cert: Any) -> bytes:
        """DER bytes of a certificate from ``get_unverified_chain()`` (a hook)."""
        return cert.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]

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
