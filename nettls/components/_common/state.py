"""A session's states and the moves allowed between them, as a table.

In h11's manner: the states are one enum, ``MOVES`` says where each may go,
and every change of a session's state goes through ``move()``, which
refuses a move the table does not allow and names both states. What the
session reports through ``getStatus()`` derives from its state and the
outcome of its last call (``status()``).

The end of the peer's stream is two states: ``PEER_CLOSED`` after its
close_notify and ``TRUNCATED`` after a TCP close (or reset) without it; in
both the session may still send and close. ``CLOSING`` is entered under the
session's write lock before close_notify is written, so no data ever
follows it.
"""

from __future__ import annotations

import enum

from nettls.interfaces import TLSConstants, TLSError

__all__ = ["State", "MOVES", "IllegalMove", "move", "status", "SENDABLE", "READABLE", "UNFINISHED", "HANDSHAKE_DONE"]


class State(enum.Enum):
    NEW = "new"  #: made; connect()/accept() not called yet
    HANDSHAKING = "handshaking"  #: handshake under way (non-blocking)
    OPEN = "open"  #: handshake done; data flows both ways
    PEER_CLOSED = "peer closed"  #: the peer's close_notify came; we may still send
    TRUNCATED = "truncated"  #: the peer's stream ended without close_notify; we may still send
    CLOSING = "closing"  #: close() called; close_notify not all written yet
    CLOSED = "closed"  #: close_notify handed to the kernel
    FAILED = "failed"  #: a TLS or connection failure; see getFailureReason()


_S = State
#: state -> the states it may move to. FAILED may be entered again: a
#: second failure (a broken socket after a refused peer) replaces the reason.
MOVES: dict[State, frozenset[State]] = {
    _S.NEW: frozenset({_S.HANDSHAKING, _S.FAILED}),
    _S.HANDSHAKING: frozenset({_S.OPEN, _S.FAILED}),
    _S.OPEN: frozenset({_S.PEER_CLOSED, _S.TRUNCATED, _S.CLOSING, _S.CLOSED, _S.FAILED}),
    _S.PEER_CLOSED: frozenset({_S.CLOSING, _S.CLOSED, _S.FAILED}),
    _S.TRUNCATED: frozenset({_S.CLOSING, _S.CLOSED, _S.FAILED}),
    _S.CLOSING: frozenset({_S.CLOSED, _S.FAILED}),
    _S.CLOSED: frozenset({_S.FAILED}),  # reading what had arrived can still fail
    _S.FAILED: frozenset({_S.FAILED}),
}

# Tuples, not sets: ``state in T`` compares by identity, where a set would
# hash the member, a Python-level call for an Enum (twice per send/recv).
#: send() is allowed (the handshake is done and close() not called).
SENDABLE = (_S.OPEN, _S.PEER_CLOSED, _S.TRUNCATED)
#: recv() may still find data (after close(), what had already arrived).
READABLE = (_S.OPEN, _S.CLOSING, _S.CLOSED)
#: No handshake completed yet.
UNFINISHED = (_S.NEW, _S.HANDSHAKING)
#: The handshake completed at some point.
HANDSHAKE_DONE = (_S.OPEN, _S.PEER_CLOSED, _S.TRUNCATED, _S.CLOSING, _S.CLOSED)
#: getStatus() reports the last call's outcome; FAIL in every other state.
_LIVE = (_S.OPEN, _S.HANDSHAKING)


class IllegalMove(TLSError):
    """A move the table does not allow: a bug in the session, never the caller's."""


def move(current: State, new: State) -> State:
    """``new`` if the table allows ``current`` -> ``new``, else ``IllegalMove``."""
    if new not in MOVES[current]:
        raise IllegalMove(f"a session cannot move from {current.value} to {new.value}")
    return new


def status(state: State, last: int) -> int:
    """``getStatus()``: ``last`` (the last call's outcome) while the session is
    handshaking or open, FAIL in every other state (SPEC 6)."""
    return last if state in _LIVE else TLSConstants.FAIL
