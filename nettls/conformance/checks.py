"""The core checks as functions: call them from any test runner.

In the manner of trio's ``check_two_way_stream(stream_maker,
clogged_stream_maker)``, each check takes a maker, a ``Harness``, which
makes connected TCP pairs and TLS pairs of one component and cleans them
up; the suite's own tests call the same functions. A component author
whose classes are not registered gives them as a ``TLSKit``::

    from nettls.conformance.checks import check_core
    from nettls.conformance.makers import TLSKit

    check_core(TLSKit("mine", MyTLS, MyTLSContext, MyTLSCertStore, chain_in_handshake=False))

Each check raises AssertionError saying which SPEC rule failed, and
returns None when the component keeps it. ``check_core`` runs them all in
both modes with a fresh ``Harness`` each (a few seconds). The full suite
(``pytest --pyargs nettls.conformance --nettls-component NAME``) checks far
more; these are its core.
"""

from __future__ import annotations

import os
import struct
from typing import Any, Callable

from nettls import TLSConnectionError
from nettls.interfaces import ISessionInfo

from ._support import payload
from .driver import stuff
from .kits import BLOCKING, FAIL, MODES, NONBLOCKING, OK, WAIT_READ, WAIT_WRITE, TLSKit, read_to_end, recv_exactly
from .makers import Harness
from .pki import same_certificate
from .status_rules import CASES, check_status_rule

__all__ = [
    "check_exchange",
    "check_status_rules",
    "check_close_by_send_buffer",
    "check_peer_certificates",
    "check_damage",
    "check_core",
    "DAMAGE",
    "assert_broken",
    "assert_peer",
]

_APPLICATION_DATA, _ALERT = 23, 21

#: What the peer's side of the connection carries after the data, by case id.
DAMAGE = {
    # A record whose AEAD tag cannot match: a bit error, or a forgery.
    "bad-mac": struct.pack("!BHH", _APPLICATION_DATA, 0x0303, 64) + os.urandom(64),
    # A content type TLS does not have.
    "unknown-type": struct.pack("!BHH", 99, 0x0303, 16) + os.urandom(16),
    # Longer than any TLS 1.2 or 1.3 record may be (2^14 + 2048).
    "oversized": struct.pack("!BHH", _APPLICATION_DATA, 0x0303, 18_500) + os.urandom(18_500),
    # A fatal handshake_failure alert in the clear, after the handshake.
    "plaintext-alert": struct.pack("!BHHBB", _ALERT, 0x0303, 2, 2, 40),
}


def check_exchange(harness: Harness, mode: str) -> None:
    """SPEC 4 and 7: data both ways, every byte once and in order."""
    pair = harness.tls_pair(mode)
    request, response = payload(100_000, 1), payload(300_000, 2)
    assert pair.exchange(request, response) == (request, response), "data lost, changed or reordered"
    assert pair.exchange(b"x", b"y") == (b"x", b"y")


def check_status_rules(harness: Harness, modes: tuple[str, ...] = MODES) -> None:
    """SPEC 6: ``getStatus()`` in every state of ``status_rules.RULES``."""
    for row, mode in CASES:
        if mode in modes:
            check_status_rule(harness, row, mode)


def check_close_by_send_buffer(harness: Harness) -> None:
    """SPEC 6 and 7: a non-blocking ``close()`` that leaves ciphertext queued
    is finished by ``sendBuffer()`` on each send-ready event, and nothing
    else: the peer gets every byte, then close_notify."""
    pair = harness.tls_pair(NONBLOCKING)
    client, server = pair.endpoint("client"), pair.endpoint("server")
    server.unwatch()  # the server reads only once close() has returned
    data = stuff(client, extra=2)
    first = pair.client.close()
    assert first == WAIT_WRITE, "close() with bytes queued returns WAIT_WRITE"
    client.ledger.closing = True
    client.arm()
    server.watch()
    assert pair.driver is not None
    pair.driver.run_until(
        lambda: server.ended and pair.client_socket.getBufferUnsent() == 0,
        "sendBuffer() alone to finish the close",
    )
    assert bytes(server.received) == data, "close() lost or reordered queued bytes"
    assert pair.client.getBufferUnsent() == 0
    assert pair.client_socket.connected(), "the socket is still connected: the server's end came from close_notify"
    assert pair.client.getStatus() == FAIL
    assert pair.client.close() == FAIL, "close() of a session whose close has completed: already closed"


def assert_peer(session: Any, expected: list[str], where: str) -> None:
    """getPeerCertificate() and getPeerCertChain() of ``session`` agree, and
    give ``expected`` (the PEMs the peer sent, leaf first; [] for none)."""
    leaf, chain = session.getPeerCertificate(), session.getPeerCertChain()
    assert leaf is None or isinstance(leaf, str), f"{where}: getPeerCertificate() returned {type(leaf).__name__}"
    assert isinstance(chain, list), f"{where}: getPeerCertChain() returned {type(chain).__name__}"
    if expected:
        assert leaf is not None and same_certificate(leaf, expected[0]), f"{where}: getPeerCertificate() is not the peer's leaf"
    else:
        assert leaf is None, f"{where}: getPeerCertificate() is not None"
    assert len(chain) == len(expected) and all(same_certificate(a, b) for a, b in zip(chain, expected)), (
        f"{where}: getPeerCertChain() has {len(chain)} certificates, not the {len(expected)} the peer sent"
    )


