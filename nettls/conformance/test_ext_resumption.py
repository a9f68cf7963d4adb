"""TLS extensions: session resumption, and how a stream ended (clean or truncated)."""

from __future__ import annotations

import contextlib
import socket
import ssl
from typing import Any, Iterator

import pytest

import nettls
from nettls.interfaces import IEndOfStream, IResumption, IServerName, IVerifiedChain, IVerifyOnConnect, VerifyStatus

from ._support import require_interface, reset
from .makers import BLOCKING, DEFAULT_TIMEOUT, LOOPBACK, Background, TLSKit, set_timeout
from .pki import Identity, same_certificate

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


# --- resumption data is bound to its server name and verification (SPEC 14) ------------------


@contextlib.contextmanager
def _reference_server(identity: Identity, version: str, directory: Any, count: int) -> Iterator[tuple[int, list[str]]]:
    """Python's ``ssl`` serving ``count`` connections of at most ``version``
    on loopback: each gets b"hi" and is read for one byte (TLS 1.3 tickets
    go out with the data). Yields the port and what each connection was:
    "full", "resumed", "failed", or "nothing" (the client sent no byte)."""
    (directory / "chain.pem").write_text(identity.cert_pem + "".join(identity.chain_pems))
    (directory / "key.pem").write_text(identity.key_pem())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion[version.replace(".", "_")]
    ctx.load_cert_chain(str(directory / "chain.pem"), str(directory / "key.pem"))
    outcomes: list[str] = []
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(DEFAULT_TIMEOUT)

    def serve() -> None:
        for _ in range(count):
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(DEFAULT_TIMEOUT)
                if not conn.recv(1, socket.MSG_PEEK):
                    outcomes.append("nothing")
                    continue
                try:
                    with ctx.wrap_socket(conn, server_side=True) as tls:
                        outcomes.append("resumed" if tls.session_reused else "full")
                        tls.sendall(b"hi")
                        tls.recv(1)
                except (OSError, ssl.SSLError):
                    outcomes.append("failed")

    server = Background(serve, name=f"{version} reference server")
    try:
        yield listener.getsockname()[1], outcomes
        server.join()
    finally:
        listener.close()


def _session(harness, ctx, name: str | None, data: Any = None) -> Any:
    """A client session of ``ctx`` named ``name``, with ``data`` to resume, not connected."""
    session = harness.kit.TLS(ctx)
    require_interface(session, IServerName, "server names")
    if name is not None:
        session.setServerName(name)
    if data is not None:
        session.setResumptionData(data)
    return session


def _connect(harness, session: Any, port: int) -> Any:
    sock = harness.tcp_kit.TCPSocket()
    harness.callback(sock.disconnect)
    set_timeout(sock, DEFAULT_TIMEOUT)
    sock.connect(LOOPBACK, port)
    assert session.connect(sock) == OK
    assert session.recv(2) == b"hi"
    assert session.send(b".") == 1
    return session


def _verifying_context(kit: TLSKit, *roots: str, check_host_name: bool = True) -> Any:
    ctx = kit.TLSContext(kit.TLSContext.CLIENT)
    require_interface(ctx, IVerifyOnConnect, "verification on connect")
    if roots:
        ctx.setVerifyOnConnect(kit.store(*roots), check_host_name)
    return ctx


@pytest.mark.clause("11.resumption")
@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_resumption_data_is_bound_to_its_name_and_verification(harness, pki, tmp_path, version):
    kit = harness.kit
    require_interface(kit.TLS(kit.client_context()), IResumption, "session resumption")
    root = pki.ec.root.cert_pem
    ctx = _verifying_context(kit, root)
    with _reference_server(pki.ec, version, tmp_path, 2) as (port, outcomes):
        first = _connect(harness, _session(harness, ctx, "localhost"), port)
        assert first.getProtocolVersion() == version
        data = first.getResumptionData()
        assert data is not None
        again = _connect(harness, _session(harness, ctx, "LOCALHOST.", data), port)
        assert again.isResumed() is True, "the same name and settings resume"
        assert again.getVerifyResult() == VerifyStatus(VerifyStatus.OK), "the first session's verification stands"
        if IVerifiedChain.providedBy(again):
            chain = again.getVerifiedChain()
            assert len(chain) == 3 and all(same_certificate(a, b) for a, b in zip(chain, pki.ec.path_pems))
    assert outcomes == ["full", "resumed"]

    # Another name: refused, whichever of the two calls comes second.
    with pytest.raises(ValueError, match="'localhost'"):
        _session(harness, ctx, "127.0.0.1", data)
    session = _session(harness, ctx, None, data)
    with pytest.raises(ValueError, match="'localhost'"):
        session.setServerName("127.0.0.1")
    # Other verification settings: refused, saying so.
    others = (
        _verifying_context(kit, root, pki.rsa.root.cert_pem),  # another trust store
        _verifying_context(kit, root, check_host_name=False),  # no host-name check
        _verifying_context(kit),  # no verification at all
    )
    for other in others:
        with pytest.raises(ValueError, match="verification settings"):
            _session(harness, other, "localhost", data)


@pytest.mark.clause("11.resumption")
@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_data_for_a_name_does_not_resume_a_session_without_one(harness, pki, tmp_path, version):
    """The setters cannot see it (a name may still come): connect() refuses,
    before a byte is sent."""
    kit = harness.kit
    require_interface(kit.TLS(kit.client_context()), IResumption, "session resumption")
    ctx = _verifying_context(kit, pki.ec.root.cert_pem, check_host_name=False)
    with _reference_server(pki.ec, version, tmp_path, 2) as (port, outcomes):
        data = _connect(harness, _session(harness, ctx, "localhost"), port).getResumptionData()
        assert data is not None
        session = _session(harness, ctx, None, data)
        sock = harness.tcp_kit.TCPSocket()
        harness.callback(sock.disconnect)
        set_timeout(sock, DEFAULT_TIMEOUT)
        sock.connect(LOOPBACK, port)
        with pytest.raises(nettls.TLSHandshakeError, match="'localhost'"):
            session.connect(sock)
        sock.disconnect()
    assert outcomes == ["full", "nothing"]
    assert session.isResumed() is False


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
