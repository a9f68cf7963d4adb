"""SPEC 9: the error classes a session raises say what went wrong.

Each is a subclass of ``TLSError`` (so an ``except TLSError`` written
before they existed still catches them): ``TLSClosedError`` for a call on
a closed session, ``TLSNotHandshakenError`` for data before the handshake
completed, ``TLSModeError`` for a context of the wrong mode.
"""

from __future__ import annotations

import pytest

from nettls import TLSClosedError, TLSError, TLSModeError, TLSNotHandshakenError

from .checks import wrong_role_call
from .makers import BLOCKING, NONBLOCKING

OK = 1


@pytest.mark.clause("9.error-closed")
def test_send_after_close_raises_the_closed_error(harness, mode):
    pair = harness.tls_pair(mode)
    assert pair.close("client") == OK
    with pytest.raises(TLSClosedError):
        pair.client.send(b"too late")
    assert issubclass(TLSClosedError, TLSError)


@pytest.mark.clause("9.error-closed")
def test_a_closed_session_cannot_connect_again(harness):
    pair = harness.tls_pair(BLOCKING)
    assert pair.close("client") == OK
    with pytest.raises(TLSClosedError):
        pair.client.connect(pair.client_socket)


@pytest.mark.clause("9.error-not-handshaken")
@pytest.mark.parametrize("call", ["send", "recv"])
def test_data_before_the_handshake_raises_not_handshaken(harness, call):
    kit = harness.kit
    session = kit.TLS(kit.client_context())  # never connected
    with pytest.raises(TLSNotHandshakenError):
        session.send(b"early") if call == "send" else session.recv(10)
    assert issubclass(TLSNotHandshakenError, TLSError)


@pytest.mark.clause("9.error-not-handshaken")
@pytest.mark.parametrize("call", ["send", "recv"])
def test_data_during_a_nonblocking_handshake_raises_not_handshaken(harness, call):
    pair = harness.tls_pair(NONBLOCKING, do_handshake=False)
    pair.client.setNonBlocking()
    assert pair.client.connect(pair.client_socket) != OK, "the handshake cannot be done before the server answers"
    with pytest.raises(TLSNotHandshakenError):
        pair.client.send(b"early") if call == "send" else pair.client.recv(10)


@pytest.mark.clause("9.error-mode")
@pytest.mark.parametrize("side", ["client", "server"])
def test_wrong_context_mode_raises_the_mode_error(harness, pki, mode, side):
    with pytest.raises(TLSModeError):
        wrong_role_call(harness, pki, mode, side)()
    assert issubclass(TLSModeError, TLSError)
