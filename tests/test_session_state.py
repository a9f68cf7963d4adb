"""The session's state table (``nettls.components._common.state``): every
move the session makes is in it, an illegal one names both states, and
``getStatus()`` derives from the state and the last call's outcome."""

from __future__ import annotations

import pytest

from nettls import TLSError
from nettls.components._common.state import MOVES, IllegalMove, State, move, status

OK, FAIL, WAIT_READ = 1, 0, 2


def test_every_state_has_its_moves_and_every_state_can_fail():
    assert set(MOVES) == set(State)
    assert all(State.FAILED in targets for targets in MOVES.values())


@pytest.mark.parametrize("current", list(State))
def test_illegal_moves_name_both_states(current):
    for new in set(State) - MOVES[current]:
        with pytest.raises(IllegalMove, match=f"from {current.value} to {new.value}"):
            move(current, new)
    for new in MOVES[current]:
        assert move(current, new) is new


def test_an_illegal_move_is_a_nettls_error():
    with pytest.raises(TLSError):
        move(State.CLOSED, State.OPEN)


def test_both_ends_of_the_peer_s_stream_leave_the_session_sendable_and_closable():
    for end in (State.PEER_CLOSED, State.TRUNCATED):
        assert end in MOVES[State.OPEN] and State.CLOSING in MOVES[end]


@pytest.mark.parametrize("state", list(State))
def test_status_is_the_last_outcome_only_while_handshaking_or_open(state):
    live = state in (State.HANDSHAKING, State.OPEN)
    assert status(state, WAIT_READ) == (WAIT_READ if live else FAIL)
    assert status(state, OK) == (OK if live else FAIL)
