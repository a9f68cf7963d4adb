"""TLS extensions: session resumption, and how a stream ended (clean or truncated)."""

from __future__ import annotations

import pytest

import nettls
from nettls.interfaces import IEndOfStream, IResumption

from ._support import require_interface, reset
from .makers import BLOCKING, TLSKit

OK, FAIL = 1, 0


def _first_session(harness, mode, server_ctx, client_ctx):
    """A full handshake and a round trip (TLS 1.3 tickets arrive with the
    first data); returns the client's resumption data."""
    pair = harness.tls_pair(mode, server_context=server_ctx, client_context=client_ctx)
    require_interface(pair.client, IResumption, "session resumption")
    assert pair.client.isResumed() is False and pair.server.isResumed() is False
    assert pair.exchange(b"first", b"hello") == (b"first", b"hello")
    data = pair.client.getResumptionData()
    assert data is not None, "resumable once the server's ticket has been read"
    assert pair.server.getResumptionData() is None, "resumption data is a client's"
    assert pair.close("client") == OK
    return data


@pytest.mark.clause("11.resumption")
def test_client_resumes_an_earlier_session(harness, pki, mode):
    kit = harness.kit
    server_ctx, client_ctx = kit.server_context(pki.rsa), kit.client_context()
    data = _first_session(harness, mode, server_ctx, client_ctx)
    for round_ in range(2):
        pair = harness.tls_pair(mode, server_context=server_ctx, client_context=client_ctx, do_handshake=False)
        assert pair.client.setResumptionData(data) is True
        assert pair.handshake() == (OK, OK)
        assert pair.client.isResumed() is True, f"round {round_}: the client did not resume"
        assert pair.server.isResumed() is True
        assert pair.exchange(b"again", b"welcome back") == (b"again", b"welcome back")
        data = pair.client.getResumptionData() or data
        pair.close("client")


@pytest.mark.clause("11.resumption")
def test_full_handshake_when_the_server_cannot_resume(harness, pki):
    kit = harness.kit
    client_ctx = kit.client_context()
    data = _first_session(harness, BLOCKING, kit.server_context(pki.rsa), client_ctx)
    other_server = kit.server_context(pki.ec)  # another configuration: another ticket key
    pair = harness.tls_pair(BLOCKING, server_context=other_server, client_context=client_ctx, do_handshake=False)
    pair.client.setResumptionData(data)
    assert pair.handshake() == (OK, OK), "a ticket the server cannot use means a full handshake, not a failure"
    assert pair.client.isResumed() is False and pair.server.isResumed() is False
    assert pair.client.getPeerCertificate() is not None


@pytest.mark.clause("11.resumption")
def test_resumption_data_is_checked(harness, pki):
    kit = harness.kit
    server_ctx, client_ctx = kit.server_context(pki.rsa), kit.client_context()
    fresh = kit.TLS(client_ctx)
    require_interface(fresh, IResumption, "session resumption")
    assert fresh.getResumptionData() is None and fresh.isResumed() is False
    data = _first_session(harness, BLOCKING, server_ctx, client_ctx)
    for junk in (None, b"ticket", "ticket", object()):
        with pytest.raises(TypeError):
            kit.TLS(client_ctx).setResumptionData(junk)
    other = kit.client_context(cipher_set=kit.TLSContext.CIPHER_ALL)
    with pytest.raises(ValueError):
        kit.TLS(other).setResumptionData(data)
    with pytest.raises(nettls.TLSError):
        kit.TLS(server_ctx).setResumptionData(data)
    pair = harness.tls_pair(BLOCKING, server_context=server_ctx, client_context=client_ctx)
    with pytest.raises(nettls.TLSError):
        pair.client.setResumptionData(data)
    for name in nettls.registry.providers("net.TLS"):
        other_kit = TLSKit.of(name)
        related = issubclass(other_kit.TLS, kit.TLS) or issubclass(kit.TLS, other_kit.TLS)
        if related or not IResumption.implementedBy(other_kit.TLS):
            continue  # the same code: its data may well do
        with pytest.raises(TypeError):
            other_kit.TLS(other_kit.client_context()).setResumptionData(data)


# --- 11.end-of-stream ---------------------------------------------------------------------------


def _ends(pair, side):
    session = pair.session(side)
    require_interface(session, IEndOfStream, "end-of-stream information")
    assert session.endedCleanly() is None, "the stream has not ended"
    return session


@pytest.mark.clause("11.end-of-stream")
def test_close_notify_is_a_clean_end(harness, mode):
    pair = harness.tls_pair(mode)
    client = _ends(pair, "client")
    assert pair.transfer("server", b"all of it") == b"all of it"
    assert pair.close("server") == OK
    pair.read_to_end("client")
    assert client.endedCleanly() is True
    assert client.getStatus() == FAIL, "SPEC 6: the end of stream is FAIL either way"


@pytest.mark.clause("11.end-of-stream")
@pytest.mark.parametrize("how", ["tcp-close", "reset"])
def test_truncation_is_not_clean(harness, mode, how):
    pair = harness.tls_pair(mode)
    client = _ends(pair, "client")
    assert pair.transfer("server", b"part of it") == b"part of it"
    if how == "reset":
        reset(pair.server_socket)
    else:
        pair.server_socket.disconnect()
    pair.read_to_end("client")
    assert client.endedCleanly() is False, "the stream ended without close_notify"
    assert client.getStatus() == FAIL


@pytest.mark.clause("11.end-of-stream")
def test_no_stream_no_answer(harness):
    kit = harness.kit
    session = kit.TLS(kit.client_context())
    require_interface(session, IEndOfStream, "end-of-stream information")
    assert session.endedCleanly() is None
    client_sock, server_sock = harness.tcp_pair()
    server_sock.send(b"SSH-2.0-OpenSSH_9.6\r\n")
    server_sock.disconnect()
    with pytest.raises(nettls.TLSHandshakeError):
        session.connect(client_sock)
    assert session.endedCleanly() is None, "a handshake that failed opened no stream"


@pytest.mark.clause("11.end-of-stream")
def test_own_close_then_peer_close_notify(harness):
    pair = harness.tls_pair(BLOCKING)
    client = _ends(pair, "client")
    assert pair.close("client") == OK
    assert client.endedCleanly() is None, "our close_notify does not end the peer's stream"
    assert pair.close("server") == OK
    assert client.recv(1) == b"", "SPEC 6: recv() may still read after close()"
    assert client.endedCleanly() is True
