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
  ``nettls.hostname.check_host_name`` (pyOpenSSL has no host-name setting);
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

import binascii
import functools
import threading
import weakref
from typing import Any, Callable

import OpenSSL
from cryptography import x509
from OpenSSL import SSL, crypto

from nettls.hostname import ServerName, check_host_name
from nettls.interfaces import CertificateError, ClientCertificateConstants, VerifyStatus
from nettls.interfaces.component import Component

from ._common.config import BaseTLSContext, ContextConfig
from ._common.extensions import ExtendedCertStore, ExtendedTLSContext, ExtendedTLSSession, select_name_certificate
from ._common.pem import PEM_BEGIN, PEM_END, certificate_pem, parse_certificate, parse_private_key
from ._common.engine import RECORD_PLAINTEXT, EngineEOF, EngineError

__all__ = ["TLS", "TLSContext", "TLSCertStore", "COMPONENT", "native_context", "PyOpenSSLEngine", "DirectEngine", "ENGINE"]

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
#: The floor of each IMinimumVersion setting.
_TLS_VERSIONS = {"TLSv1.2": SSL.TLS1_2_VERSION, "TLSv1.3": SSL.TLS1_3_VERSION}
#: The session id context of every server context: OpenSSL refuses to resume
#: a session on a server that verifies clients unless one is set.
SESSION_ID_CONTEXT = b"nettls"
#: The client states (``get_state_string``) the info callback watches.
_TICKET_STATE = b"SSLv3/TLS read server session ticket"
_CERTIFICATE_STATE = b"SSLv3/TLS read server certificate"


def _openssl_lib() -> Any:
    """pyOpenSSL's binding of OpenSSL (private to pyOpenSSL): for the calls
    it has no public form of, and ``DirectEngine``'s data path. None where
    it cannot be had."""
    try:
        from OpenSSL._util import ffi, lib
    except ImportError:
        return None, None
    return ffi, lib


_FFI, _LIB = _openssl_lib()
#: A cffi allocator that skips zeroing (buffers are written before they are read).
_ALLOCATE: Any = _FFI.new_allocator(should_clear_after_alloc=False) if _FFI is not None else None
_WANT_READ: int = getattr(_LIB, "SSL_ERROR_WANT_READ", 2)
_ZERO_RETURN: int = getattr(_LIB, "SSL_ERROR_ZERO_RETURN", 6)
#: SSL_write takes an int length.
_INT_MAX = 2**31 - 1
#: The per-thread buffer ``DirectEngine`` reads into: a record's plaintext,
#: or a flight of ciphertext (a 64 KiB send makes about 64 KiB).
SCRATCH_SIZE = 65536 + 1024
#: SSL_session_reused; None if the binding lacks it (then a client tells a
#: resumed handshake by the server certificate it did not read).
_SESSION_REUSED: Callable[[Any], int] | None = getattr(_LIB, "SSL_session_reused", None)


def _verify_error(errno: int) -> str:
    """OpenSSL's text for an X509_V_ERR code."""
    text = getattr(_LIB, "X509_verify_cert_error_string", None)
    if text is not None and _FFI is not None:
        try:
            return str(_FFI.string(text(errno)).decode("ascii", "replace"))
        except Exception:  # fall through to the number
            pass
    return f"certificate verify error {errno}"


def _reason(exc: SSL.Error | crypto.Error) -> str:
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
            ctx.set_verify(mode, _verify_callback)
    else:
        ctx.set_info_callback(_client_info_callback)  # session tickets, for resumption
        if config.applicationProtocols:
            ctx.set_alpn_protos([p.encode("ascii") for p in config.applicationProtocols])
        if config.verifyTrust is not None:  # verification on connect (IVerifyOnConnect)
            _trust(ctx, config.verifyTrust)
            ctx.set_verify(SSL.VERIFY_PEER, _verify_callback)
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
    return _verify_x509(roots, crypto.X509.from_cryptography(leaf), untrusted)


def _der_size(head: bytes) -> int | None:
    """The size of the DER SEQUENCE that ``head`` (its first bytes) starts,
    if its length is in DER's minimal form; else None."""
    if len(head) < 5 or head[0] != 0x30:
        return None
    first = head[1]
    if first < 0x80:
        return 2 + first
    count = first - 0x80
    if not 1 <= count <= 3 or head[2] == 0:
        return None
    length = int.from_bytes(head[2 : 2 + count], "big")
    return 2 + count + length if length >= 0x80 else None


def _load_one(pem: object) -> crypto.X509 | None:
    """The certificate in ``pem`` when it holds exactly one, as strict base64
    of exactly one DER SEQUENCE; None for anything else (the general path
    then words the problem).

    OpenSSL's PEM reader is laxer than ``cryptography``'s: it ignores bytes
    after the DER and takes lengths not in minimal form. So before OpenSSL
    parses it, the body must be exactly as long as the base64 of the
    SEQUENCE its first bytes announce, with the padding that length needs.
    """
    if type(pem) is str:
        if not pem.isascii():
            return None
        raw = pem.encode("ascii")
    elif type(pem) is bytes:
        raw = pem
    else:
        return None
    begin = raw.find(PEM_BEGIN)
    end = raw.find(PEM_END, begin)
    if begin < 0 or end < 0 or raw.find(PEM_BEGIN, begin + 1) >= 0:
        return None
    body = raw[begin + len(PEM_BEGIN) : end].translate(None, b" \t\r\n")
    try:
        size = _der_size(binascii.a2b_base64(body[:8], strict_mode=True))
    except binascii.Error:
        return None
    if size is None:
        return None
    padding = -size % 3
    if len(body) != 4 * ((size + 2) // 3) or body.count(b"=") != padding or not body.endswith(b"=" * padding):
        return None
    try:
        return crypto.load_certificate(crypto.FILETYPE_PEM, raw)
    except crypto.Error:
        return None


def verify_pem(roots: tuple[str, ...], certificate: object, chain: object) -> VerifyStatus | None:
    """``verify_chain`` on PEM that OpenSSL parses itself; None unless the
    certificate and every chain entry are single PEM certificates."""
    leaf = _load_one(certificate)
    if leaf is None:
        return None
    untrusted: list[crypto.X509] = []
    if chain is not None:
        if not isinstance(chain, (list, tuple)):
            return None
        for item in chain:
            cert = _load_one(item)
            if cert is None:
                return None
            untrusted.append(cert)
    return _verify_x509(roots, leaf, untrusted)


def _verify_x509(roots: tuple[str, ...], leaf: crypto.X509, untrusted: list[crypto.X509]) -> VerifyStatus:
    context = crypto.X509StoreContext(trust_store(roots), leaf, untrusted)
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as exc:
        failed = exc.certificate.to_cryptography()
        subject = failed.subject.rfc4514_string() or "<empty subject>"
        depth = exc.errors[1] if len(exc.errors) > 1 else "?"
        return VerifyStatus(VerifyStatus.FAIL, certificate_pem(failed), f"{exc} (depth {depth}: {subject})")
    return VerifyStatus(VerifyStatus.OK)


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

    def _verify_pem(self, roots: tuple[str, ...], certificate: Any, chain: Any) -> VerifyStatus | None:
        return verify_pem(roots, certificate, chain)


COMPONENT = Component(
    name="pyopenssl",
    provides={"net.TLS": TLS, "net.TLSContext": TLSContext, "net.TLSCertStore": TLSCertStore},
    description="TLS on pyOpenSSL (SSL.Connection over memory BIOs); verification by OpenSSL's X509_verify_cert",
    library=LIBRARY,
)
