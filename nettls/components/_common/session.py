"""The TLS session shared by every memory-buffer TLS component: the ITLS face.

Where each idea lives:

- ``state.py``: the session's states and the table of allowed moves; every
  change of ``_state`` goes through ``_move``; ``getStatus()`` derives from
  the state and the outcome of the last call;
- ``pump.py`` (``Pump``, this class's base): the engine, the socket and the
  one retry loop between them, the locks, the bound on input that brings
  no plaintext (SPEC 14); ``readers.py``: how the socket is read, chosen
  once when the session starts;
- ``ledger.py``: plaintext against ciphertext for non-blocking sends (SPEC 7);
- ``sessionio.py`` (``SessionIO``, between the two): ``send``, ``recv`` and
  the send buffer: argument checks, state moves, the mapping of engine and
  socket failures to nettls errors and statuses, delegation to the pump;
- here: the handshake, the mode, ``close()``, the peer's certificates and
  what was negotiated.

Closing while another thread sends. ``close()`` takes ``_wlock``, so it
waits for a ``send()`` in flight to finish, and enters ``CLOSING`` while it
holds it, before the engine writes close_notify. ``send()`` checks the
state only once it holds ``_wlock``, so a send that started before the
close either completed before close_notify or raises ``TLSClosedError``
without writing a byte: no application data ever follows close_notify. A
reader that meets the end of the peer's stream leaves ``OPEN`` under
``_elock``, which ``close()`` also holds when it leaves ``OPEN``, so neither
undoes the other's move. Every library exception is turned into a nettls
error by the engine (``EngineError``, kept as ``__cause__``).
"""

from __future__ import annotations

import logging
from typing import Any

from zope.interface import implementer

from nettls.escape import escape_control
from nettls.interfaces import (
    CertificateError,
    ISelectable,
    ISessionInfo,
    ITCPSocket,
    ITLS,
    TLSClosedError,
    TLSConstants,
    TLSError,
    TLSHandshakeError,
    TLSModeError,
    TLSTimeoutError,
    VerifyStatus,
)

from .config import ContextConfig, check_honoured, context_config, store_certificates, verify_inputs
from .engine import Engine, EngineEOF, EngineError
from .pem import der_to_pem
from .pump import IDLE_INPUT_LIMIT, NONBLOCKING_READ
from .readers import Socket, reader_for
from .sessionio import SessionIO
from .state import SENDABLE, UNFINISHED, State, status

#: DEBUG: each handshake's outcome (protocol and cipher, or the reason).
log = logging.getLogger("nettls.session")

__all__ = ["Engine", "EngineError", "EngineEOF", "State", "TLSSession", "IDLE_INPUT_LIMIT", "NONBLOCKING_READ"]

# Enum members by plain name: ``State.OPEN`` is an attribute lookup through
# the enum's metaclass (several times a module global's cost in CPython
# 3.11), and the hot paths test the state on every call.
_NEW, _HANDSHAKING, _OPEN = State.NEW, State.HANDSHAKING, State.OPEN
_CLOSING, _CLOSED, _FAILED = State.CLOSING, State.CLOSED, State.FAILED
_OK, _FAIL, _WAIT_READ, _WAIT_WRITE = TLSConstants.OK, TLSConstants.FAIL, TLSConstants.WAIT_READ, TLSConstants.WAIT_WRITE


