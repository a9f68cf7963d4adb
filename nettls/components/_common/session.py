"""The TLS session shared by every memory-buffer TLS component.

Theory of operation
-------------------
A TLS library is driven here as a sans-IO *engine* (``engine.Engine``): it
takes ciphertext in (``feed``), gives ciphertext out (``output``), and its
handshake, read and write calls never touch a socket. ``TLSSession`` is the
only place that moves bytes between an engine and the ``ITCPSocket`` the
session was given, and it does so only through that socket's interface, so
a session runs over any TCP component (SPEC section 6).

Reading. A blocking socket's ``recv(n)`` waits for exactly ``n`` bytes
(Dana's ``recv``), so through the interface alone a blocking session can
only read whole TLS records: the 5-byte header, then the body whose length
the header gives (two calls per record). Where the socket provides
``ISelectable`` (and the platform has ``poll`` and ``os.read`` on sockets),
a blocking session takes the fast path SPEC section 6 allows
(``_read_ready``): it asks the descriptor, without waiting, for what has
already arrived (``poll`` with no timeout, then one ``os.read`` of up to
``FAST_READ``: many records per system call), and only when nothing is
there does it wait through the interface, with ``recv(1)``, which keeps the
socket's timeout (``ITimeout``), its end-of-stream and reset handling, and
its ``connected()``; whatever came with that byte is then read the fast way.
A ``recv(1)`` that times out has consumed nothing, so a timeout loses no
byte. An end of stream or a reset on the descriptor is left for that
``recv(1)`` to report. The session owns the socket from ``connect``/
``accept`` on, so no one else reads it in between. Without ``ISelectable``
the record-by-record path remains; there a header that cannot start a
record (a peer that is not TLS) is fed to the engine followed by end of
stream, so the engine fails with its own reason. A non-blocking session
reads whatever the socket has (``NONBLOCKING_READ`` at most); a read that
came back short emptied the kernel's buffer, so the next pull reports
"nothing yet" without a system call (``_drained``): anything arriving
later makes the socket readable again, for a level- or edge-triggered
monitor alike.

Work per call (SPEC 14). A non-blocking call (a handshake step, ``recv``)
reads the socket at most once, so it processes at most ``NONBLOCKING_READ``
(64 KiB) of new ciphertext, whether or not plaintext comes of it: a peer
that floods the session with records carrying no application data (TLS 1.3
KeyUpdates back to back) gets 64 KiB of work per call and the caller serves
others in between. ``send``/``sendBuffer`` never read. When a call stops
there, ``recv`` returns ``b""`` and ``getStatus()`` is ``WAIT_READ``: the
same "no data yet" as an empty socket, and it means the same thing to the
caller, "nothing more until the socket is readable". It is never said while
the engine could make progress without new input: the session stops only
after the engine has consumed everything it was fed and asked for more, so
what it has not processed yet is still in the kernel's buffer, and a full
read leaves ``_drained`` unset, so the next call reads the socket again.
The socket therefore stays readable: a level-triggered monitor
(``TCPMonitor`` is one) reports it again, and Dana's rule, "after a
recv-ready event call ``recv()`` until it returns ``b""``", drains
everything, one bounded turn per event. (An edge-triggered monitor would not
report the data already waiting; nettls has none.) Blocking calls keep
Dana's rules: a blocking ``recv(n)`` waits for ``n`` bytes and a blocking
handshake for its end, however many reads that takes.

Input with nothing coming of it. ``_ct_idle`` counts the ciphertext fed to
the engine since the last plaintext came out of it (or since the handshake
began, until it completes). Past ``IDLE_INPUT_LIMIT`` (256 KiB) the session
refuses the rest: it fails, with a reason saying so, and hands the peer a
fatal alert (``engine.fail_with_alert``). So a peer that sends nothing but
post-handshake messages, or a handshake that never ends, costs a bounded
amount of work in blocking mode too, where a ``recv`` would otherwise spin
for as long as the flood lasts. Legitimate peers stay far below the limit:
between two pieces of plaintext there is at most one partial record
(18 KiB), one read's worth of input (64 KiB) and the odd post-handshake
message (a burst of session tickets is a few KiB, a KeyUpdate 27 bytes); a
handshake's largest flight is a certificate chain, which OpenSSL caps at
100 KiB. A KeyUpdate flood reaches it after about 9,700 messages. (rustls
and BoringSSL stop one after 32 KeyUpdates with no application data between
them; OpenSSL has no limit of its own.)

Needless engine reads are skipped: after an engine read answered "needs
input", nothing but new input can change that, so the session remembers it
(``_starved``) and goes straight to the socket next time; an engine that
has the optional ``pending()`` says so after a read that returned data,
saving the read whose only result would be that exception. Output a read
may have produced (a key update's reply) is pushed right after it.

Writing. Every byte the engine produces is handed to ``socket.send()`` at
once, in the order produced (``_wlock`` keeps that order when a reader
thread and a writer thread both produce output): one ``send()`` per call,
whatever the number of records. In non-blocking mode the
socket keeps what the kernel did not take in its own queue; the session
keeps a ledger so it can speak in plaintext bytes (SPEC section 7):

    _ct_given   ciphertext bytes handed to the socket, counted from the
                start of non-blocking mode (plus what the socket already
                held then)
    _ct_sent    the sum of the socket's send()/sendBuffer() returns: the
                ciphertext the kernel accepted
    _records    (ciphertext end, plaintext end) of each application record
                not yet wholly accepted; plaintext is written in chunks of
                one record so each chunk's end is known exactly (None until
                the socket first keeps something: a send the kernel takes
                whole needs no entry)
    _pt_given   plaintext given to send()
    _pt_done    plaintext whose records are wholly accepted
    _pt_reported  plaintext returned by send()/sendBuffer()

    Invariant: _ct_sent + socket.getBufferUnsent() == _ct_given, and
    _pt_reported + getBufferUnsent() == _pt_given after every call. So
    "the socket holds bytes of ours" is ``_ct_sent != _ct_given``, with no
    call to the socket; ``_flush`` resynchronises when it finds the
    socket's queue empty.

Locks. ``_elock`` guards the engine (the library's connection object is
not safe for two threads at once) and is held only around engine calls;
``_wlock`` orders ciphertext to the socket and guards the ledger, and is
held across ``socket.send()``, never while waiting to read. A writer
takes ``_wlock`` then ``_elock``, never the other way round. On the hot
paths both are taken with explicit ``acquire()``/``release()``: a ``with``
statement on a lock costs twice as much in CPython 3.11.

Closing while another thread sends. ``close()`` takes ``_wlock``, so it
waits for a ``send()`` in flight to finish; it enters ``CLOSING`` while it
holds it, before the engine writes close_notify. ``send()`` checks the
state only once it holds ``_wlock``, so a send that started before the
close either completed before close_notify or raises the closed
``TLSError`` ("send() on a closed session") without writing a byte: no
application data ever follows close_notify, whatever the library does
with a write after its shutdown. A reader that sees the peer's
close_notify moves ``OPEN`` to ``PEER_CLOSED`` under ``_elock``, which
``close()`` also holds when it leaves ``OPEN``, so neither undoes the
other's move.

State is one enum, ``State``; ``getStatus()`` derives from it and from the
outcome of the last call. Every library exception is turned into a nettls
error by the engine (``EngineError``, kept as ``__cause__``).
"""

