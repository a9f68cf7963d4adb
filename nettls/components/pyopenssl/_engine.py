"""The pyopenssl engines: the engine protocol on an ``SSL.Connection`` over memory BIOs.

``PyOpenSSLEngine`` drives the connection through pyOpenSSL's API plus the
few private names it needs (listed in docs/decisions.md, "Private library
interfaces"); ``DirectEngine`` takes the data path through pyOpenSSL's
binding (see the package docstring).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from OpenSSL import SSL, crypto

from nettls.hostname import ServerName, check_host_name
from nettls.interfaces import VerifyStatus

from .._common.engine import RECORD_PLAINTEXT, EngineEOF, EngineError
from .._common.pem import certificate_pem
from ._binding import (
    _ALLOCATE,
    _FFI,
    _INT_MAX,
    _LIB,
    _SESSION_REUSED,
    _WANT_READ,
    _ZERO_RETURN,
    SCRATCH_SIZE,
    _reason,
    _verify_error,
)

#: One SSL_read returns at most one record's plaintext, so a larger buffer
READ_LIMIT = RECORD_PLAINTEXT
#: Ciphertext taken from the output BIO per ``bio_read``.
OUTPUT_CHUNK = 65536
#: OpenSSL's reason for an end of stream inside a record or before close_notify.
UNEXPECTED_EOF = "unexpected eof while reading"
#: The client states (``get_state_string``) the info callback watches.
_TICKET_STATE = b"SSLv3/TLS read server session ticket"
_CERTIFICATE_STATE = b"SSLv3/TLS read server certificate"


class PyOpenSSLEngine:
    """The engine protocol on an ``SSL.Connection`` over memory BIOs."""

    __slots__ = (
        "_conn",
        "_server",
        "_fault",
        "_verify_failure",
        "_check_name",
        "_name_checked",
        "_ticket",
        "_read_certificate",
        "_handed_out",
        "__weakref__",
    )

    def __init__(
        self,
        ctx: SSL.Context,
        server: bool,
        server_name: ServerName | None = None,
        session: Any = None,
        verify_host_name: bool = False,
    ) -> None:
        conn = SSL.Connection(ctx, None)
        conn.set_app_data(weakref.ref(self))  # for the context-wide callbacks
        self._verify_failure: VerifyStatus | None = None
        self._check_name: str | None = None
        self._name_checked = False
        self._ticket = False
        self._read_certificate = False
        self._handed_out = False
        if server:
            conn.set_accept_state()
        else:
            conn.set_connect_state()
            if server_name is not None:
                if server_name.sni is not None:
                    conn.set_tlsext_host_name(server_name.sni.encode("ascii"))
                if verify_host_name:
                    self._check_name = server_name.text
            if session is not None:
                try:
                    conn.set_session(session)
                except ValueError:  # from a native context since rebuilt: a full handshake
                    pass
        self._conn = conn
        self._server = server
        self._fault: EngineError | None = None

    def __del__(self) -> None:
        if self._handed_out:
            try:  # keep the handed-out session resumable (see the module docstring)
                self._conn.set_shutdown(SSL.SENT_SHUTDOWN | SSL.RECEIVED_SHUTDOWN)
            except Exception:
                pass

    # -- callbacks (from the context-wide callbacks of native_context) ------------------------

    def _on_verify(self, cert: crypto.X509, errno: int, depth: int, ok: bool) -> bool:
        """OpenSSL's verdict on one certificate; a host-name check at the leaf."""
        if not ok:
            if self._verify_failure is None:
                crypto_cert = cert.to_cryptography()
                subject = crypto_cert.subject.rfc4514_string() or "<empty subject>"
                self._verify_failure = VerifyStatus(
                    VerifyStatus.FAIL, certificate_pem(crypto_cert), f"{_verify_error(errno)} (depth {depth}: {subject})"
                )
            return False
        if depth == 0 and self._check_name is not None and not self._name_checked:
            self._name_checked = True
            crypto_cert = cert.to_cryptography()
            reason = check_host_name(crypto_cert, self._check_name)
            if reason is not None:
                self._verify_failure = VerifyStatus(
                    VerifyStatus.FAIL, certificate_pem(crypto_cert), f"host name mismatch: {reason}"
                )
                return False
        return True

    def _on_info(self) -> None:
        state = self._conn.get_state_string()
        if state == _TICKET_STATE:
            self._ticket = True
        elif state == _CERTIFICATE_STATE:
            self._read_certificate = True

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
            err = self._error(exc, handshaking=True)
            if self._verify_failure is not None and self._verify_failure.failedReason:
                err = EngineError(f"{err}: {self._verify_failure.failedReason}")
            raise err from exc

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

    def pending(self) -> bool:
        """False when a read would certainly need input (saves a failing read)."""
        conn = self._conn
        if conn.pending() > 0 or _LIB is None:
            return True
        return bool(_LIB.BIO_get_mem_data(conn._into_ssl, _FFI.NULL) > 0)

    def output(self) -> bytes:
        if _LIB is not None:  # read exactly what the BIO holds: no buffer, no exception
            size = _LIB.BIO_get_mem_data(self._conn._from_ssl, _FFI.NULL)
            return self._conn.bio_read(size) if size > 0 else b""
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

    # -- ExtendedEngine -----------------------------------------------------------------

    def server_name(self) -> str | None:
        if not self._server:
            name = self._conn.get_servername()
            return name.decode("ascii", "replace") if name else self._check_name
        name = self._conn.get_servername()
        return name.decode("ascii", "replace") if name else None

    def alpn(self) -> str | None:
        chosen = self._conn.get_alpn_proto_negotiated()
        return chosen.decode("ascii", "replace") if chosen else None

    def resumed(self) -> bool:
        if _SESSION_REUSED is not None:
            return bool(_SESSION_REUSED(self._conn._ssl))
        return not self._server and not self._read_certificate

    def session(self) -> Any:
        if self._server:
            return None
        # TLS 1.3 tickets follow the handshake; TLS 1.2 resumes at once.
        if self._conn.get_protocol_version_name() == "TLSv1.3" and not self._ticket:
            return None
        session = self._conn.get_session()
        if session is not None:
            self._handed_out = True
        return session

    def verify_failure(self) -> VerifyStatus | None:
        return self._verify_failure


