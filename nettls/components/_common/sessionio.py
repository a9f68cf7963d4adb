"""The session's IStream face: ``send``, ``recv`` and the send buffer (SPEC 4, 7).

``SessionIO`` is the half of ``TLSSession`` that moves data: it holds the
state (``state.py``: every change goes through ``_move``) and the outcome of
the last call, checks arguments, maps engine and socket failures to nettls
errors and statuses, and hands the work to the pump (``pump.Pump``, its
base). ``session.TLSSession`` adds the handshake, mode, close and what the
session says about its peer.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, TypeVar

from nettls.interfaces import (
    TLSClosedError,
    TLSConnectionError,
    TLSConstants,
    TLSError,
    TLSNotHandshakenError,
    TLSTimeoutError,
)

from .engine import EngineEOF, EngineError
from .events import Event
from .pump import MAX_ENGINE_READ, Pump
from .state import READABLE, SENDABLE, UNFINISHED, State, move
from .streamargs import as_view, check_recv_size

__all__ = ["SessionIO"]

# Enum members by plain name: ``State.OPEN`` is an attribute lookup through
# the enum's metaclass (several times a module global's cost in CPython
# 3.11), and the hot paths test the state on every call.
_NEW, _HANDSHAKING, _OPEN = State.NEW, State.HANDSHAKING, State.OPEN
_CLOSING, _CLOSED, _FAILED = State.CLOSING, State.CLOSED, State.FAILED
_OK, _FAIL, _WAIT_READ, _WAIT_WRITE = TLSConstants.OK, TLSConstants.FAIL, TLSConstants.WAIT_READ, TLSConstants.WAIT_WRITE

R = TypeVar("R")
A = TypeVar("A")


class SessionIO(Pump):
    """State, status and data of a session; see the module docstring."""

    #: The component's name, for messages.
    component: ClassVar[str] = "?"

    __slots__ = (
        "_state", "_status", "_nonblocking", "_send_wait_data", "_notify_due", "_failure",
        "_clean_eof", "_leftover", "sendWait",
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self._state = _NEW
        self._status = _FAIL  # the outcome of the last call (see state.status)
        self._nonblocking = False
        self._send_wait_data: Any = None
        self._notify_due = False  # a sendWait fired and no sendBuffer() came since
        self._failure: str | None = None
        self._clean_eof: bool | None = None  # how the peer's stream ended (None: it has not)
        self._leftover = b""  # what a timed-out blocking recv() had gathered
        self.sendWait = Event("sendWait")

    def _move(self, new: State) -> None:
        """Change the state, as the table in ``state.py`` allows."""
        self._state = move(self._state, new)

    # -- IStream ------------------------------------------------------------------------

    def send(self, data: Any) -> int:
        if type(data) is not bytes:
            data = as_view(data)
        self._wlock.acquire()
        if self._state not in SENDABLE:  # under _wlock: close() holds it to change the state
            self._release_w()
            self._raise_not_sendable()
        ledger = self._ledger
        try:
            try:
                if not self._nonblocking:
                    self._run(self._blocking_write_step, data)
                elif ledger.pt_given != ledger.pt_reported:  # bytes queued: queue these too, in order
                    self._run(self._write_step, data)
                    self._status = _WAIT_WRITE
                    return 0
                else:
                    self._flush()
                    self._run(self._write_step, data)
            finally:
                self._release_w()
        except EngineError as exc:
            self._fail(str(exc))
            raise TLSConnectionError(f"send() failed ({self.component}): {exc}") from exc.__cause__
        except OSError as exc:
            if isinstance(exc, TimeoutError) and not self._nonblocking:
                self._fail(f"send() timed out after a partial write: {exc}")
            raise self._io_error(exc, "sending") from exc
        if not self._nonblocking:
            self._status = _OK
            return len(data)
        completed = ledger.report()
        if ledger.pt_given != ledger.pt_reported or ledger.sent != ledger.given:
            self._status = _WAIT_WRITE
            self._notify_if_queued(force=True)
        else:
            self._status = _OK
        return completed

    def _raise_not_sendable(self) -> None:
        if self._state in (_CLOSING, _CLOSED):
            raise TLSClosedError("send() on a closed session")
        if self._state is _FAILED:
            raise TLSConnectionError(f"send() on a failed session: {self._failure}")
        raise TLSNotHandshakenError("send() before the handshake completed")

    def recv(self, n: int) -> bytes:
        if type(n) is not int or n <= 0:
            check_recv_size(n)  # raises
        state = self._state
        if state not in READABLE:
            if state in UNFINISHED:
                raise TLSNotHandshakenError("recv() before the handshake completed")
            return self._take_leftover(n)
        if not self._nonblocking:
            return self._recv_blocking(n)
        if self._leftover:
            return self._take_leftover(n)
        return self._receive(self._read_step, n if n < MAX_ENGINE_READ else MAX_ENGINE_READ) or b""

    def _take_leftover(self, n: int) -> bytes:
        data, self._leftover = self._leftover[:n], self._leftover[n:]
        return data

    def _recv_blocking(self, n: int) -> bytes:
        """Dana's blocking ``recv(n)``: exactly ``n`` bytes, fewer only at the end."""
        pieces: list[bytes] = []
        got = 0
        if self._leftover:
            pieces.append(self._take_leftover(n))
            got = len(pieces[0])
        receive, step = self._receive, self._read_step
        try:
            while got < n:
                data = receive(step, n - got if n - got < MAX_ENGINE_READ else MAX_ENGINE_READ)
                if not data:
                    break
                if len(data) == n:  # the common case: one read, no joining
                    return data
                pieces.append(data)
                got += len(data)
        except TLSTimeoutError:
            self._leftover = b"".join(pieces) + self._leftover  # nothing is lost
            raise
        return b"".join(pieces)

    def _receive(self, step: Callable[[A], R | None], arg: A) -> R | None:
        """One read through ``step``: its result, or None when there is
        nothing (``getStatus()`` then says why: WAIT_*, or FAIL at the end).
        Blocking, it waits for something or the end."""
        if self._nonblocking and self._ledger.queued() and self._wlock.acquire(blocking=False):
            try:
                self._flush()
            except OSError:
                pass  # the read below sees the broken connection
            finally:
                self._release_w()
        try:
            result = self._run(step, arg)
        except TimeoutError as exc:
            raise TLSTimeoutError(f"receiving timed out ({self.component})") from exc
        except (EngineError, OSError) as exc:
            self._receive_failed(exc)
            return None
        if result:
            if self._state is _OPEN:
                self._status = _OK
            return result
        if result is not None:  # close_notify
            self._ended(clean=True)
            return None
        if self._state is _OPEN:
            self._status = _WAIT_WRITE if self._ledger.queued() else _WAIT_READ
        self._notify_if_queued()
        return None

    def _receive_failed(self, exc: Exception) -> None:
        """A read failed: a truncation ends the stream, anything else fails the session."""
        if isinstance(exc, EngineEOF):
            self._ended(clean=False, reason=str(exc))
        elif isinstance(exc, EngineError):
            self._fail(str(exc))
        else:
            self._fail(f"connection broken while receiving: {exc}")

    def _ended(self, clean: bool, reason: str | None = None) -> None:
        """The peer's stream ended: close_notify (clean) or a truncation."""
        self._clean_eof = clean
        with self._elock:  # close() leaves OPEN under it too: never undo its CLOSING
            if self._state is _OPEN:
                self._move(State.PEER_CLOSED if clean else State.TRUNCATED)
        self._status = _FAIL
        self._failure = "the peer closed the session (close_notify)" if clean else (
            f"the stream ended without close_notify (truncated): {reason}"
        )

    # -- send buffer --------------------------------------------------------------------

    def sendBuffer(self) -> int:
        if not self._nonblocking or self._sock is None or self._state is _NEW:
            return 0
        ledger = self._ledger
        try:
            self._wlock.acquire()
            try:
                self._notify_due = False
                self._flush()
                completed = ledger.report()
            finally:
                self._release_w()
        except OSError as exc:
            raise self._io_error(exc, "sending") from exc
        state = self._state
        if ledger.queued():
            if state in SENDABLE or state is _HANDSHAKING:
                self._status = _WAIT_WRITE
            self._notify_if_queued()
        elif state is _CLOSING:
            self._move(_CLOSED)
        elif state in SENDABLE:
            self._status = _OK
        return completed

    def getBufferUnsent(self) -> int:
        return self._ledger.unsent()

    def _notify_if_queued(self, force: bool = False) -> None:
        """Fire ``sendWait`` if bytes wait and no notification is already due."""
        if self._nonblocking and (force or not self._notify_due):
            ledger = self._ledger
            if ledger.sent != ledger.given or ledger.pt_given != ledger.pt_reported:
                self._notify_due = True
                self.sendWait.fire(self, self._send_wait_data)

    def _fail(self, reason: str) -> None:
        """Enter FAILED, handing any alert the engine produced to the socket."""
        self._move(_FAILED)
        self._status = _FAIL
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
