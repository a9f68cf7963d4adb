"""What the conformance suite cannot see: the rustls engine's fixes for
rtls, the private rtls hooks it relies on, and the component's packaging.

The contract itself is checked by the conformance suite:
``pytest --pyargs nettls.conformance --nettls-component rustls``.
"""

from __future__ import annotations

import importlib
import ssl
import sys

import pytest
from cryptography.hazmat.primitives import serialization

pytest.importorskip("nettls_rustls", reason="the nettls-rustls plugin is not installed: pip install -e plugins/nettls-rustls")

import nettls
from nettls.components.kit import context_config
from nettls.components.kit import EngineEOF, EngineError
from nettls.conformance import make_pki, same_certificate
from nettls.components.kit import der_to_pem
from nettls.registry import Registry

import nettls_rustls
from nettls_rustls import RustlsEngine, TLSContext, native_context


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def _client_context(pki):
    """A CLIENT context trusting the suite's roots: a rustls client verifies
    the chain in the handshake (see the component's docstring)."""
    ctx = TLSContext(TLSContext.CLIENT)
    store = nettls_rustls.TLSCertStore()
    store.addCertificate(pki.rsa.root.cert_pem)
    store.addCertificate(pki.ec.root.cert_pem)
    ctx.setVerifyOnConnect(store, checkHostName=False)
    return ctx


def _engines(pki, identity=None, *, client_ctx=None):
    identity = identity or pki.rsa
    server_ctx = TLSContext(TLSContext.SERVER)
    server_ctx.setCertificate(identity.cert_pem, identity.key_pem())
    server_ctx.setCertificateChain(identity.chain_pems)
    client_ctx = client_ctx or _client_context(pki)
    server = RustlsEngine(native_context(context_config(server_ctx)), True)
    client = RustlsEngine(native_context(context_config(client_ctx)), False)
    return server, client


def _shuttle(a, b):
    moved = False
    for src, dst in ((a, b), (b, a)):
        out = src.output()
        if out:
            dst.feed(out)
            moved = True
    return moved


def _handshake(server, client):
    for _ in range(20):
        done = client.handshake(), server.handshake()
        moved = _shuttle(server, client)
        if all(done) and not moved:
            return
    raise AssertionError("the handshake did not finish in 20 rounds")


def _read_all(engine, limit=1 << 22):
    out = bytearray()
    while len(out) <= limit:
        data = engine.read(65536)
        if not data:
            return bytes(out), data
        out += data
    raise AssertionError("read() never stopped")


# -- packaging ---------------------------------------------------------------------


def test_public_names():
    for name in nettls_rustls.__all__:
        assert getattr(nettls_rustls, name) is not None, name


def test_registered_through_the_entry_point():
    status = {s.name: s for s in nettls.registry.components()}["rustls"]
    assert status.available, status.reason
    assert status.component is nettls_rustls.COMPONENT
    assert status.origin == "entry point rustls = nettls_rustls:COMPONENT"
    assert nettls.resolve("net.TLS", component="rustls") is nettls_rustls.TLS