class _Scratch(threading.local):
    """A buffer per thread that ``DirectEngine`` reads into before copying
    out exactly what it got (engines of one thread never read at once; the
    binding releases the GIL inside OpenSSL, so threads must not share one)."""

    def __init__(self) -> None:
        self.buf = _ALLOCATE("char[]", SCRATCH_SIZE)


class DirectEngine(PyOpenSSLEngine):
    """``PyOpenSSLEngine`` with its data path on pyOpenSSL's own binding.

    The handshake, shutdown and everything else stay on pyOpenSSL's public
    API; ``write``, ``read``, ``read_into``, ``feed``, ``output`` and
    ``pending`` call ``SSL_write``, ``SSL_read``, ``BIO_write`` and
    ``BIO_read`` through the cffi binding pyOpenSSL itself uses, on the
    same ``SSL`` and BIOs. That saves pyOpenSSL's per-call wrapping: a
    temporary buffer per read, an exception per empty read, argument
    conversions, a Python loop per record written (the connection leaves
    partial-write mode: a memory BIO takes every record at once). A call
    that fails goes to pyOpenSSL's own error mapping
    (``Connection._raise_ssl_error``), so every error is the exception the
    public API raises. Sessions use it when the binding has what it needs
    (``DIRECT_DATA_PATH``); docs/performance.md has the figures.
    """

    __slots__ = ("_ssl", "_into", "_from")

    def __init__(self, ctx: SSL.Context, server: bool, *args: Any, **kwargs: Any) -> None:
        super().__init__(ctx, server, *args, **kwargs)
        self._ssl = self._conn._ssl
        self._into = self._conn._into_ssl
        self._from = self._conn._from_ssl
        _LIB.SSL_clear_mode(self._ssl, _LIB.SSL_MODE_ENABLE_PARTIAL_WRITE)

    def _failed(self, result: int) -> EngineError:
        """The engine error for an SSL_read/SSL_write ``result`` <= 0, as
        pyOpenSSL's public calls would have raised it."""
        try:
            self._conn._raise_ssl_error(self._ssl, result)
        except SSL.Error as exc:
            err = self._error(exc)
            err.__cause__ = exc
            return err
        return EngineError(f"OpenSSL returned {result} without an error")

    def write(self, data: memoryview) -> None:
        size = len(data)
        if not size or size > _INT_MAX:
            return super().write(data)  # nothing to write, or more than one call takes
        if type(data) is not bytes:
            # Up to a record, a copy costs less than the binding's from_buffer().
            data = bytes(data) if size <= RECORD_PLAINTEXT else _FFI.from_buffer(data)  # type: ignore[assignment]
        result = _LIB.SSL_write(self._ssl, data, size)
        if result <= 0:
            raise self._failed(result)

    def _read_result(self, result: int) -> int | None:
        """What an SSL_read ``result`` <= 0 means: None (needs input), 0 (close_notify), or raise."""
        error = _LIB.SSL_get_error(self._ssl, result)
        if error == _WANT_READ:
            return None
        if error == _ZERO_RETURN:
            return 0
        raise self._failed(result)

    def read(self, n: int) -> bytes | None:
        buf = _SCRATCH.buf
        result = _LIB.SSL_read(self._ssl, buf, n if n < READ_LIMIT else READ_LIMIT)
        if result > 0:
            return _FFI.unpack(buf, result)
        return None if self._read_result(result) is None else b""

    def read_into(self, view: memoryview) -> int | None:
        size = len(view)
        result = _LIB.SSL_read(
            self._ssl, _FFI.from_buffer(view, require_writable=True), size if size < READ_LIMIT else READ_LIMIT
        )
        return result if result > 0 else self._read_result(result)

    def feed(self, data: bytes) -> None:
        if data:  # BIO_write of nothing reports a failure
            result = _LIB.BIO_write(self._into, data if type(data) is bytes else _FFI.from_buffer(data), len(data))
            if result <= 0:
                super().feed(data)  # the public call raises the matching error

    def pending(self) -> bool:
        return _LIB.SSL_pending(self._ssl) > 0 or _LIB.BIO_get_mem_data(self._into, _FFI.NULL) > 0

    def output(self) -> bytes:
        buf, bio = _SCRATCH.buf, self._from
        size = _LIB.BIO_read(bio, buf, SCRATCH_SIZE)  # -1 when empty
        if size < SCRATCH_SIZE:
            return _FFI.unpack(buf, size) if size > 0 else b""
        # More than the scratch holds (a large write): one exact buffer for all of it.
        rest = _LIB.BIO_get_mem_data(bio, _FFI.NULL)
        whole = _ALLOCATE("char[]", size + rest)
        _FFI.memmove(whole, buf, size)
        if rest > 0:
            size += _LIB.BIO_read(bio, whole + size, rest)
        return _FFI.unpack(whole, size)


#: Whether pyOpenSSL's binding offers what ``DirectEngine`` calls.
DIRECT_DATA_PATH = (
    _LIB is not None
    and all(
        hasattr(_LIB, name)
        for name in ("SSL_write", "SSL_read", "SSL_get_error", "SSL_pending", "SSL_clear_mode", "BIO_write", "BIO_read")
    )
    and hasattr(SSL.Connection, "_raise_ssl_error")
)
#: One scratch buffer per thread, made on a thread's first read.
_SCRATCH: Any = _Scratch() if DIRECT_DATA_PATH else None
#: The engine sessions use.
ENGINE: type[PyOpenSSLEngine] = DirectEngine if DIRECT_DATA_PATH else PyOpenSSLEngine


def _engine_of(conn: SSL.Connection) -> PyOpenSSLEngine | None:
    ref = conn.get_app_data()
    engine = ref() if isinstance(ref, weakref.ref) else None
    return engine if isinstance(engine, PyOpenSSLEngine) else None
