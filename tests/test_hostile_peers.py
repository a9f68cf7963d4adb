"""Hostile peers against ``accept()`` and against ``nettls serve``, on every
TLS component.

A peer may send anything: random bytes instead of a ClientHello, a real
ClientHello followed by garbage, truncated records, records longer than TLS
allows, a renegotiation, a reset in the middle of a record; it may stop in
the middle of the handshake, trickle bytes for ever, or open hundreds of
connections and say nothing. Whatever it does, the session under attack
ends with a clean ``TLSHandshakeError`` (blocking) or ``FAIL`` (non-blocking)
carrying a reason, never another exception and never a hang; what the peer
sent before its fault is delivered, nothing after it; the connection is
closed in order (the peer reads an alert or nothing, then a FIN: never a
reset it did not cause); and a server keeps serving everyone else.

The hostile bytes are crafted from a real ClientHello (Python's
``ssl.SSLObject`` over memory buffers) or sent by a real TLS client whose
wire we control (``RawTLSClient``); the renegotiation comes from OpenSSL
through pyOpenSSL, used here as a peer only. Sessions and servers come from
``nettls.resolve`` and the conformance makers.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import threading
from typing import Any, Callable

import pytest
from OpenSSL import SSL

from nettls.conformance import BLOCKING, MODES, Background, Driver, TCPKit, TLSKit, bind_server, flush_socket, make_pki
from nettls.interfaces import ISessionInfo, TLSError, TLSHandshakeError

from _edge import (
    COMPONENTS,
    MAX_RECORD_BODY,
    WAIT,
    InterfaceOnlySocket,
    RawTLSClient,
    client_hello,
    connection_lines,
    echo_once,
    nettls_client,
    port_of,
    read_to_close,
    records,
    reset_close,
    serve_thread,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)

OK, FAIL = 1, 0
#: Record content types a TLS peer may legitimately send back.
_TLS_CONTENT_TYPES = {20, 21, 22, 23}


def _random(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _too_long(content_type: int) -> bytes:
    """One record whose length field says 2^14 + 2048 + 1: longer than any TLS version allows."""
    length = MAX_RECORD_BODY + 1
    return bytes([content_type, 3, 3]) + length.to_bytes(2, "big") + _random(length, 3)


_HELLO = client_hello()

#: Handshake-stage attacks: id -> (the bytes, then what the peer does: keep
#: the connection open, send FIN, or reset it). Each is complete enough
#: that the server can refuse it without waiting for more.
HANDSHAKE_ATTACKS: dict[str, tuple[bytes, str]] = {
    "random-bytes": (_random(600, 1), "keep"),
    "random-body-after-a-handshake-header": (b"\x16\x03\x01\x02\x00" + _random(512, 2), "keep"),
    "hello-then-garbage": (_HELLO + _random(300, 4), "keep"),
    "hello-then-garbage-record": (_HELLO + b"\x17\x03\x03\x01\x00" + _random(256, 5), "keep"),
    "record-too-long": (_too_long(22), "keep"),
    "record-length-65535": (b"\x16\x03\x01\xff\xff" + _random(65535, 6), "keep"),
    "hello-then-record-too-long": (_HELLO + _too_long(22), "keep"),
    "empty-records": (b"\x16\x03\x01\x00\x00" * 64, "keep"),
    "truncated-hello-then-fin": (_HELLO[: len(_HELLO) // 2], "fin"),
    "truncated-header-then-fin": (_HELLO[:3], "fin"),
    "sslv2-hello-then-fin": (b"\x80\x2e\x01\x00\x02" + _random(40, 7), "fin"),
    "reset-mid-hello": (_HELLO[: len(_HELLO) // 2], "reset"),
    "reset-after-hello": (_HELLO, "reset"),
}


def _end(raw: socket.socket, ending: str) -> None:
    if ending == "fin":
        raw.shutdown(socket.SHUT_WR)
    elif ending == "reset":
        reset_close(raw)


def _accepted_pair() -> tuple[socket.socket, Any]:
    """A raw client socket and the nettls TCP socket the server accepted for it."""
    listener, port = bind_server()
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        sock = TCPKit.of(None).TCPSocket()
        assert sock.accept(listener) is True
    finally:
        listener.unbind()
    sock.setTimeout(WAIT)  # a component that waits for ever fails the test instead of hanging it
    return raw, sock


def _run_accept(session: Any, sock: Any, mode: str) -> tuple[int | None, BaseException | None]:
    """``accept()`` to its end: (status, None) or (None, the exception)."""
    if mode == BLOCKING:
        try:
            return session.accept(sock), None
        except Exception as exc:
            return None, exc
    driver = Driver(timeout=WAIT)
    ep = driver.add(session, sock, name="server", data="server")
    try:
        status = driver.complete(ep, lambda: session.accept(sock), "accept()")
    finally:
        ep.unwatch()
    return status, None


def _assert_reason(session: Any) -> None:
    if ISessionInfo.providedBy(session):
        reason = session.getFailureReason()
        assert isinstance(reason, str) and reason.strip(), f"FAIL without a reason: {reason!r}"


def _assert_finished_session(session: Any) -> None:
    """A failed session stays failed and never raises a foreign exception."""
    assert session.getStatus() == FAIL
    _assert_reason(session)
    assert session.close() == FAIL, "close() of a session whose handshake failed is FAIL (SPEC 6)"
    with pytest.raises(TLSError):
        session.send(b"after the failure")


# -- accept() against hostile bytes during the handshake ---------------------------------------------


@pytest.mark.parametrize("attack", list(HANDSHAKE_ATTACKS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("component", COMPONENTS)
def test_accept_refuses_hostile_handshake_bytes(component: str, mode: str, attack: str) -> None:
    payload, ending = HANDSHAKE_ATTACKS[attack]
    kit = TLSKit.of(component)
    raw, sock = _accepted_pair()
    try:
        raw.sendall(payload)
        _end(raw, ending)
        session = kit.TLS(kit.server_context(make_pki().ec))
        status, error = _run_accept(session, sock, mode)
        if mode == BLOCKING:
            assert isinstance(error, TLSHandshakeError), f"accept() gave {status!r} / {error!r}, not TLSHandshakeError"
            assert not isinstance(error, TimeoutError), "accept() waited for more instead of refusing"
            assert str(error).strip()
        else:
            assert status == FAIL, f"non-blocking accept() ended with {status!r}"
            try:
                flush_socket(sock)  # the alert, if any, reaches the peer (SPEC 11)
            except OSError:
                assert ending == "reset"
        _assert_finished_session(session)
        sock.disconnect()
        if ending != "reset":
            reply, how = read_to_close(raw)
            assert how == "eof", f"the peer saw {how} after {len(reply)} bytes, not an orderly close"
            assert all(kind in _TLS_CONTENT_TYPES for kind, _ in records(reply)), reply[:40]
    finally:
        sock.disconnect()
        raw.close()


def test_the_crafted_attacks_are_what_they_claim() -> None:
    """The attack table is not vacuous: the ClientHello is real (a Python
    client's), and the long records are one byte over the TLS limit."""
    assert _HELLO[0] == 22 and _HELLO[5] == 1 and len(_HELLO) > 100
    assert len(records(_HELLO)) == 1
    for name in ("record-too-long", "hello-then-record-too-long"):
        data = HANDSHAKE_ATTACKS[name][0]
        tail = data[len(_HELLO) :] if name.startswith("hello") else data
        assert int.from_bytes(tail[3:5], "big") == 2**14 + 2048 + 1


@pytest.mark.parametrize("component", COMPONENTS)
def test_blocking_accept_of_a_peer_that_stops_mid_handshake_times_out(component: str) -> None:
    """Half a ClientHello, then silence: a blocking accept() ends when the
    socket's timeout runs out (``ITimeout``), as a ``TLSError`` that is a
    ``TimeoutError``; the session is failed for good."""
    kit = TLSKit.of(component)
    raw, sock = _accepted_pair()
    try:
        raw.sendall(_HELLO[:100])
        sock.setTimeout(0.2)
        session = kit.TLS(kit.server_context(make_pki().ec))
        with pytest.raises(TimeoutError) as info:
            session.accept(sock)
        assert isinstance(info.value, TLSError)
        _assert_finished_session(session)
    finally:
        sock.disconnect()
        raw.close()


# -- accept()ed sessions against hostile records after the handshake ---------------------------------------


def _garbage_record(client: RawTLSClient) -> bytes:
    return b"\x17\x03\x03\x00\x40" + _random(64, 8)


def _record_too_long(client: RawTLSClient) -> bytes:
    return _too_long(23)


def _plaintext_alert(client: RawTLSClient) -> bytes:
    return b"\x15\x03\x03\x00\x02\x02\x28"  # fatal handshake_failure, unencrypted, inside an encrypted session


def _half_a_record(client: RawTLSClient) -> bytes:
    return client.record(_random(1000, 9))[:500]


#: Post-handshake attacks: id -> (what follows a good record "hello", then the ending).
RECORD_ATTACKS: dict[str, tuple[Callable[[RawTLSClient], bytes], str]] = {
    "garbage-record": (_garbage_record, "keep"),
    "record-too-long": (_record_too_long, "keep"),
    "plaintext-alert": (_plaintext_alert, "keep"),
    "truncated-record-then-fin": (_half_a_record, "fin"),
    "truncated-record-then-reset": (_half_a_record, "reset"),
}

def _record_attack_params() -> list[Any]:
    params = []
    for component in COMPONENTS:
        for mode in MODES:
            for attack, (_, ending) in RECORD_ATTACKS.items():
                params.append(pytest.param(component, mode, attack, id=f"{component}-{mode}-{attack}"))
    return params


def _handshaken(component: str, mode: str) -> tuple[RawTLSClient, Any, Any, Driver | None]:
    """A ``RawTLSClient`` connected to a nettls server session of ``component``."""
    kit = TLSKit.of(component)
    listener, port = bind_server()
    try:
        client = RawTLSClient(port)
        sock = TCPKit.of(None).TCPSocket()
        assert sock.accept(listener) is True
    finally:
        listener.unbind()
    sock.setTimeout(WAIT)
    session = kit.TLS(kit.server_context(make_pki().ec))
    shaker = Background(client.handshake, name="raw client handshake")
    driver = None
    if mode == BLOCKING:
        assert session.accept(sock) == OK
    else:
        driver = Driver(timeout=WAIT)
        ep = driver.add(session, sock, name="server", data="server")
        assert driver.complete(ep, lambda: session.accept(sock), "accept()") == OK
    shaker.join()
    return client, session, sock, driver


def _read_to_end(session: Any, mode: str, driver: Driver | None) -> bytes:
    if mode == BLOCKING:
        got = bytearray()
        for _ in range(1000):
            chunk = session.recv(5)
            got += chunk
            if len(chunk) < 5:
                return bytes(got)
        raise AssertionError("recv() never reached the end of the stream")
    assert driver is not None
    (ep,) = driver.endpoints
    return driver.read_to_end(ep)


@pytest.mark.parametrize(("component", "mode", "attack"), _record_attack_params())
def test_hostile_records_after_the_handshake(component: str, mode: str, attack: str) -> None:
    """What came before the fault arrives; then the stream ends (``b""``,
    ``FAIL``, a reason); ``recv()`` never raises; a later ``send()`` either
    works (the peer only half-closed) or raises a ``TLSError``."""
    make_bad, ending = RECORD_ATTACKS[attack]
    client, session, sock, driver = _handshaken(component, mode)
    try:
        client.sock.sendall(client.record(b"hello") + make_bad(client))
        _end(client.sock, ending)
        assert _read_to_end(session, mode, driver) == b"hello"
        assert session.recv(100) == b""
        assert session.getStatus() == FAIL
        _assert_reason(session)
        if ending == "keep":  # the session failed: it stays failed
            with pytest.raises(TLSError):
                session.send(b"x")
        else:  # a truncation: the peer may still read; sending works or fails cleanly
            try:
                session.send(b"x")
            except TLSError:
                pass
        assert session.close() in (OK, FAIL)
    finally:
        sock.disconnect()
        client.close()


def _renegotiating_client(port: int) -> str:
    """A TLS 1.2 OpenSSL client that sends "before", then renegotiates.
    Returns how the renegotiation ended (OpenSSL's error, or "renegotiated")."""
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_verify(SSL.VERIFY_NONE)
    raw = socket.create_connection(("127.0.0.1", port))
    raw.settimeout(None)  # pyOpenSSL needs a blocking socket; the test's cleanup ends it if need be
    conn = SSL.Connection(ctx, raw)
    conn.set_connect_state()
    try:
        conn.do_handshake()
        conn.sendall(b"before")
        if not conn.renegotiate():
            return "renegotiate() refused locally"
        conn.do_handshake()
        return "renegotiated"
    except SSL.Error as exc:
        return f"refused: {exc}"
    finally:
        raw.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("component", COMPONENTS)
def test_client_initiated_renegotiation_is_refused(component: str, mode: str) -> None:
    """A client's renegotiation (TLS 1.2) is refused with no_renegotiation;
    what it sent before arrives, and the session then ends cleanly."""
    kit = TLSKit.of(component)
    listener, port = bind_server()
    try:
        client = Background(_renegotiating_client, port, name="renegotiating client")
        sock = TCPKit.of(None).TCPSocket()
        assert sock.accept(listener) is True
    finally:
        listener.unbind()
    sock.setTimeout(WAIT)
    session = kit.TLS(kit.server_context(make_pki().ec))
    try:
        driver = None
        if mode == BLOCKING:
            assert session.accept(sock) == OK
        else:
            driver = Driver(timeout=WAIT)
            ep = driver.add(session, sock, name="server", data="server")
            assert driver.complete(ep, lambda: session.accept(sock), "accept()") == OK
        if ISessionInfo.providedBy(session):
            assert session.getProtocolVersion() == "TLSv1.2"
        assert _read_to_end(session, mode, driver) == b"before"
        assert session.getStatus() == FAIL
        _assert_reason(session)
    finally:
        sock.disconnect()
    outcome = client.join()
    assert outcome.startswith("refused") and "no renegotiation" in outcome, outcome


# -- a timed-out blocking read in the middle of a record ----------------------------------------------------


@pytest.mark.parametrize("socket_kind", ["tcp", "interface-only"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_blocking_recv_that_times_out_mid_record_loses_nothing(component: str, socket_kind: str) -> None:
    """A slow peer stops in the middle of a record: ``recv()`` raises
    ``TLSTimeoutError`` when the socket's timeout runs out, the session
    stays usable, and once the rest arrives a retried ``recv()`` returns
    every byte. "tcp" is the built-in TCP socket; "interface-only" the same
    socket behind nothing but ``ITCPSocket``, as a third-party TCP component
    without the ``ISelectable`` extension would be."""
    kit = TLSKit.of(component)
    listener, port = bind_server()
    try:
        client = RawTLSClient(port)
        inner = TCPKit.of(None).TCPSocket()
        assert inner.accept(listener) is True
    finally:
        listener.unbind()
    inner.setTimeout(WAIT)
    sock = inner if socket_kind == "tcp" else InterfaceOnlySocket(inner)
    session = kit.TLS(kit.server_context(make_pki().ec))
    try:
        shaker = Background(client.handshake, name="raw client handshake")
        assert session.accept(sock) == OK
        shaker.join()
        data = _random(1000, 10)
        record = client.record(data)
        client.sock.sendall(record[:300])
        inner.setTimeout(0.2)
        with pytest.raises(TimeoutError) as info:
            session.recv(len(data))
        assert isinstance(info.value, TLSError)
        client.sock.sendall(record[300:])
        inner.setTimeout(WAIT)
        assert session.recv(len(data)) == data
        assert session.getStatus() == OK
    finally:
        inner.disconnect()
        client.close()


# -- nettls serve: hostile peers while others are served ------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_server_keeps_serving_through_hostile_peers(component: str, caplog: pytest.LogCaptureFixture) -> None:
    """Every attack above at once against one server: each bad connection is
    ended with a reason and closed in order, nothing escapes the loop
    ("internal error"), and a well-behaved client is served meanwhile and
    after."""
    caplog.set_level(logging.INFO, logger="nettls.serve")
    with serve_thread(component, handshake_timeout=WAIT) as server:
        port = port_of(server)
        raws: list[tuple[str, socket.socket, str]] = []
        clients: list[RawTLSClient] = []
        try:
            for name, (payload, ending) in HANDSHAKE_ATTACKS.items():
                raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
                raw.sendall(payload)
                _end(raw, ending)
                raws.append((name, raw, ending))
            for name, (make_bad, ending) in RECORD_ATTACKS.items():
                client = RawTLSClient(port)
                client.handshake()
                client.sock.sendall(client.record(b"hello") + make_bad(client))
                _end(client.sock, ending)
                clients.append(client)
                raws.append((name, client.sock, ending))
            renegotiator = Background(_renegotiating_client, port, name="renegotiating client")
            echo_once(port, component)  # served while the attacks are under way
            assert renegotiator.join().startswith("refused")
            for name, raw, ending in raws:
                if ending != "reset":
                    _, how = read_to_close(raw)
                    assert how == "eof", f"{name}: the attacker saw {how}, not an orderly close"
        finally:
            for _, raw, _ in raws:
                raw.close()
        wait_until(lambda: server.connections == 0, "every hostile connection to be closed")
        echo_once(port, component)  # and after
    lines = connection_lines(caplog.records)
    expected = len(HANDSHAKE_ATTACKS) + len(RECORD_ATTACKS) + 1 + 2
    assert len(lines) == expected, "\n".join(lines)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "an attack reached the server's error path"
    handshake_failures = [line for line in lines if "handshake failed: " in line]
    assert len(handshake_failures) >= len(HANDSHAKE_ATTACKS), "\n".join(lines)


@pytest.mark.parametrize("component", COMPONENTS)
def test_stalled_and_silent_peers_are_dropped_at_the_handshake_deadline(
    component: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Hundreds of connections that send nothing, one that stops in the middle
    of its ClientHello, one that stops after the server's flight, and one
    that trickles its ClientHello a byte at a time (progress, but never a
    handshake): a good client is served while they all wait, and each is
    closed at the server's handshake deadline (``handshake_timeout``, the
    CLI's ``--handshake-timeout``), however much it trickled."""
    caplog.set_level(logging.INFO, logger="nettls.serve")
    deadline = 2.0
    silent_count = 300
    with serve_thread(component, handshake_timeout=deadline) as server:
        port = port_of(server)
        stalled: list[socket.socket] = []
        stop = threading.Event()
        trickler: socket.socket | None = None

        def trickle() -> None:
            assert trickler is not None
            for byte in _HELLO:
                if stop.wait(0.02):
                    return
                try:
                    trickler.send(bytes([byte]))
                except OSError:  # closed by the server: that is the point
                    return

        try:
            for _ in range(silent_count):
                stalled.append(socket.create_connection(("127.0.0.1", port), timeout=WAIT))
            partial = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            partial.sendall(_HELLO[:60])
            stalled.append(partial)
            after_flight = RawTLSClient(port)
            try:
                after_flight.obj.do_handshake()
            except ssl.SSLWantReadError:
                after_flight.sock.sendall(after_flight.outgoing.read())
            assert after_flight.sock.recv(5)[:1] == b"\x16", "the server did not answer the ClientHello"
            stalled.append(after_flight.sock)
            trickler = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            trickling = threading.Thread(target=trickle, name="slowloris", daemon=True)
            trickling.start()
            count = silent_count + 3
            wait_until(lambda: server.accepted >= count, f"{count} connections accepted")

            echo_once(port, component)  # served while they all stall
            assert server.connections >= count, "the stalled peers were dropped before the good client finished"

            for sock in stalled:
                _, how = read_to_close(sock)
                assert how == "eof", f"a stalled peer saw {how}, not an orderly close"
            _, how = read_to_close(trickler)
            assert how in ("eof", "reset"), f"the trickling peer was not dropped: {how}"
            wait_until(lambda: server.connections == 0, "every stalled connection to be dropped")
            echo_once(port, component)
        finally:
            stop.set()
            for sock in stalled:
                sock.close()
            if trickler is not None:
                trickler.close()
    lines = connection_lines(caplog.records)
    timed_out = [line for line in lines if f"handshake timed out after {deadline:g} s" in line]
    assert len(timed_out) == silent_count + 3, "\n".join(lines[-10:])


@pytest.mark.parametrize("component", COMPONENTS)
def test_http_request_head_trickled_for_ever_is_cut_at_the_idle_deadline(
    component: str, caplog: pytest.LogCaptureFixture
) -> None:
    """In ``--http`` mode a request head must be complete within the idle
    timeout of the handshake, however slowly it keeps coming: a client that
    sends one header line every 20 ms for ever is closed (close_notify)."""
    caplog.set_level(logging.INFO, logger="nettls.serve")
    with serve_thread(component, http=True, idle_timeout=1.0) as server:
        session = nettls_client(port_of(server), component)
        stop = threading.Event()

        def trickle() -> None:
            try:
                session.send(b"GET /slow HTTP/1.1\r\n")
                while not stop.wait(0.02):
                    session.send(b"X-Slow: 1\r\n")
            except TLSError:  # the server has closed: that is the point
                pass

        sender = threading.Thread(target=trickle, name="trickler", daemon=True)
        sender.start()
        try:
            assert session.recv(1) == b"", "the server answered an incomplete request head"
            assert session.getStatus() == FAIL
            assert "close_notify" in (session.getFailureReason() or "")
        finally:
            stop.set()
            sender.join(WAIT)
            session.getSocket().disconnect()
        wait_until(lambda: server.connections == 0, "the trickling connection to be closed")
    assert any("request incomplete for 1 s" in line for line in connection_lines(caplog.records))