@implementer(ITLS, ISessionInfo)
class TLSSession(SessionIO, TLSConstants):
    """``net.TLS`` over an engine; see ``ITLS``. Components subclass it and
    provide ``_native_context`` and ``_make_engine`` (and ``_verify``)."""

    # Slots: a server holds thousands of sessions (subclasses may add a __dict__).
    __slots__ = ("_config", "_native", "_server", "_peer")

    def __init__(self, context: Any) -> None:
        super().__init__()
        self._config: ContextConfig = context_config(context)
        check_honoured(self, self._config)  # never connect unverified because a setting was ignored
        self._native = self._native_context(self._config)
        self._server = False
        self._peer: list[str] | None = None

    # -- component hooks --------------------------------------------------------------

    def _native_context(self, config: ContextConfig) -> Any:
        raise NotImplementedError

    def _make_engine(self, native: Any, server: bool) -> Engine:
        raise NotImplementedError

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        raise NotImplementedError

    # -- handshake ----------------------------------------------------------------------

    def connect(self, socket: Any) -> int:
        return self._start(socket, server=False)

    def accept(self, socket: Any) -> int:
        return self._start(socket, server=True)

    def _start(self, sock: Any, server: bool) -> int:
        call = "accept" if server else "connect"
        tcp: Socket = sock  # (an ITCPSocket: checked below)
        state = self._state
        if state is _HANDSHAKING and sock is self._sock and server == self._server:
            return self._handshake()
        if state is not _NEW:
            error = TLSClosedError if state in (_CLOSING, _CLOSED, _FAILED) else TLSError
            raise error(f"{call}() on a session that is already {state.value}")
        if not ITCPSocket.providedBy(sock):
            raise TypeError(f"{call}() takes an ITCPSocket, not {type(sock).__name__}")
        if server != self._config.server:
            need, have = ("SERVER", "CLIENT") if server else ("CLIENT", "SERVER")
            raise TLSModeError(f"{call}() needs a {need} context; this session's context is {have}")
        if not sock.connected():
            raise TLSError(f"{call}() needs a connected socket; {sock!r} is not connected")
        self._sock = tcp
        self._server = server
        if ISelectable.providedBy(sock) and sock.isNonBlocking():
            self._nonblocking = True
        elif self._nonblocking:
            sock.setNonBlocking()
        self._ledger.restart(sock.getBufferUnsent() if self._nonblocking else 0)
        try:
            engine = self._make_engine(self._native, server)
        except EngineError as exc:
            return self._handshake_failed(str(exc), exc)
        self._attach(engine, tcp, self._nonblocking)
        self._move(_HANDSHAKING)
        return self._handshake()

    def _handshake(self) -> int:
        try:
            if self._nonblocking:
                with self._wlock:
                    self._flush()
            if self._run(self._handshake_step, None):
                self._ct_idle = 0
                self._move(_OPEN)
                self._status = _OK
                self._notify_if_queued()
                if log.isEnabledFor(logging.DEBUG):
                    side = "server" if self._server else "client"
                    log.debug("%s %s handshake done: %s, %s", self.component, side, self._engine.version(), self._engine.cipher())
                return _OK
            if self._sock.getBufferUnsent():
                self._status = _WAIT_WRITE
                self._notify_if_queued()
            else:
                self._status = _WAIT_READ
            return self._status
        except EngineError as exc:
            return self._handshake_failed(str(exc), exc)
        except TimeoutError as exc:
            self._fail(f"handshake timed out: {exc}")
            raise TLSTimeoutError(f"TLS handshake timed out ({self.component})") from exc
        except OSError as exc:
            return self._handshake_failed(f"connection failed during the handshake: {exc}", exc)

    def _handshake_failed(self, reason: str, exc: BaseException) -> int:
        self._fail(reason)
        log.debug("%s handshake failed: %s", self.component, escape_control(reason))
        if self._nonblocking:
            return _FAIL
        raise TLSHandshakeError(f"TLS handshake failed ({self.component}): {reason}") from (exc.__cause__ or exc)

    # -- mode, status, close --------------------------------------------------------------

    def setNonBlocking(self, sendWaitData: Any = None) -> bool:
        self._send_wait_data = sendWaitData
        if self._nonblocking:
            return True
        sock = self._sock
        if sock is not None:
            with self._wlock:
                if not (ISelectable.providedBy(sock) and sock.isNonBlocking()):
                    sock.setNonBlocking()
                self._ledger.restart(sock.getBufferUnsent())
            self._reader = reader_for(sock, nonblocking=True)
        self._nonblocking = True
        return True

    def getStatus(self) -> int:
        return status(self._state, self._status)

    def close(self) -> int:
        if self._state is _CLOSING:
            self.sendBuffer()
            return _OK if self._state is _CLOSED else _WAIT_WRITE
        if self._state not in SENDABLE:
            return _FAIL
        self._wlock.acquire()  # after a send() in flight in another thread: its data goes first
        try:
            with self._elock:
                if self._state not in SENDABLE:  # another thread closed or failed it meanwhile
                    return _FAIL
                self._move(_CLOSING)  # from here on send() raises TLSClosedError
            try:
                self._run(self._shutdown_step, None)
            except EngineError as exc:  # what the library wrote (an alert) went to the peer all the same
                self._failure = self._failure or f"close: {exc}"
            self._status = _FAIL
            if self._nonblocking:
                self._flush()
            queued = self._nonblocking and self._sock.getBufferUnsent() > 0
        except OSError as exc:
            # The peer is gone or closed first: nothing more can reach it.
            if self._state is _CLOSING:
                self._move(_CLOSED)
            self._failure = self._failure or f"close_notify not delivered: {exc}"
            return _OK
        finally:
            self._release_w()
        if queued:
            self._notify_if_queued()
            return _WAIT_WRITE
        if self._state is _CLOSING:  # (a reader may have failed it meanwhile)
            self._move(_CLOSED)
        return _OK

    # -- peer certificates and verification -----------------------------------------------

    def getSocket(self) -> Any:
        return self._sock

    def getPeerCertChain(self) -> list[str]:
        if self._peer is None:
            if self._engine is None or self._state in UNFINISHED:
                return []
            config = self._config
            if config.server and not config.clientCertificatePolicy:
                # A server sees a client certificate only when IClientCertificates
                # asked for one, and so verified it (SPEC 6): never an unasked,
                # unverified one a library took anyway.
                self._peer = []
                return []
            with self._elock:
                ders = self._engine.peer_chain()
            self._peer = [der_to_pem(d) for d in ders]
        return list(self._peer)

    def getPeerCertificate(self) -> str | None:
        chain = self.getPeerCertChain()
        return chain[0] if chain else None

    def verifyCertificate(self, store: Any, certificate: Any, chain: Any) -> VerifyStatus:
        roots = store_certificates(store)
        try:  # nettls's one strict PEM parser: libraries get DER (SPEC 14)
            leaf, others = verify_inputs(certificate, chain)
        except CertificateError as exc:
            return VerifyStatus(VerifyStatus.FAIL, None, str(exc))
        if not roots:
            return VerifyStatus(VerifyStatus.FAIL, None, "the certificate store is empty: nothing is trusted")
        try:
            return self._verify(roots, leaf, others)
        except Exception as exc:  # never let a library's exception escape
            return VerifyStatus(VerifyStatus.FAIL, None, f"verification could not run: {type(exc).__name__}: {exc}")

    # -- ISessionInfo, Python protocols -------------------------------------------------------

    def getProtocolVersion(self) -> str | None:
        return None if self._engine is None or self._state in UNFINISHED else self._engine.version()

    def getCipherSuite(self) -> str | None:
        return None if self._engine is None or self._state in UNFINISHED else self._engine.cipher()

    def getFailureReason(self) -> str | None:
        return self._failure

    def __enter__(self) -> TLSSession:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        side = "server" if self._server else "client"
        mode = "non-blocking" if self._nonblocking else "blocking"
        return f"<{self.component} TLS {side} {self._state.value} {mode}>"