def check_peer_certificates(harness: Harness, mode: str) -> None:
    """SPEC 6: before, during (non-blocking) and after the handshake, after
    the peer closed and after close(), the two calls agree, and once
    received the peer's certificates stay what the peer sent."""
    identity = harness.pki.ec
    sent = [identity.cert_pem, *identity.chain_pems]
    pair = harness.tls_pair(mode, identity=identity, do_handshake=False)
    assert_peer(pair.client, [], "before the handshake")
    assert_peer(pair.server, [], "before the handshake")
    if mode == NONBLOCKING:
        assert pair.driver is not None
        pair.client.setNonBlocking()
        assert pair.client.connect(pair.client_socket) in (WAIT_READ, WAIT_WRITE)  # the server has not answered
        assert_peer(pair.client, [], "before the server's certificate arrived")
        pair.driver.add(pair.client, pair.client_socket, name="client")
    pair.handshake()
    assert_peer(pair.client, sent, "after the handshake")
    assert_peer(pair.server, [], "a server that asked for no client certificate")
    assert pair.close("server") == OK
    assert pair.read_to_end("client") == b""
    assert_peer(pair.client, sent, "after the peer closed")
    assert pair.close("client") == OK
    assert_peer(pair.client, sent, "after close()")
    assert_peer(pair.server, [], "a server after close()")


def assert_broken(session: Any, mode: str, where: str) -> None:
    """What SPEC 4 and 6 promise of a session the peer broke: ``b""`` from
    every ``recv()``, FAIL for good, ``TLSConnectionError`` from ``send()``,
    a reason (``ISessionInfo``), and a ``close()`` that does not raise."""
    for _ in range(3):
        assert session.recv(100) == b"", f"{where}: recv() after the damage returns b'' on every call"
    assert session.getStatus() == FAIL, f"{where}: getStatus() is FAIL once the session failed"
    try:
        for _ in range(50):  # a send may be accepted before the failure is known: not for long
            session.send(b"after the damage")
            if mode != BLOCKING:
                session.sendBuffer()
    except TLSConnectionError:
        pass
    else:
        raise AssertionError(f"{where}: send() on a broken session did not raise TLSConnectionError")
    assert session.getStatus() == FAIL
    if ISessionInfo.providedBy(session):
        reason = session.getFailureReason()
        assert isinstance(reason, str) and reason.strip(), f"{where}: no failure reason"
    assert session.close() in (OK, FAIL), "close() of a failed session returns a status"


def check_damage(harness: Harness, mode: str, damage: str) -> None:
    """SPEC 4 and 6: after some data, the peer's side carries ``DAMAGE[damage]``;
    the session gives the data, then ends as ``assert_broken`` says, and
    keeps the peer's certificate."""
    pair = harness.tls_pair(mode, identity=harness.pki.ec)
    before = payload(3000, 60)
    if mode == BLOCKING:
        assert pair.server.send(before) == len(before)
    else:
        assert pair.driver is not None
        server = pair.endpoint("server")
        server.feed(before)
        pair.driver.run_until(lambda: server.idle and pair.server_socket.getBufferUnsent() == 0, "the data to leave")
    pair.server_socket.send(DAMAGE[damage])  # the server session is done: its socket is the check's now
    if mode == BLOCKING:
        assert recv_exactly(pair.client, len(before)) == before
        assert read_to_end(pair.client) == b"", "recv() after the damage returns b''"
    else:
        assert pair.read_to_end("client") == before
    assert_broken(pair.client, mode, damage)
    assert same_certificate(pair.client.getPeerCertificate(), harness.pki.ec.cert_pem), "the peer's certificate is kept"


def wrong_role_call(harness: Harness, pki: Any, mode: str, side: str) -> Callable[[], object]:
    """The call that uses a context of the wrong mode: ``connect()`` with a
    SERVER context (``side`` "client") or ``accept()`` with a CLIENT one."""
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    if side == "client":
        session, sock, call = kit.TLS(kit.server_context(pki.ec)), client_sock, "connect"
    else:
        session, sock, call = kit.TLS(kit.client_context()), server_sock, "accept"
    if mode == NONBLOCKING:
        session.setNonBlocking()
    return lambda: getattr(session, call)(sock)


def check_core(tls: str | TLSKit | None, tcp: str | None = None, *, modes: tuple[str, ...] = MODES) -> None:
    """Every check above, in ``modes``, each with a fresh ``Harness(tls, tcp)``."""
    runs: list[Callable[[Harness], None]] = []
    for mode in modes:
        runs.append(lambda h, mode=mode: check_exchange(h, mode))
        runs.append(lambda h, mode=mode: check_peer_certificates(h, mode))
        runs.extend(lambda h, mode=mode, d=d: check_damage(h, mode, d) for d in DAMAGE)
    runs.append(lambda h: check_status_rules(h, modes))
    if NONBLOCKING in modes:
        runs.append(check_close_by_send_buffer)
    for run in runs:
        with Harness(tls, tcp) as harness:
            run(harness)