from __future__ import annotations

import enum
import logging
import os
import select
import threading
from collections import deque
from typing import Any, ClassVar

from zope.interface import implementer

from nettls.interfaces import (
    CertificateError,
    ISelectable,
    ISessionInfo,
    ITCPSocket,
    ITLS,
    TLSConnectionError,
    TLSConstants,
    TLSError,
    TLSHandshakeError,
    TLSTimeoutError,
    VerifyStatus,
)

from nettls.escape import escape_control

from .config import ContextConfig, check_honoured, context_config, store_certificates, verify_inputs
from .engine import RECORD_PLAINTEXT, Engine, EngineEOF, EngineError, fail_with_alert
from .events import Event
from .pem import der_to_pem
from .streamargs import as_view, check_recv_size

#: DEBUG: each handshake's outcome (protocol and cipher, or the reason).
log = logging.getLogger("nettls.session")

__all__ = ["Engine", "EngineError", "EngineEOF", "State", "TLSSession"]

#: Largest ciphertext record body TLS allows (2^14 + 2048).
MAX_RECORD_BODY = 16384 + 2048
#: Record content types: change_cipher_spec, alert, handshake, application_data, heartbeat.
_CONTENT_TYPES = frozenset((20, 21, 22, 23, 24))
#: Ciphertext read from a non-blocking socket at a time; a non-blocking call
#: reads once, so this is also its work per call (SPEC 14).
NONBLOCKING_READ = 65536
#: Ciphertext the engine may take with no plaintext coming of it (during the
#: handshake, or after it between two pieces of application data) before the
#: session refuses the peer; see the module docstring for why no
#: legitimate peer comes near it.
IDLE_INPUT_LIMIT = 256 * 1024
#: Ciphertext read at a time through a blocking socket's descriptor (the fast
#: path). Not more: above 128 KiB malloc maps fresh pages for every read.
FAST_READ = 65536
#: The descriptor fast path needs ``os.read`` on a socket and ``poll``: POSIX.
_FAST_PATH = os.name == "posix" and hasattr(select, "poll")
_POLLIN = getattr(select, "POLLIN", 1)
#: Plaintext asked of one engine read: one record's worth, since a read returns
#: at most one record (and ``recv(10**9)`` must allocate nothing huge).
MAX_ENGINE_READ = RECORD_PLAINTEXT
#: A blocking send() larger than this is encrypted and sent in pieces of it.
BLOCKING_CHUNK = 4 * RECORD_PLAINTEXT


