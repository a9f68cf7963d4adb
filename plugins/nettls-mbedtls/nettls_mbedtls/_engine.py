"""nettls's engine protocol on python-mbedtls's ``TLSWrappedBuffer``.

Theory of operation
-------------------
python-mbedtls's ``TLSWrappedBuffer`` is an mbed TLS connection over two
ring buffers of 32 KiB: ``receive_from_network()`` appends ciphertext to
the input ring, ``peek_outgoing()``/``consume_outgoing()`` take ciphertext
from the output ring, and ``do_handshake()``, ``readinto()``, ``write()``
and ``shutdown()`` never touch a socket. ``MbedTLSEngine`` maps that onto
nettls's engine protocol, and the shared session drives it like every
other engine. What the engine has to make good, and how:

    rings of 32 KiB           The peer's bytes wait in ``Inbound`` (``_wire``)
                              and move in as mbed TLS drains the ring; the
                              output ring is emptied into ``_pending`` after
                              every call, and plaintext is written one record
                              (16 KiB) at a time, so a write always fits.
    whole messages in one     ``Inbound`` re-frames the clear part of the
    record of 16 KiB          peer's handshake, one message per record, and
                              refuses a message over 16 KiB at once, with a
                              reason and a handshake_failure alert.
    do_handshake() is one     It is called until the handshake is over or mbed
    step                      TLS needs input (WantReadError); WantWriteError
                              only says the step produced output.
    no end of stream          mbed TLS cannot be told the stream ended; the
                              engine remembers ``feed_eof()`` and turns "needs
                              input" at the end into a failed handshake or a
                              truncation (``EngineEOF``).
    resets on close_notify    On the peer's close_notify (error -0x7880) and on
    and on failure            every failure python-mbedtls resets the connection:
                              after it mbed TLS can write nothing, and another
                              call would start a new handshake. So the engine
                              writes its close_notify just before mbed TLS
                              reads an alert record from the peer (its type is
                              in the clear in TLS 1.2) and keeps it for
                              ``shutdown()``; it latches: after close_notify it
                              reads b"" and refuses to send (TLS 1.2 discards
                              writes after the peer's close_notify, RFC 5246
                              7.2.1), after a failure it repeats the failure.
                              Version, suite, protocol and peer chain are kept
                              when the handshake completes. (An alert that is
                              neither close_notify nor fatal, which TLS 1.2
                              peers do not send after the handshake, leaves the
                              connection open: the close_notify written for it
                              goes out at once, and the session sends no more.)
    only the leaf, and only   ``getpeercert()`` gives the peer's leaf alone, and
    "verified or not"         nothing but whether its chain verified; the chain
                              as sent is read from the peer's Certificate
                              message (``Inbound``), and why it was refused is
                              worked out by nettls (``_verify``).
    no SNI callback           A server reads the client's server_name off its
                              ClientHello (``Inbound``) and makes its mbed TLS
                              connection only then, with the native context of
                              the certificate chosen for that name.

Where the handshake verifies the peer, nettls checks the chain too
(``_verify``): its verifier and host-name rules, and a client certificate
that CLIENT_CERT_REQUEST's VERIFY_OPTIONAL let pass. The check runs between
two handshake steps, right after mbed TLS processed the peer's Certificate
message and before this side sent its ChangeCipherSpec: so a refusal goes
to the peer as an alert in the clear (bad_certificate), and nothing of the
application's was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from mbedtls import tls as _tls
from mbedtls.exceptions import TLSError as MbedTLSError

from nettls.components.kit import EngineEOF, EngineError
from nettls.hostname import ServerName
from nettls.interfaces import VerifyStatus

from ._verify import explain, verdict
from ._wire import Inbound

__all__ = ["MbedTLSEngine", "Native", "Checks", "NO_CHECKS", "reason_of"]

#: MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, as python-mbedtls's TLSError.err gives it.
PEER_CLOSE_NOTIFY = 0x7880
#: MBEDTLS_ERR_X509_CERT_VERIFY_FAILED and MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE
#: (a key usage the TLS role does not allow): mbed TLS refused the peer's certificate.
_REFUSED = (0x2700, 0x7A00)
#: MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE, whose own words say "certification".
_NO_CLIENT_CERTIFICATE = 0x7480
#: Plaintext per write: one record (MBEDTLS_SSL_OUT_CONTENT_LEN), whose
#: ciphertext always fits the 32 KiB output ring once it is empty.
WRITE_CHUNK = 16384
#: Calls into mbed TLS one engine call may make: a TLS 1.2 handshake has
#: about 20 steps, each maybe preceded by moving ciphertext into the ring.
MAX_STEPS = 256
#: The engine's own fatal alerts (RFC 5246 7.2), sent only before this side's
#: ChangeCipherSpec, so in the clear.
HANDSHAKE_FAILURE, BAD_CERTIFICATE, PROTOCOL_VERSION = 40, 42, 70
_STEP: Any = _tls.HandshakeStep  # (its stub types the members as int)


@dataclass(frozen=True)
class Native:
    """A python-mbedtls ``ClientContext``/``ServerContext``, with what mbed TLS
    points into: python-mbedtls hands mbed TLS raw pointers to the trust
    store's certificates and the ALPN names without keeping either alive."""

    context: Any
    keep: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Checks:
    """What the engine does beyond what mbed TLS is told, from the context's configuration."""

    #: The PEM roots the handshake verifies the peer's chain against (None:
    #: it verifies nothing): mbed TLS, then nettls (``_verify``).
    roots: tuple[str, ...] | None = None
    #: A client's check of the server's leaf against this name (RFC 6125, ``check_host_name``).
    host: ServerName | None = None
    #: A server's CLIENT_CERT_REQUEST: mbed TLS verifies a client certificate
    #: but lets a failure pass (VERIFY_OPTIONAL); the engine refuses it.
    optional: bool = False
    #: The context's minimum is TLS 1.3, which mbed TLS 2.28 does not have.
    tls13_only: bool = False


