"""SPEC 6: the handshake proves that the server holds its certificate's key.

The peer is ``impostor.run_impostor``: a TLS 1.2 server that presents the
suite's genuine ``localhost`` chain and signs its key exchange with a key
of its own. Every client must refuse it in the handshake, whether or not it
verifies the chain there, and must not send it a key exchange (after which
its data would go to the impostor). The same server signing with the
certificate's own key is the control: the client then answers with its key
exchange, so a refusal is the client's doing, not the impostor's.
"""

from __future__ import annotations

import functools
import socket
import time

import pytest

from nettls import TLSHandshakeError
from nettls.interfaces import IVerifyOnConnect

from .impostor import KEY_EXCHANGE, ImpostorOutcome, run_impostor
from .makers import BLOCKING, LOOPBACK, Background, set_timeout

OK, FAIL, WAIT_READ, WAIT_WRITE = 1, 0, 2, 3
#: How long a non-blocking handshake may take against the impostor.
_DEADLINE = 10.0


def _connect(harness, context, mode: str, port: int) -> int | None:
    """Connect a session of the component under test to the impostor's
    listener; the handshake's result (None when it raised TLSHandshakeError)."""
    session = harness.kit.TLS(context)
    sock = harness.tcp_kit.TCPSocket()
    harness.callback(sock.disconnect)
    set_timeout(sock, harness.timeout)
    sock.connect(LOOPBACK, port)
    if mode == BLOCKING:
        try:
            return session.connect(sock)
        except TLSHandshakeError:
            return None
    session.setNonBlocking()
    deadline = time.monotonic() + _DEADLINE
    status = session.connect(sock)
    while status in (WAIT_READ, WAIT_WRITE) and time.monotonic() < deadline:
        time.sleep(0.005)
        status = session.connect(sock)
    return status


def _face(harness, pki, context, mode: str, *, honest: bool) -> tuple[ImpostorOutcome, int | None]:
    identity = pki.ec  # a P-256 leaf: the impostor signs ecdsa_secp256r1_sha256
    chain = [identity.leaf.der] + [c.der for c in identity.intermediates]
    listener = socket.create_server((LOOPBACK, 0))
    harness.callback(listener.close)
    server = Background(functools.partial(run_impostor, honest=honest), listener, chain, identity.leaf.key, name="impostor")
    status = _connect(harness, context, mode, listener.getsockname()[1])
    return server.join(), status


def _contexts(harness):
    """The client contexts to try: the suite's default one, and one that
    verifies the chain on connect where the component can."""
    kit = harness.kit
    yield "default", kit.client_context()
    ctx = kit.TLSContext(kit.TLSContext.CLIENT)
    if IVerifyOnConnect.providedBy(ctx):
        kit.trust_suite_roots(ctx)
        yield "verify-on-connect", ctx


@pytest.mark.clause("6.handshake-signature")
def test_impostor_is_refused(harness, pki, mode):
    for name, context in _contexts(harness):
        outcome, status = _face(harness, pki, context, mode, honest=False)
        assert outcome.answer != KEY_EXCHANGE, (
            f"{name} context: the client accepted a key exchange signed with a key other than its "
            f"certificate's and went on with the handshake ({outcome.detail})"
        )
        assert status in (None, FAIL), f"{name} context: connect() returned {status} to an impostor"


@pytest.mark.clause("6.handshake-signature")
def test_honest_server_gets_a_key_exchange(harness, pki, mode):
    """The control: the impostor's flight is good TLS when signed with the right key."""
    for name, context in _contexts(harness):
        outcome, _status = _face(harness, pki, context, mode, honest=True)
        assert outcome.answer == KEY_EXCHANGE, (
            f"{name} context: the client refused a correctly signed flight ({outcome.detail}), "
            "so the impostor test cannot tell a client that checks signatures from one that does not"
        )