class State(enum.Enum):
    NEW = "new"  #: made; connect()/accept() not called yet
    HANDSHAKING = "handshaking"  #: handshake under way (non-blocking)
    OPEN = "open"  #: handshake done; data flows both ways
    PEER_CLOSED = "peer closed"  #: the peer's stream ended; we may still send
    CLOSING = "closing"  #: close() called; close_notify not all written yet
    CLOSED = "closed"  #: close_notify handed to the kernel
    FAILED = "failed"  #: a TLS or connection failure; see getFailureReason()


# Enum members by plain name: ``State.OPEN`` is an attribute lookup through
# the enum's metaclass (several times a module global's cost in CPython
# 3.11), and the hot paths test the state on every call.
_NEW = State.NEW
_HANDSHAKING = State.HANDSHAKING
_OPEN = State.OPEN
_PEER_CLOSED = State.PEER_CLOSED
_CLOSING = State.CLOSING
_CLOSED = State.CLOSED
_FAILED = State.FAILED
_SENDABLE = (_OPEN, _PEER_CLOSED)
_READABLE = (_OPEN, _CLOSING, _CLOSED)
_UNFINISHED = (_NEW, _HANDSHAKING)  # no handshake completed yet
_LIVE = (_OPEN, _HANDSHAKING)  # getStatus() reports the last call's outcome