def test_unavailable_with_the_reason_when_rtls_is_missing(monkeypatch):
    for name in list(sys.modules):
        if name == "nettls_rustls" or name.startswith("nettls_rustls."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rtls", None)  # import rtls -> ImportError
    with pytest.raises(ImportError, match=r"rtls"):
        importlib.import_module("nettls_rustls")
    status = {s.name: s for s in Registry().components()}["rustls"]
    assert not status.available
    assert "the rustls component needs the rtls package (pip install rtls)" in status.reason
    assert {s.name for s in Registry().components() if s.available} >= {"tcp", "stdlib"}


# -- what the engine makes good ---------------------------------------------------------


def test_close_notify_is_a_clean_end_not_a_truncation(pki):
    """rtls raises SSLWantReadError, then SSLEOFError, after the peer's
    close_notify: the engine reads b"" as ssl.SSLObject does."""
    server, client = _engines(pki)
    _handshake(server, client)
    client.write(memoryview(b"last words"))
    client.shutdown()
    server.feed(client.output())
    assert _read_all(server) == (b"last words", b"")
    server.feed_eof()  # the TCP close after close_notify changes nothing
    assert server.read(100) == b""
    assert server.read(100) == b""


def test_truncation_is_an_eof_error(pki):
    server, client = _engines(pki)
    _handshake(server, client)
    client.write(memoryview(b"cut short"))
    server.feed(client.output())
    assert server.read(100) == b"cut short"
    assert server.read(100) is None  # needs input
    server.feed_eof()
    with pytest.raises(EngineEOF):
        server.read(100)


def test_end_of_stream_fails_the_handshake(pki):
    """rtls's do_handshake() raises SSLWantReadError for ever at the end of the stream."""
    _server, client = _engines(pki)
    assert client.handshake() is False
    client.feed_eof()
    with pytest.raises(EngineError, match="closed the connection during the handshake"):
        client.handshake()


def test_one_write_of_a_mebibyte_arrives_whole(pki):
    """rtls's write() takes at most 64 KiB per call and says so in its return."""
    server, client = _engines(pki)
    _handshake(server, client)
    data = bytes(range(256)) * 4096
    client.write(memoryview(data))
    server.feed(client.output())
    assert _read_all(server)[0] == data


def test_failed_read_hands_over_the_alert(pki):
    server, client = _engines(pki)
    _handshake(server, client)
    client.write(memoryview(b"x" * 100))
    record = bytearray(client.output())
    record[-1] ^= 1  # break the record's authentication tag
    server.feed(bytes(record))
    with pytest.raises(EngineError) as info:
        server.read(100)
    assert not isinstance(info.value, EngineEOF)
    alert = server.output()
    assert alert, "rustls's fatal alert did not reach the output buffer"
    client.feed(alert)  # (encrypted under TLS 1.3)
    with pytest.raises(EngineError, match="(?i)alert"):
        client.read(100)


def test_peer_chain_is_der_leaf_first(pki):
    server, client = _engines(pki)
    _handshake(server, client)
    chain = [der_to_pem(d) for d in client.peer_chain()]
    assert [same_certificate(a, b) for a, b in zip(chain, [pki.rsa.cert_pem, *pki.rsa.chain_pems])] == [True, True]
    assert server.peer_chain() == []


def test_client_sends_no_server_name(pki):
    """Dana's connect() has no host name; rtls alone would send SNI "localhost"."""
    seen = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    from nettls.components.kit import private_file

    with private_file([pki.rsa.key_pem(), pki.rsa.cert_pem]) as path:
        ctx.load_cert_chain(path)
    ctx.sni_callback = lambda obj, name, c: seen.append(name)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = ctx.wrap_bio(incoming, outgoing, server_side=True)
    client = RustlsEngine(native_context(context_config(TLSContext(TLSContext.CLIENT))), False)
    client.handshake()
    incoming.write(client.output())
    with pytest.raises(ssl.SSLWantReadError):
        server.do_handshake()
    assert seen == [None]


def test_cipher_all_is_every_rustls_suite():
    ctx = TLSContext(TLSContext.CLIENT)
    ctx.setCipherSet(TLSContext.CIPHER_ALL)
    native_context(context_config(ctx))  # rtls accepts the OpenSSL string
    from rtls._ciphers import parse_cipher_string

    suites = parse_cipher_string(nettls_rustls._component.CIPHERS_ALL)
    assert suites and all("GCM" in s or "CHACHA20" in s for s in suites)


def test_client_context_always_verifies_the_chain(pki):
    """rtls's CERT_NONE skips the handshake signature too: a client never uses it."""
    import rtls

    for ctx in (TLSContext(TLSContext.CLIENT), _client_context(pki)):
        native = native_context(context_config(ctx))
        assert native.verify_mode == rtls.CERT_REQUIRED
        assert native.check_hostname is False


def test_client_without_any_roots_refuses_to_connect(pki, monkeypatch):
    """No verify-on-connect store and no system roots (this machine has
    some, so their search is made to find none): connect() says why."""
    import nettls

    monkeypatch.setattr(nettls_rustls._component, "system_trust", lambda: ((), None))
    native_context.cache_clear()
    try:
        server_sock = nettls.resolve("net.TCPServerSocket")()
        server_sock.bind("127.0.0.1", 0)
        client_sock = nettls.resolve("net.TCPSocket")()
        client_sock.connect("127.0.0.1", server_sock.getLocalEndpoint().port)
        session = nettls_rustls.TLS(TLSContext(TLSContext.CLIENT))
        with pytest.raises(nettls.TLSHandshakeError, match="setVerifyOnConnect"):
            session.connect(client_sock)
        client_sock.disconnect()
        server_sock.unbind()
    finally:
        native_context.cache_clear()


def test_truncation_after_our_close_is_still_a_truncation(pki):
    """After the local close_notify, data the peer sent is still handed out
    and a TCP close without its close_notify is a truncation, not a clean end
    (rtls's unwrap() made every later read a clean end)."""
    server, client = _engines(pki)
    _handshake(server, client)
    client.shutdown()
    server.feed(client.output())
    server.write(memoryview(b"late reply"))
    client.feed(server.output())  # the server's data, no close_notify
    client.feed_eof()
    assert client.read(100) == b"late reply"
    with pytest.raises(EngineEOF):
        client.read(100)


def _identity_with_names(pki, count):
    """The suite's EC identity reissued with ``count`` DNS names: a
    certificate message of about 25 bytes per name."""
    from nettls.pki import Issued, issue, new_key

    inter = pki.ec.intermediates[0]
    leaf = issue(
        "localhost",
        issuer=Issued(inter.cert, inter.key),
        key=new_key("ec"),
        names=["localhost", *(f"host-{i}.example" for i in range(count))],
    )
    return leaf


def test_a_large_certificate_message_completes_the_handshake(pki):
    """A ~30 KiB server certificate message, fed at once: rtls leaves what
    does not fit rustls's buffer in the input, which must not stall."""
    leaf = _identity_with_names(pki, 1600)
    pem = leaf.cert.public_bytes(serialization.Encoding.PEM).decode()
    assert len(leaf.cert.public_bytes(serialization.Encoding.DER)) > 24_000
    server_ctx = TLSContext(TLSContext.SERVER)
    server_ctx.setCertificate(pem, leaf.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode())
    server_ctx.setCertificateChain(pki.ec.chain_pems)
    server = RustlsEngine(native_context(context_config(server_ctx)), True)
    client = RustlsEngine(native_context(context_config(_client_context(pki))), False)
    assert client.handshake() is False
    server.feed(client.output())
    assert server.handshake() is False
    flight = server.output()
    assert len(flight) > 24_000
    client.feed(flight)
    # One call, as the session makes when the socket has nothing more: the
    # whole flight is here, so the client finishes (TLS 1.3) without waiting.
    assert client.handshake() is True, "the client waits for input it already has"
    assert client.peer_chain()[0] == leaf.cert.public_bytes(serialization.Encoding.DER)


def test_a_large_client_hello_gets_an_answer(pki):
    """A legal 40 KiB ClientHello (Python's ssl offering 160 ALPN names of
    250 bytes) to a rustls server engine, fed at once: it answers."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([chr(65 + i % 26) * 250 for i in range(160)])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    peer = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        peer.do_handshake()
    hello = outgoing.read()
    assert len(hello) > 40_000
    server, _client = _engines(pki)
    server.feed(hello)
    assert server.handshake() is False  # waits for the client's next flight
    assert server.output(), "the server did not answer the ClientHello"