NO_CHECKS = Checks()


def reason_of(exc: BaseException) -> str:
    """mbed TLS's error text and code from a python-mbedtls error."""
    message = getattr(exc, "msg", None) or (str(exc.args[-1]) if exc.args else type(exc).__name__)
    code = getattr(exc, "err", None)
    return f"{message} (mbed TLS -0x{code:04X})" if isinstance(code, int) and code else str(message)


class MbedTLSEngine:
    """The engine protocol on a python-mbedtls ``TLSWrappedBuffer``.

    ``native`` is the connection's native context; a server's is chosen by
    ``select`` (from the name the client asks for) when given. ``sni`` is
    the host name a client sends, ``checks`` what the engine checks itself.
    """

    __slots__ = (
        "_buf", "_native", "_select", "_server", "_sni", "_checks", "_checked", "_capacity", "_in",
        "_pending", "_reply", "_eof", "_peer_closed", "_closing", "_fault", "_verify_failure",
        "_peer", "_version", "_cipher", "_alpn",
    )  # fmt: skip

    def __init__(
        self,
        native: Native,
        server: bool,
        sni: str | None = None,
        checks: Checks = NO_CHECKS,
        select: Callable[[str | None], Native] | None = None,
    ) -> None:
        self._native, self._select, self._server, self._sni = native, select, server, sni
        self._checks = checks
        self._checked = False  # the engine's own certificate check ran
        self._in = Inbound()
        self._pending = bytearray()  # ciphertext taken from the output ring, not yet output()
        self._reply: bytes | None = None  # close_notify written before the peer's alert, for shutdown()
        self._eof = False
        self._peer_closed = False
        self._closing = False  # our close_notify is out: mbed TLS writes nothing more
        self._fault: EngineError | None = None
        self._verify_failure: VerifyStatus | None = None
        self._peer: list[bytes] = []
        self._version: str | None = None
        self._cipher: str | None = None
        self._alpn: str | None = None
        self._buf: Any = None
        self._capacity = 0
        if not server:  # a server waits for the ClientHello, whose name chooses its certificate
            self._open(native)

    def _open(self, native: Native) -> None:
        try:
            self._buf = native.context.wrap_buffers() if self._server else native.context.wrap_buffers(self._sni)
        except MbedTLSError as exc:
            raise EngineError(reason_of(exc)) from exc
        self._native = native  # kept: mbed TLS points into it
        self._capacity = self._buf._input_buffer.maxlen

    # -- moving ciphertext -------------------------------------------------------

    def _ring_output(self) -> bytes:
        """Take what mbed TLS wrote into the output ring."""
        buf = self._buf
        size = len(buf._output_buffer) if buf is not None else 0
        if not size:
            return b""
        out = bytes(buf.peek_outgoing(size))
        buf.consume_outgoing(size)
        return out

    def _drain(self) -> int:
        """Move the output ring's ciphertext to ``_pending``; returns how much."""
        out = self._ring_output()
        self._pending += out
        return len(out)

    def _top_up(self, hold_alert: bool) -> bool:
        """Move the peer's bytes into the input ring as far as it has room; True if any moved."""
        room = self._capacity - len(self._buf._input_buffer)
        data = self._in.take(room, hold_alert) if room > 0 else b""
        if data:
            self._buf.receive_from_network(data)
        return bool(data)

    def _failed(self, reason: str, eof: bool = False, alert: int | None = None) -> EngineError:
        """Latch a failure and hand over mbed TLS's alert, or the engine's own ``alert``."""
        self._drain()
        if alert is not None:
            self._pending += bytes((21, 3, 3, 0, 2, 2, alert))  # a fatal alert record, in the clear
        self._reply = None
        self._fault = EngineEOF(reason) if eof else EngineError(reason)
        return self._fault

    def _again(self) -> EngineError:
        """The latched failure once more, for a call after it."""
        assert self._fault is not None
        return type(self._fault)(str(self._fault))

    # -- the handshake -----------------------------------------------------------------

    def handshake(self) -> bool:
        if self._fault is not None:
            raise self._again()
        if self._checks.tls13_only:
            return self._refuse_tls13()
        if self._in.refusal is not None:
            raise self._failed(self._in.refusal, alert=HANDSHAKE_FAILURE)
        if self._buf is None:  # a server, until the ClientHello is whole
            if not self._in.opened:
                if self._eof:
                    raise self._failed("the peer closed the connection during the handshake")
                return False
            self._open(self._select(self._in.server_name) if self._select is not None else self._native)
        buf = self._buf
        for _ in range(MAX_STEPS):
            state = buf._handshake_state
            self._check(state)
            if state is _STEP.HANDSHAKE_OVER:
                self._completed()
                return True
            self._top_up(False)
            try:
                buf.do_handshake()
            except _tls.WantWriteError:
                pass  # the step produced output, taken below
            except _tls.WantReadError:
                if self._drain() or self._top_up(False):
                    continue  # the output ring was full, or more input can go in
                if self._eof:
                    raise self._failed("the peer closed the connection during the handshake") from None
                return False
            except MbedTLSError as exc:
                code = getattr(exc, "err", None)
                if self._checks.roots is not None and code in _REFUSED:
                    status = self._verify_failure = self._explain()
                    self._peer = list(self._in.certificates or [])  # the refused chain, as sent
                    raise self._failed(f"certificate verify failed: {status.failedReason} ({reason_of(exc)})") from exc
                if code == _NO_CLIENT_CERTIFICATE:
                    raise self._failed(f"the client sent no certificate, and the context requires one ({reason_of(exc)})") from exc
                raise self._failed(reason_of(exc)) from exc
            self._drain()
        raise self._failed(f"the handshake made no progress in {MAX_STEPS} steps")

    def _refuse_tls13(self) -> bool:
        """Refuse the handshake with a protocol_version alert: a client at once
        (in place of its hello), a server in answer to the client's hello."""
        if self._server and not (self._in.opened or self._in.refusal or self._eof):
            return False
        reason = "the context's minimum version is TLSv1.3, and mbed TLS 2.28 has no TLS 1.3 (TLS 1.2 is the newest it speaks)"
        raise self._failed(reason, alert=PROTOCOL_VERSION)

    def _check(self, state: Any) -> None:
        """The engine's own verdict on the peer's certificate, once mbed TLS has
        processed the peer's Certificate message (see the module docstring)."""
        checks = self._checks
        if self._checked or checks.roots is None:
            return
        if state.value <= (_STEP.CLIENT_CERTIFICATE if self._server else _STEP.SERVER_CERTIFICATE).value:
            return
        self._checked = True
        if self._server and not self._in.certificates:
            return  # none sent: CLIENT_CERT_REQUEST lets it be, mbed TLS refused it under REQUIRE
        if self._server and checks.optional and not self._buf._verified:
            status: VerifyStatus | None = self._explain()  # what VERIFY_OPTIONAL let pass
        else:
            status = verdict(checks.roots, self._in.certificates or [], checks.host)
        if status is not None:
            self._verify_failure = status
            self._peer = list(self._in.certificates or [])  # the refused chain, as sent
            raise self._failed(f"certificate verify failed: {status.failedReason}", alert=BAD_CERTIFICATE)

    def _explain(self) -> VerifyStatus:
        """Why mbed TLS refused the peer's chain (``_verify.explain``)."""
        roots = self._checks.roots
        assert roots is not None
        return explain(roots, self._in.certificates or [], self._checks.host, server=not self._server)

    def _completed(self) -> None:
        """Keep what the session may ask for later: python-mbedtls forgets it on a reset."""
        if self._version is not None:
            return
        buf = self._buf
        version = buf.negotiated_tls_version()
        self._version = version.name.replace("_", ".") if version is not None else None
        cipher = buf.cipher()
        self._cipher = cipher.replace("-", "_") if cipher else None
        self._alpn = buf.negotiated_protocol()
        leaf = buf.getpeercert(True)
        sent = self._in.certificates
        if leaf is None or (self._server and self._checks.roots is None):
            # A server without a client-certificate policy hands over nothing:
            # mbed TLS asks for a certificate whatever it is told (see
            # DEVIATIONS) and verifies none (SPEC 6: None and []).
            self._peer = []
        elif sent and sent[0] == leaf:
            self._peer = list(sent)
        else:  # not seen on the wire: what mbed TLS vouches for
            self._peer = [leaf]

    # -- application data ------------------------------------------------------------

    def read_into(self, view: memoryview) -> int | None:
        if self._peer_closed:
            return 0
        if self._fault is not None:
            raise self._again()
        buf = self._buf
        for _ in range(MAX_STEPS):
            hold = not self._closing  # keep mbed TLS able to write close_notify
            self._top_up(hold)
            try:
                count = buf.readinto(view, len(view))
            except _tls.WantReadError:
                if self._drain() or self._top_up(hold):
                    continue
                if self._reply is not None:  # mbed TLS read the alert and went on: not close_notify
                    self._pending += self._reply
                    self._reply, self._closing = None, True
                    continue
                if hold and self._pass_alert():
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
                raise self._failed(reason_of(exc)) from exc
            self._drain()
            return int(count)
        raise self._failed(f"a read made no progress in {MAX_STEPS} steps")

    def _pass_alert(self) -> bool:
        """Write close_notify, then give mbed TLS the alert record ahead (once
        it is whole): after a close_notify there mbed TLS could write nothing."""
        record = self._in.take_alert()
        if record is None:
            return False
        self._buf.shutdown()
        self._reply = self._ring_output()
        self._buf.receive_from_network(record)
        return True

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
        if self._closing:
            raise EngineError("close_notify was sent: nothing more can be written")
        buf = self._buf
        for pos in range(0, len(data), WRITE_CHUNK):
            self._drain()
            try:
                buf.write(data[pos : pos + WRITE_CHUNK])
            except (_tls.WantReadError, _tls.WantWriteError) as exc:
                raise self._failed("mbed TLS could not write a record into an empty output buffer") from exc
            except MbedTLSError as exc:
                raise self._failed(reason_of(exc)) from exc
        self._drain()

    def shutdown(self) -> None:
        if self._fault is not None or self._closing:
            return
        self._closing = True
        if self._reply is not None:  # written before the peer's close_notify reset the connection
            self._pending += self._reply
            self._reply = None
        elif not self._peer_closed:
            self._buf.shutdown()  # close_notify
            self._drain()

    # -- the rest of the engine protocol --------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._in.feed(data)

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

    # -- ExtendedEngine ------------------------------------------------------------------

    def server_name(self) -> str | None:
        return self._in.server_name if self._server else self._sni

    def alpn(self) -> str | None:
        return self._alpn

    def verify_failure(self) -> VerifyStatus | None:
        return self._verify_failure

    def resumed(self) -> bool:
        return False  # python-mbedtls offers no session to resume, nor a server cache or tickets

    def session(self) -> Any:
        return None
