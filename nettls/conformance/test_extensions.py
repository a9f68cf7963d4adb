"""SPEC 11 on TLS sessions: session information, timeouts, alert delivery.

Extensions are tested where provided; a component without one skips
these cases with the reason.
"""

from __future__ import annotations

import time

import pytest

import nettls
from nettls.interfaces import ISessionInfo, ITimeout

from . import pyssl
from ._support import require_interface
from .makers import BLOCKING, Background, bind_server, flush_socket, set_timeout

OK, FAIL = 1, 0


@pytest.mark.clause("11.session-info")
def test_session_info_after_handshake(harness, mode):
    kit = harness.kit
    fresh = kit.TLS(kit.client_context())
    require_interface(fresh, ISessionInfo, "session information")
    assert fresh.getProtocolVersion() is None and fresh.getCipherSuite() is None
    pair = harness.tls_pair(mode)
    for session in (pair.client, pair.server):
        assert session.getProtocolVersion() == "TLSv1.3"
        suite = session.getCipherSuite()
        assert isinstance(suite, str) and suite.strip()
        assert session.getFailureReason() is None
    assert pair.client.getCipherSuite() == pair.server.getCipherSuite()


@pytest.mark.clause("11.session-info")
def test_failure_reason_after_failure(harness, mode):
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    server_sock.send(b"SSH-2.0-OpenSSH_9.6\r\n")
    server_sock.disconnect()
    client = kit.TLS(kit.client_context())
    require_interface(client, ISessionInfo, "session information")
    if mode == BLOCKING:
        with pytest.raises(nettls.TLSHandshakeError):
            client.connect(client_sock)
    else:
        driver = harness.driver()
        ep = driver.add(client, client_sock, name="client", data="client")
        assert driver.complete(ep, lambda: client.connect(client_sock), "connect()") == FAIL
    reason = client.getFailureReason()
    assert isinstance(reason, str) and reason.strip()


@pytest.mark.clause("11.timeout")
def test_blocking_recv_times_out(harness):
    pair = harness.tls_pair(BLOCKING)
    require_interface(pair.client_socket, ITimeout, "socket timeouts")
    pair.client_socket.setTimeout(0.2)
    started = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        pair.client.recv(10)
    assert time.monotonic() - started < 5.0
    assert isinstance(info.value, nettls.TLSError), "a session's timeout is a TLSError that is also a TimeoutError"


@pytest.mark.clause("11.timeout")
def test_blocking_send_times_out(harness):
    pair = harness.tls_pair(BLOCKING)
    require_interface(pair.client_socket, ITimeout, "socket timeouts")
    pair.client_socket.setTimeout(0.3)
    sending = Background(pair.client.send, bytes(32 << 20), name="send()")  # the server never reads
    with pytest.raises(TimeoutError) as info:
        try:
            sending.join(5.0)
        except TimeoutError as exc:
            if "still running" in str(exc):
                raise AssertionError("a blocking send() to a peer that does not read ignored setTimeout(0.3)") from None
            raise
    assert isinstance(info.value, nettls.TLSError), "a session's timeout is a TLSError that is also a TimeoutError"


@pytest.mark.clause("11.timeout")
def test_blocking_handshake_times_out(harness):
    kit = harness.kit
    client_sock, _silent_server = harness.tcp_pair()
    require_interface(client_sock, ITimeout, "socket timeouts")
    client_sock.setTimeout(0.2)
    client = kit.TLS(kit.client_context())
    started = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        client.connect(client_sock)
    assert time.monotonic() - started < 5.0
    assert isinstance(info.value, nettls.TLSError)


@pytest.mark.clause("11.alert-delivery")
def test_refusal_alert_reaches_the_peer(harness, pki, mode):
    """A server refusing TLS 1.1 has handed its protocol_version alert to
    the socket by the time accept() fails; flushing the socket delivers it."""
    kit = harness.kit
    listener, port = bind_server(harness.tcp)
    client = Background(lambda: pyssl.client(port, lambda tls: "handshake succeeded", versions=pyssl.TLS11), name="TLS 1.1 client")
    sock = harness.tcp_kit.TCPSocket()
    try:
        assert sock.accept(listener) is True
    finally:
        listener.unbind()
    harness.callback(sock.disconnect)
    set_timeout(sock, 5.0)
    server = kit.TLS(kit.server_context(pki.ec))
    if mode == BLOCKING:
        with pytest.raises(nettls.TLSHandshakeError):
            server.accept(sock)
    else:
        driver = harness.driver()
        ep = driver.add(server, sock, name="server", data="server")
        assert driver.complete(ep, lambda: server.accept(sock), "accept()") == FAIL
        ep.unwatch()
        flush_socket(sock, harness.tcp)
    sock.disconnect()
    error = client.join()
    assert "alert" in error.lower() and "version" in error.lower(), f"the client did not get the alert: {error}"