@implementer(ITLS, ISessionInfo)
class TLSSession(TLSConstants):
    """``net.TLS`` over an engine; see ``ITLS``. Components subclass it and
    provide ``_native_context`` and ``_make_engine`` (and ``_verify``)."""

    #: The component's name, for messages.
    component: ClassVar[str] = "?"

    # Slots: a server holds thousands of sessions (subclasses may add a __dict__).
    __slots__ = (
        "_config", "_native", "_state", "_status", "_sock", "_engine", "_pending", "_server",
        "_nonblocking", "_send_wait_data", "_notify_due", "_failure", "_clean_eof", "_peer",
        "_leftover", "_starved", "_drained", "_fast", "_poller", "_poll_fd", "_body_left",
        "_output_waiting", "_ct_idle", "_ct_given",
        "_ct_sent", "_pt_given", "_pt_done", "_pt_reported", "_records", "_wlock", "_elock",
        "sendWait",
    )  # fmt: skip

    def __init__(self, context: Any) -> None:
        self._config: ContextConfig = context_config(context)
        check_honoured(self, self._config)  # never connect unverified because a setting was ignored
        self._native = self._native_context(self._config)
        self._state = _NEW
        self._status = self.FAIL
        self._sock: Any = None
        self._engine: Any = None
        self._pending: Any = None  # the engine's pending(), where it has one
        self._server = False
        self._nonblocking = False
        self._send_wait_data: Any = None
        self._notify_due = False
        self._failure: str | None = None
        self._clean_eof: bool | None = None
        self._peer: list[str] | None = None
        self._leftover = b""
        self._starved = False  # the engine's last read wanted input and none came since
        self._drained = False  # the last non-blocking socket read emptied the kernel's buffer
        self._fast = False  # blocking reads may use the socket's descriptor (see _read_ready)
        self._poller: Any = None
        self._poll_fd = -1
        self._body_left = 0  # bytes of a record body still to read (record-at-a-time path)
        self._output_waiting = False  # a reader left engine output for the _wlock holder
        self._ct_idle = 0  # ciphertext fed since plaintext last came out (see IDLE_INPUT_LIMIT)
        self._ct_given = self._ct_sent = 0
        self._pt_given = self._pt_done = self._pt_reported = 0
        self._records: deque[tuple[int, int]] | None = None  # made when first needed
        self._wlock = threading.Lock()  # order of ciphertext to the socket; the ledger
        self._elock = threading.Lock()  # the engine itself
        self.sendWait = Event("sendWait")

    # -- component hooks --------------------------------------------------------

    def _native_context(self, config: ContextConfig) -> Any:
        raise NotImplementedError

    def _make_engine(self, native: Any, server: bool) -> Engine:
        raise NotImplementedError

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        raise NotImplementedError

    # -- handshake ----------------------------------------------------------------

    def connect(self, socket: Any) -> int:
        return self._start(socket, server=False)

    def accept(self, socket: Any) -> int:
        return self._start(socket, server=True)

    def _start(self, sock: Any, server: bool) -> int:
        call = "accept" if server else "connect"
        if self._state is _HANDSHAKING and sock is self._sock and server == self._server:
            return self._handshake()
        if self._state is not _NEW:
            raise TLSError(f"{call}() on a session that is already {self._state.value}")
        if not ITCPSocket.providedBy(sock):
            raise TypeError(f"{call}() takes an ITCPSocket, not {type(sock).__name__}")
        if server != self._config.server:
            need, have = ("SERVER", "CLIENT") if server else ("CLIENT", "SERVER")
            raise TLSError(f"{call}() needs a {need} context; this session's context is {have}")
        if not sock.connected():
            raise TLSError(f"{call}() needs a connected socket; {sock!r} is not connected")
        self._sock = sock
        self._server = server
        selectable = ISelectable.providedBy(sock)
        self._fast = _FAST_PATH and selectable
        if selectable and sock.isNonBlocking():  # type: ignore[attr-defined]  # (ISelectable, tested above)
            self._nonblocking = True
        elif self._nonblocking:
            sock.setNonBlocking()
        self._ct_given = sock.getBufferUnsent() if self._nonblocking else 0
        try:
            self._engine = self._make_engine(self._native, server)
            self._pending = getattr(self._engine, "pending", None)
        except EngineError as exc:
            return self._handshake_failed(str(exc), exc)
        self._state = _HANDSHAKING
        return self._handshake()

    def _handshake(self) -> int:
        try:
            if self._nonblocking:
                with self._wlock:
                    self._flush()
            engine, elock = self._engine, self._elock
            pulled = False
            while True:
                elock.acquire()
                try:
                    done = engine.handshake()
                finally:
                    elock.release()
                self._push()
                if done:
                    self._ct_idle = 0
                    self._state = _OPEN
                    self._status = self.OK
                    self._notify_if_queued()
                    if log.isEnabledFor(logging.DEBUG):
                        side = "server" if self._server else "client"
                        log.debug("%s %s handshake done: %s, %s", self.component, side, engine.version(), engine.cipher())
                    return self.OK
                if pulled and self._nonblocking:
                    self._drained = False  # the call made its one read (SPEC 14): the next one reads
                    break
                if not self._pull():
                    break
                pulled = True
            if self._sock.getBufferUnsent():
                self._status = self.WAIT_WRITE
                self._notify_if_queued()
            else:
                self._status = self.WAIT_READ
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
            return self.FAIL
        raise TLSHandshakeError(f"TLS handshake failed ({self.component}): {reason}") from (exc.__cause__ or exc)

    # -- moving bytes --------------------------------------------------------------

    def _push(self) -> None:
        """Hand the engine's pending output to the socket (takes ``_wlock``)."""
        self._wlock.acquire()
        try:
            self._push_locked()
        finally:
            self._release_w()

    def _push_locked(self) -> None:
        """``_push`` for a caller that holds ``_wlock``."""
        elock = self._elock
        elock.acquire()
        try:
            self._output_waiting = False
            out = self._engine.output()
        finally:
            elock.release()
        if out:
            self._ct_given += len(out)
            self._ct_sent += self._sock.send(out)

    def _push_soon(self) -> None:
        """Push what a read produced without waiting behind a writer.

        A blocking writer holds ``_wlock`` while the socket waits for the peer
        to read; if this reader waited for it too and the peer did the same,
        no one would read and both ends would stall. So the output is flagged
        and left: whoever holds ``_wlock`` pushes it before letting go
        (``_release_w``), and if no one holds it, it is pushed here.
        """
        self._output_waiting = True
        if self._wlock.acquire(blocking=False):
            try:
                self._push_locked()
            finally:
                self._release_w()

    def _release_w(self) -> None:
        """Release ``_wlock``, first pushing output a reader left for its holder."""
        wlock = self._wlock
        wlock.release()
        while self._output_waiting and wlock.acquire(blocking=False):
            try:
                self._push_locked()
            finally:
                wlock.release()

    def _flush(self) -> None:
        """Write on what the socket queued (non-blocking; caller holds ``_wlock``).
        The ledger says whether anything is queued, so an empty queue costs no call."""
        if self._ct_sent != self._ct_given:
            sock = self._sock
            self._ct_sent += sock.sendBuffer()
            if not sock.getBufferUnsent():
                self._ct_sent = self._ct_given  # exact; also resyncs after a direct sock.sendBuffer()
            if self._records:
                self._advance()

    def _advance(self) -> None:
        records, sent = self._records, self._ct_sent
        while records and records[0][0] <= sent:  # (None: no ledger yet)
            self._pt_done = records.popleft()[1]

    def _feed(self, data: bytes) -> None:
        idle = self._ct_idle + len(data)
        if idle > IDLE_INPUT_LIMIT:
            self._refuse_input()
        self._ct_idle = idle
        elock = self._elock
        elock.acquire()
        try:
            self._engine.feed(data)
        finally:
            elock.release()
        self._starved = False

    def _refuse_input(self) -> None:
        """Refuse a peer whose input passed ``IDLE_INPUT_LIMIT`` with nothing
        coming of it: the engine ends the connection with a fatal alert, and
        the ``EngineError`` raised here gives the reason (its caller fails
        the session and hands the alert to the socket)."""
        handshaking = self._state is _HANDSHAKING
        with self._elock:
            fail_with_alert(self._engine, handshaking)
        limit = f"{IDLE_INPUT_LIMIT // 1024} KiB"
        if handshaking:
            raise EngineError(f"the handshake did not complete within {limit} of the peer's ciphertext")
        raise EngineError(
            f"the peer sent {limit} of ciphertext with no application data in it (post-handshake "
            "messages only, such as KeyUpdate back to back): refused"
        )

    def _feed_eof(self) -> None:
        with self._elock:
            self._engine.feed_eof()
        self._starved = False

    def _pull(self) -> bool:
        """Feed the engine ciphertext from the socket; False if none is there yet."""
        sock = self._sock
        if self._nonblocking:
            if self._drained:
                # The last read emptied the kernel's buffer: what came since
                # makes the socket readable again, so report "nothing yet"
                # without asking (a system call and an exception saved).
                self._drained = False
                return False
            data = sock.recv(NONBLOCKING_READ)
            if data:
                self._drained = len(data) < NONBLOCKING_READ
                self._feed(data)
                return True
            if sock.connected():
                return False
            self._feed_eof()
            return True
        if self._fast:
            data = self._read_ready()
            if data is None:
                # Nothing there yet: wait for one byte through the socket's
                # interface, which keeps its timeout, then take what came with it.
                data = sock.recv(1)
                if not data:
                    self._feed_eof()
                    return True
                more = self._read_ready()
                if more:
                    data += more
            self._feed(data)
            return True
        if self._body_left:
            return self._pull_body()
        header = sock.recv(5)
        if len(header) == 5 and header[0] in _CONTENT_TYPES and header[1] == 3:
            length = (header[3] << 8) | header[4]
            if length <= MAX_RECORD_BODY:
                # The engine keeps a partial record, so the header goes in now
                # and a body read that times out loses nothing: _body_left
                # says where the next pull picks up.
                self._feed(header)
                self._body_left = length
                return self._pull_body() if length else True
        # Short (end of stream) or not a TLS record: let the engine say why.
        with self._elock:
            self._engine.feed(header)
            self._engine.feed_eof()
        self._starved = False
        return True

    def _pull_body(self) -> bool:
        """Read the rest of the record whose header was fed (blocking, no fast path)."""
        left = self._body_left
        body = self._sock.recv(left)  # a timeout leaves _body_left as it was
        self._body_left = 0
        if body:
            self._feed(body)
        if len(body) < left:  # a blocking recv() comes back short only at end of stream
            self._feed_eof()
        return True

    def _read_ready(self) -> bytes | None:
        """What a blocking socket's descriptor has already received, without
        waiting; None when nothing is there (or at end of stream or a reset,
        which the socket's own ``recv()`` then reports)."""
        fd = self._sock.fileno()
        if fd < 0:  # closed: the socket's own recv() reports it
            return None
        if fd != self._poll_fd:
            self._poller = select.poll()
            self._poller.register(fd, _POLLIN)
            self._poll_fd = fd
        if not self._poller.poll(0):
            return None
        try:
            return os.read(fd, FAST_READ) or None
        except OSError:
            return None

    def _notify_if_queued(self, force: bool = False) -> None:
        """Fire ``sendWait`` if bytes wait and no notification is already due."""
        if self._nonblocking and (force or not self._notify_due):
            if self._ct_sent != self._ct_given or self._pt_given != self._pt_reported:
                self._notify_due = True
                self.sendWait.fire(self, self._send_wait_data)

    def _fail(self, reason: str) -> None:
        """Enter FAILED, handing any alert the engine produced to the socket."""
        self._state = _FAILED
        self._status = self.FAIL
        self._failure = reason
        if self._engine is not None and self._sock is not None:
            try:
                self._push()
                if self._nonblocking:
                    with self._wlock:
                        self._flush()
            except Exception:  # the connection is gone: nothing more to tell the peer
                pass

    def _io_error(self, exc: BaseException, doing: str) -> TLSError:
        if isinstance(exc, TimeoutError):
            return TLSTimeoutError(f"{doing} timed out ({self.component})")
        reason = f"connection broken while {doing}: {exc}"
        self._fail(reason)
        return TLSConnectionError(reason)

    # -- IStream ---------------------------------------------------------------------

    def send(self, data: Any) -> int:
        if type(data) is not bytes:
            data = as_view(data)
        wlock = self._wlock
        wlock.acquire()
        if self._state not in _SENDABLE:  # under _wlock: a close() in another thread holds it to change the state
            self._release_w()
            self._raise_not_sendable()
        if not self._nonblocking:
            try:
                try:
                    self._send_blocking(data)
                finally:
                    self._release_w()
            except EngineError as exc:
                self._fail(str(exc))
                raise TLSConnectionError(f"send() failed ({self.component}): {exc}") from exc.__cause__
            except OSError as exc:
                if isinstance(exc, TimeoutError):
                    self._fail(f"send() timed out after a partial write: {exc}")
                raise self._io_error(exc, "sending") from exc
            self._status = self.OK
            return len(data)
        try:
            try:
                if self._pt_given != self._pt_reported:
                    self._encrypt(data)
                    self._status = self.WAIT_WRITE
                    return 0
                if self._ct_sent != self._ct_given:
                    self._flush()
                self._encrypt(data)
                completed = self._pt_done - self._pt_reported
                self._pt_reported = self._pt_done
            finally:
                self._release_w()
        except EngineError as exc:
            self._fail(str(exc))
            raise TLSConnectionError(f"send() failed ({self.component}): {exc}") from exc.__cause__
        except OSError as exc:
            raise self._io_error(exc, "sending") from exc
        if self._pt_given != self._pt_reported or self._ct_sent != self._ct_given:
            self._status = self.WAIT_WRITE
            self._notify_if_queued(force=True)
        else:
            self._status = self.OK
        return completed

    def _send_blocking(self, data: bytes | memoryview) -> None:
        """Encrypt ``data`` and hand it to the blocking socket, at most
        ``BLOCKING_CHUNK`` at a time, so the engine's buffer and the
        ciphertext copy stay small whatever the size. The caller holds
        ``_wlock``."""
        engine, elock, sock = self._engine, self._elock, self._sock
        if len(data) <= BLOCKING_CHUNK:
            pieces: Any = (data,)
        else:
            view = memoryview(data)
            pieces = (view[pos : pos + BLOCKING_CHUNK] for pos in range(0, len(view), BLOCKING_CHUNK))
        for piece in pieces:
            elock.acquire()
            try:
                engine.write(piece)
                self._output_waiting = False
                out = engine.output()
            finally:
                elock.release()
            sock.send(out)

    def _encrypt(self, data: bytes | memoryview) -> None:
        """Encrypt ``data`` one record at a time, hand it all to the socket in
        one ``send()``, and ledger the records the socket did not take whole.
        The caller holds ``_wlock``."""
        n = len(data)
        if not n:
            return  # send(b""): no record to write
        engine, elock = self._engine, self._elock
        ends: list[tuple[int, int]] | None = None
        elock.acquire()
        try:
            if n <= RECORD_PLAINTEXT:
                engine.write(data)
                out = engine.output()
            else:
                view = memoryview(data)
                ends, pieces = [], []
                ct, pt = self._ct_given, self._pt_given
                for pos in range(0, n, RECORD_PLAINTEXT):
                    chunk = view[pos : pos + RECORD_PLAINTEXT]
                    engine.write(chunk)
                    piece = engine.output()
                    pieces.append(piece)
                    ct += len(piece)
                    pt += len(chunk)
                    ends.append((ct, pt))
                out = b"".join(pieces)
        finally:
            elock.release()
        ct_end = self._ct_given = self._ct_given + len(out)
        pt_end = self._pt_given = self._pt_given + n
        self._ct_sent += self._sock.send(out)
        if self._ct_sent == ct_end:  # all taken: so is everything before it
            if self._records:
                self._records.clear()
            self._pt_done = pt_end
            return
        records = self._records
        if records is None:
            records = self._records = deque()
        if ends is None:
            records.append((ct_end, pt_end))
        else:
            records.extend(ends)
        self._advance()

    def _raise_not_sendable(self) -> None:
        if self._state in (_CLOSING, _CLOSED):
            raise TLSError("send() on a closed session")
        if self._state is _FAILED:
            raise TLSConnectionError(f"send() on a failed session: {self._failure}")
        raise TLSError("send() before the handshake completed")

    def recv(self, n: int) -> bytes:
        if type(n) is not int or n <= 0:
            check_recv_size(n)  # raises
        state = self._state
        if state not in _READABLE:
            if state in _UNFINISHED:
                raise TLSError("recv() before the handshake completed")
            return self._take_leftover(n)
        if self._nonblocking:
            return self._recv_nonblocking(n)
        return self._recv_blocking(n)

    def _take_leftover(self, n: int) -> bytes:
        data, self._leftover = self._leftover[:n], self._leftover[n:]
        return data

    def _recv_blocking(self, n: int) -> bytes:
        pieces: list[bytes] = []
        got = 0
        if self._leftover:
            pieces.append(self._take_leftover(n))
            got = len(pieces[0])
        engine, elock = self._engine, self._elock
        try:
            while got < n:
                if not self._starved:
                    elock.acquire()
                    try:
                        data = engine.read(min(n - got, MAX_ENGINE_READ))
                    finally:
                        elock.release()
                    if data:
                        self._ct_idle = 0
                        if self._pending is not None and not self._pending():
                            self._starved = True  # the next read would only say so
                            self._push_soon()  # what the read may have produced (a key update)
                        if len(data) == n:  # the common case: one read, no joining
                            if self._state is _OPEN:
                                self._status = self.OK
                            return data
                        pieces.append(data)
                        got += len(data)
                        continue
                    if data is not None:
                        self._ended(clean=True)
                        break
                    self._starved = True
                    self._push_soon()  # the read may have produced a reply (a key update)
                self._pull()
        except EngineEOF as exc:
            self._ended(clean=False, reason=str(exc))
        except EngineError as exc:
            self._fail(str(exc))
        except TimeoutError as exc:
            self._leftover = b"".join(pieces) + self._leftover
            raise TLSTimeoutError(f"recv() timed out ({self.component})") from exc
        except OSError as exc:
            self._fail(f"connection broken while receiving: {exc}")
        if got == n and self._state is _OPEN:
            self._status = self.OK
        return b"".join(pieces)

    def _recv_nonblocking(self, n: int) -> bytes:
        if self._leftover:
            return self._take_leftover(n)
        if self._ct_sent != self._ct_given and self._wlock.acquire(blocking=False):
            try:
                self._flush()
            except OSError:
                pass  # the read below sees the broken connection
            finally:
                self._release_w()
        engine, elock = self._engine, self._elock
        limit = min(n, MAX_ENGINE_READ)
        try:
            pulled = False
            while True:
                if not self._starved:
                    elock.acquire()
                    try:
                        data = engine.read(limit)
                    finally:
                        elock.release()
                    if data:
                        self._ct_idle = 0
                        if self._state is _OPEN:
                            self._status = self.OK
                        if self._pending is not None and not self._pending():
                            self._starved = True  # the next call need not ask the engine
                            self._push()  # what the read may have produced (a key update)
                        return data
                    if data is not None:
                        self._ended(clean=True)
                        return b""
                    self._starved = True
                    self._push()  # the read may have produced a reply (a key update)
                if pulled:
                    self._drained = False  # the call made its one read (SPEC 14): the next one reads
                    break
                if not self._pull():
                    break
                pulled = True
        except EngineEOF as exc:
            self._ended(clean=False, reason=str(exc))
            return b""
        except EngineError as exc:
            self._fail(str(exc))
            return b""
        except OSError as exc:
            self._fail(f"connection broken while receiving: {exc}")
            return b""
        if self._state is _OPEN:
            self._status = self.WAIT_WRITE if self._ct_sent != self._ct_given else self.WAIT_READ
        self._notify_if_queued()
        return b""

    def _ended(self, clean: bool, reason: str | None = None) -> None:
        """The peer's stream ended: close_notify (clean) or a truncation."""
        self._clean_eof = clean
        with self._elock:  # close() leaves OPEN under it too: never undo its CLOSING
            if self._state is _OPEN:
                self._state = _PEER_CLOSED
        self._status = self.FAIL
        self._failure = "the peer closed the session (close_notify)" if clean else (
            f"the stream ended without close_notify (truncated): {reason}"
        )

    # -- send buffer -------------------------------------------------------------------

    def sendBuffer(self) -> int:
        if not self._nonblocking or self._sock is None or self._state is _NEW:
            return 0
        wlock = self._wlock
        try:
            wlock.acquire()
            try:
                self._notify_due = False
                self._flush()
                completed = self._pt_done - self._pt_reported
                self._pt_reported = self._pt_done
            finally:
                self._release_w()
        except OSError as exc:
            raise self._io_error(exc, "sending") from exc
        if self._ct_sent != self._ct_given:
            if self._state in (_OPEN, _PEER_CLOSED, _HANDSHAKING):
                self._status = self.WAIT_WRITE
            self._notify_if_queued()
        else:
            if self._state is _CLOSING:
                self._state = _CLOSED
            elif self._state in (_OPEN, _PEER_CLOSED):
                self._status = self.OK
        return completed

    def getBufferUnsent(self) -> int:
        return self._pt_given - self._pt_reported

    # -- mode, status, close ------------------------------------------------------------

    def setNonBlocking(self, sendWaitData: Any = None) -> bool:
        self._send_wait_data = sendWaitData
        if self._nonblocking:
            return True
        sock = self._sock
        if sock is not None:
            with self._wlock:
                if not (ISelectable.providedBy(sock) and sock.isNonBlocking()):
                    sock.setNonBlocking()
                self._ct_given = self._ct_sent + sock.getBufferUnsent()
        self._nonblocking = True
        return True

    def getStatus(self) -> int:
        if self._state in _LIVE:
            return self._status
        return self.FAIL

    def close(self) -> int:
        state = self._state
        if state is _CLOSING:
            self.sendBuffer()
            return self.OK if self._state is _CLOSED else self.WAIT_WRITE
        if state not in _SENDABLE:
            return self.FAIL
        wlock = self._wlock
        wlock.acquire()  # after a send() in flight in another thread: its data goes first
        try:
            with self._elock:
                if self._state not in _SENDABLE:  # another thread closed or failed it meanwhile
                    return self.FAIL
                self._state = _CLOSING  # from here on send() raises the closed error
                try:
                    self._engine.shutdown()
                except EngineError as exc:
                    # Whatever the library wrote before failing (close_notify,
                    # an alert) still goes to the peer below.
                    self._failure = self._failure or f"close: {exc}"
            self._status = self.FAIL
            self._push_locked()
            if self._nonblocking:
                self._flush()
            queued = self._nonblocking and self._sock.getBufferUnsent() > 0
        except OSError as exc:
            # The peer is gone or closed first: nothing more can reach it.
            self._state = _CLOSED
            self._failure = self._failure or f"close_notify not delivered: {exc}"
            return self.OK
        finally:
            self._release_w()
        if queued:
            self._notify_if_queued()
            return self.WAIT_WRITE
        if self._state is _CLOSING:  # (a reader may have failed it meanwhile)
            self._state = _CLOSED
        return self.OK

    # -- peer certificates and verification ------------------------------------------------

    def getSocket(self) -> Any:
        return self._sock

    def getPeerCertChain(self) -> list[str]:
        if self._peer is None:
            if self._engine is None or self._state in _UNFINISHED:
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

    # -- ISessionInfo ----------------------------------------------------------------------

    def getProtocolVersion(self) -> str | None:
        if self._engine is None or self._state in _UNFINISHED:
            return None
        return self._engine.version()

    def getCipherSuite(self) -> str | None:
        if self._engine is None or self._state in _UNFINISHED:
            return None
        return self._engine.cipher()

    def getFailureReason(self) -> str | None:
        return self._failure

    # -- Python protocols ------------------------------------------------------------------

    def __enter__(self) -> TLSSession:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        side = "server" if self._server else "client"
        mode = "non-blocking" if self._nonblocking else "blocking"
        return f"<{self.component} TLS {side} {self._state.value} {mode}>"
