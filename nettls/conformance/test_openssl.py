"""Against the reference: ``openssl s_client`` and ``s_server`` as peers.

Handshake and data both ways, the chain as sent, and the secure defaults
of SPEC 8 that need the command line (no compression, no renegotiation).
Skipped where the openssl command line is missing; the protocol floor and
CIPHER_ALL are checked against Python's ssl (``test_reference``).
"""

from __future__ import annotations

import pytest

from nettls.interfaces import ISessionInfo

from ._openssl import openssl_binary, s_client, s_server, write_identity
from .makers import DEFAULT_TIMEOUT, Background, bind_server, recv_exactly, set_timeout
from .pki import same_certificate

OK = 1


@pytest.fixture(autouse=True)
def _need_openssl():
    openssl_binary()


@pytest.fixture
def files(tmp_path, pki):
    return write_identity(tmp_path, pki.rsa)


def serve(harness, context, work):
    """Accept one connection on a session of ``context`` in a thread and run
    ``work(session, socket)`` there; returns the port and the thread."""
    listener, port = bind_server(harness.tcp)

    def run():
        sock = harness.tcp_kit.TCPSocket()
        try:
            sock.accept(listener)
        finally:
            listener.unbind()
        harness.callback(sock.disconnect)
        set_timeout(sock, DEFAULT_TIMEOUT)
        try:
            return work(harness.kit.TLS(context), sock)
        finally:
            sock.disconnect()

    return port, Background(run, name="session server")


def connect_to(harness, port, context):
    """A client session connected to loopback ``port``; returns it."""
    sock = harness.tcp_kit.TCPSocket()
    harness.callback(sock.disconnect)
    set_timeout(sock, DEFAULT_TIMEOUT)
    sock.connect("127.0.0.1", port)
    session = harness.kit.TLS(context)
    assert session.connect(sock) == OK
    return session


def _echo_once(session, sock):
    assert session.accept(sock) == OK
    got = recv_exactly(session, 5)
    assert session.send(b"pong\n") == 5
    assert session.close() == OK
    return got


@pytest.mark.clause("6.handshake")
@pytest.mark.parametrize("protocol", ["default", "tls1_2"])
def test_openssl_client_to_session_server(harness, pki, files, protocol):
    port, server = serve(harness, harness.kit.server_context(pki.rsa), _echo_once)
    extra = ["-ign_eof"] + (["-tls1_2"] if protocol == "tls1_2" else [])
    with s_client(port, files, *extra) as client:
        client.wait_for(r"Verify return code")
        client.write(b"ping\n")
        assert server.join() == b"ping\n"
        client.wait_for(r"pong")
        client.close_input()
        client.wait()
        out = client.output
    assert "Verify return code: 0 (ok)" in out, "the server's chain did not verify in openssl"
    assert ("TLSv1.3" if protocol == "default" else "TLSv1.2") in out


@pytest.mark.clause("6.peer-chain")
def test_session_client_to_openssl_server(harness, pki, files):
    proc, port = s_server(files)
    with proc:
        client = connect_to(harness, port, harness.kit.client_context())
        chain = client.getPeerCertChain()
        assert len(chain) == 2 and same_certificate(chain[0], pki.rsa.cert_pem)
        assert same_certificate(chain[1], pki.rsa.chain_pems[0])
        assert client.send(b"hello world\n") == 12
        assert recv_exactly(client, 12) == b"dlrow olleh\n"
        if ISessionInfo.providedBy(client):
            assert client.getProtocolVersion() == "TLSv1.3"
        assert client.close() == OK


@pytest.mark.clause("8.secure-defaults")
def test_no_compression(harness, pki, files):
    port, server = serve(harness, harness.kit.server_context(pki.rsa), _echo_once)
    with s_client(port, files, "-ign_eof", "-tls1_2") as client:
        client.wait_for(r"Verify return code")
        client.write(b"ping\n")
        server.join()
        client.close_input()
        client.wait()
        assert "Compression: NONE" in client.output


@pytest.mark.clause("8.secure-defaults")
def test_no_renegotiation(harness, pki, files):
    def read_after_renegotiation(session, sock):
        assert session.accept(sock) == OK
        return session.recv(6)  # b"" when the renegotiation broke the session

    port, server = serve(harness, harness.kit.server_context(pki.rsa), read_after_renegotiation)
    with s_client(port, files, "-tls1_2") as client:
        client.wait_for(r"Verify return code")
        client.write(b"R\n")  # s_client: renegotiate
        client.wait_for(r"RENEGOTIATING")
        try:
            client.write(b"hello\n")
        except OSError:
            pass  # s_client already gave up: refused
        got = server.join()
    assert got != b"hello\n", "the server renegotiated and went on"
