"""Two things mbed TLS 2.28 does not do by itself, made good by the engine:

- it takes a handshake message only whole, in one record of at most
  16 KiB: a message split across records (legal, RFC 5246 6.2.1) is
  re-framed for it, and one larger than 16 KiB is refused at once, with a
  reason and a fatal alert, instead of failing on an error code or waiting;
- python-mbedtls resets the connection on the peer's close_notify, after
  which mbed TLS can write nothing: the engine writes its close_notify just
  before mbed TLS reads the peer's alert, and ``close()`` sends it.

Real peers: Python's ``ssl`` (OpenSSL) over memory buffers and over
loopback sockets.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from pathlib import Path

import pytest

pytest.importorskip("nettls_mbedtls", reason="the nettls-mbedtls plugin is not installed: pip install -e plugins/nettls-mbedtls")

import nettls
from nettls.components.kit import EngineError, context_config
from nettls.conformance import make_pki
from nettls.conformance.hello import client_hello
from nettls.pki import issue

from nettls_mbedtls import MbedTLSEngine, TLSContext, native_context
from nettls_mbedtls._wire import MAX_MESSAGE

#: Every wait on a peer is bounded.
WAIT = 10.0
#: A fatal handshake_failure alert, in the clear (the end of the record).
HANDSHAKE_FAILURE = b"\x02\x28"


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def _server(identity):
    ctx = TLSContext(TLSContext.SERVER)
    ctx.setCertificate(identity.cert_pem, identity.key_pem())
    ctx.setCertificateChain(identity.chain_pems)
    return MbedTLSEngine(native_context(context_config(ctx)), True)


def _client():
    return MbedTLSEngine(native_context(context_config(TLSContext(TLSContext.CLIENT))), False)


def _resplit(data: bytes, size: int) -> bytes:
    """``data``'s handshake records with their messages split into records
    of ``size`` bytes; other records as they were."""
    out, body, version, pos = b"", b"", b"\x03\x03", 0
    while pos < len(data):
        kind, length = data[pos], int.from_bytes(data[pos + 3 : pos + 5], "big")
        record = data[pos : pos + 5 + length]
        if kind == 22:
            body += record[5:]
            version = record[1:3]
        else:
            out += _records(body, version, size) + record
            body = b""
        pos += 5 + length
    return out + _records(body, version, size)


def _records(body: bytes, version: bytes, size: int) -> bytes:
    return b"".join(bytes([22]) + version + len(body[i : i + size]).to_bytes(2, "big") + body[i : i + size] for i in range(0, len(body), size))


def _ssl_memory(server_side: bool, ctx: ssl.SSLContext):
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    return ctx.wrap_bio(incoming, outgoing, server_side=server_side), incoming, outgoing


def _python_client():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _drive(engine, obj, incoming, outgoing, split: int | None = None) -> None:
    """Handshake ``engine`` with an ``ssl`` object, in at most 20 rounds;
    the ``ssl`` side's flights re-framed into records of ``split`` bytes."""
    for _ in range(20):
        try:
            obj.do_handshake()
            peer_done = True
        except ssl.SSLWantReadError:
            peer_done = False
        flight = outgoing.read()
        engine.feed(_resplit(flight, split) if split and flight else flight)
        done = engine.handshake()
        incoming.write(engine.output())
        if done and peer_done:
            return
    raise AssertionError("the handshake did not finish in 20 rounds")


# -- handshake messages and mbed TLS's input buffer ------------------------------------------


@pytest.mark.parametrize("split", [100, 250])
def test_a_client_hello_split_across_records_is_taken(pki, split):
    """OpenSSL's ClientHello in records of ``split`` bytes: mbed TLS alone
    refuses it ("Processing of the ClientHello handshake message failed")."""
    server = _server(pki.ec)
    obj, incoming, outgoing = _ssl_memory(False, _python_client())
    _drive(server, obj, incoming, outgoing, split)
    obj.write(b"over split records")
    server.feed(outgoing.read())
    assert server.read(100) == b"over split records"
    assert server.version() == obj.version() == "TLSv1.2"


def test_a_server_flight_split_across_records_is_taken(pki):
    """The server's Certificate message spread over many small records."""
    client = _client()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    folder = Path(tempfile.mkdtemp(prefix="nettls-mbedtls-"))
    try:
        (folder / "id.pem").write_text(pki.rsa.key_pem() + pki.rsa.cert_pem + "".join(pki.rsa.chain_pems))
        ctx.load_cert_chain(folder / "id.pem")
    finally:
        (folder / "id.pem").unlink()
        folder.rmdir()
    obj, incoming, outgoing = _ssl_memory(True, ctx)
    assert client.handshake() is False
    incoming.write(client.output())
    _drive(client, obj, incoming, outgoing, split=300)
    assert len(client.peer_chain()) == 1 + len(pki.rsa.chain_pems), "the chain read off the re-framed records"


@pytest.mark.parametrize("size", [MAX_MESSAGE + 4, 20_000, 40_000])
def test_a_client_hello_too_large_for_mbed_tls_is_refused_at_once(pki, size):
    """A legal ClientHello over 16 KiB: refused as soon as its header says
    how large it is, with a handshake_failure alert and the reason; its
    first record is all the engine needs (it never waits for the rest)."""
    server = _server(pki.ec)
    hello = client_hello(size)
    first = 5 + int.from_bytes(hello[3:5], "big")
    server.feed(hello[:first])
    with pytest.raises(EngineError, match=rf"ClientHello handshake message is {size} bytes.*at most {MAX_MESSAGE}"):
        server.handshake()
    alert = server.output()
    assert alert[:1] == b"\x15" and alert.endswith(HANDSHAKE_FAILURE), alert.hex()


def test_the_largest_client_hello_mbed_tls_takes(pki):
    """A ClientHello of exactly 16 KiB (header included), which must span two
    records, gets mbed TLS's answer: it is a ServerHello or an alert, never
    the engine's refusal."""
    server = _server(pki.ec)
    server.feed(client_hello(MAX_MESSAGE))
    try:
        server.handshake()
    except EngineError as exc:
        assert "at most" not in str(exc)
    assert server.output()[:1] in (b"\x15", b"\x16")


def test_a_certificate_message_too_large_is_refused_with_an_alert():
    """A server whose Certificate message is over 16 KiB (a leaf with 1,000
    names): the mbedtls client refuses it with the reason and an alert."""
    leaf = issue("big", names=[f"host{i}.example.com" for i in range(1000)])
    folder = Path(tempfile.mkdtemp(prefix="nettls-mbedtls-"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        (folder / "id.pem").write_text(leaf.key_pem + leaf.cert_pem)
        ctx.load_cert_chain(folder / "id.pem")
    finally:
        (folder / "id.pem").unlink()
        folder.rmdir()
    obj, incoming, outgoing = _ssl_memory(True, ctx)
    client = _client()
    client.handshake()
    incoming.write(client.output())
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    client.feed(outgoing.read())
    with pytest.raises(EngineError, match=r"Certificate handshake message is \d+ bytes"):
        client.handshake()
    incoming.write(client.output())
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE|handshake failure"):
        obj.do_handshake()


# -- close_notify in reply ---------------------------------------------------------------------


def test_close_after_the_peers_close_notify_sends_ours(pki):
    """An OpenSSL client's ``unwrap()`` sends close_notify and waits for the
    server's; the mbedtls server's ``close()`` after reading the end of the
    stream must send it (mbed TLS alone has reset the connection by then)."""
    TCPServerSocket = nettls.resolve("net.TCPServerSocket")
    TCPSocket = nettls.resolve("net.TCPSocket")
    listener = TCPServerSocket()
    listener.bind("127.0.0.1", 0)
    port = listener.getLocalEndpoint().port
    outcome: dict[str, object] = {}

    def python_client() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
            try:
                tls = _python_client().wrap_socket(raw)
                tls.sendall(b"bye")
                tls.unwrap()
                outcome["client"] = "got the server's close_notify"
            except (ssl.SSLError, OSError) as exc:
                outcome["client"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=python_client, daemon=True)
    thread.start()
    sock = TCPSocket()
    try:
        assert sock.accept(listener) is True
        sock.setTimeout(WAIT)
        ctx = TLSContext(TLSContext.SERVER)
        ctx.setCertificate(pki.ec.cert_pem, pki.ec.key_pem())
        session = nettls.resolve("net.TLS", component="mbedtls")(ctx)
        assert session.accept(sock) == session.OK
        assert session.recv(3) == b"bye"
        assert session.recv(1) == b""
        assert session.endedCleanly() is True
        assert session.close() == session.OK
    finally:
        sock.disconnect()
        listener.unbind()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert outcome["client"] == "got the server's close_notify"


def test_close_notify_reply_at_the_engine(pki):
    """Engine to engine: the reply comes out of ``shutdown()`` after the
    peer's close_notify, and the peer reads it as a clean end."""
    server, client = _server(pki.rsa), _client()
    for _ in range(20):
        done = client.handshake(), server.handshake()
        moved = False
        for src, dst in ((client, server), (server, client)):
            out = src.output()
            if out:
                dst.feed(out)
                moved = True
        if all(done) and not moved:
            break
    client.write(memoryview(b"last"))
    client.shutdown()
    server.feed(client.output())
    assert server.read(10) == b"last"
    assert server.read(10) == b""
    server.shutdown()
    reply = server.output()
    assert reply[:1] == b"\x15", "no close_notify in reply"
    client.feed(reply)
    assert client.read(10) == b""
    server.shutdown()
    assert server.output() == b"", "close_notify is sent once"
