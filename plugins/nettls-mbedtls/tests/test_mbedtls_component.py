"""What the conformance suite cannot see: the mbed TLS engine's handling
of python-mbedtls (ring buffers, resets, the chain read off the wire) and
the component's packaging.

The contract itself is checked by the conformance suite:
``pytest --pyargs nettls.conformance --nettls-component mbedtls``.
"""

from __future__ import annotations

import importlib
import ssl
import sys

import pytest

pytest.importorskip("nettls_mbedtls", reason="the nettls-mbedtls plugin is not installed: pip install -e plugins/nettls-mbedtls")
from cryptography.hazmat.primitives.asymmetric import ed25519

import nettls
from nettls import CertificateError
from nettls.components.kit import context_config
from nettls.components.kit import der_to_pem
from nettls.components.kit import EngineEOF, EngineError
from nettls.conformance import make_pki, same_certificate
from nettls.pki import issue
from nettls.registry import Registry

import nettls_mbedtls
from nettls_mbedtls import MbedTLSEngine, TLSContext, native_context
from nettls_mbedtls._component import CIPHERS_ALL, CIPHERS_DEFAULT


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def _server_context(identity):
    ctx = TLSContext(TLSContext.SERVER)
    ctx.setCertificate(identity.cert_pem, identity.key_pem())
    ctx.setCertificateChain(identity.chain_pems)
    return ctx


def _engines(pki, identity=None):
    server_ctx = _server_context(identity or pki.rsa)
    server = MbedTLSEngine(native_context(context_config(server_ctx)), True)
    client = MbedTLSEngine(native_context(context_config(TLSContext(TLSContext.CLIENT))), False)
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
    for name in nettls_mbedtls.__all__:
        assert getattr(nettls_mbedtls, name) is not None, name


def test_registered_through_the_entry_point():
    status = {s.name: s for s in nettls.registry.components()}["mbedtls"]
    assert status.available, status.reason
    assert status.component is nettls_mbedtls.COMPONENT
    assert nettls.resolve("net.TLS", component="mbedtls") is nettls_mbedtls.TLS


def test_unavailable_with_the_reason_when_python_mbedtls_is_missing(monkeypatch):
    for name in list(sys.modules):
        if name == "nettls_mbedtls" or name.startswith("nettls_mbedtls."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mbedtls", None)  # import mbedtls.tls -> ImportError
    with pytest.raises(ImportError, match=r"python-mbedtls"):
        importlib.import_module("nettls_mbedtls")
    status = {s.name: s for s in Registry().components()}["mbedtls"]
    assert not status.available
    assert "the mbedtls component needs the python-mbedtls package" in status.reason


# -- contexts ------------------------------------------------------------------------


def test_cipher_sets():
    assert "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA" in CIPHERS_ALL  # SPEC 8's CIPHER_ALL has it
    assert not [s for s in CIPHERS_ALL if "PSK" in s or "NULL" in s]
    assert "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256" in CIPHERS_DEFAULT
    weak = [s for s in CIPHERS_DEFAULT if s.endswith("-SHA") or s.startswith(("TLS-RSA-", "TLS-ECDH-")) or "CCM" in s]
    assert weak == [], "CIPHER_DEFAULT is forward-secret AEAD or CBC with SHA-2 only"


def test_ed25519_key_is_refused_with_a_reason():
    """mbed TLS 2.28 has no Ed25519: setCertificate says so, not accept()."""
    leaf = issue("ed25519 leaf", key=ed25519.Ed25519PrivateKey.generate())
    ctx = TLSContext(TLSContext.SERVER)
    with pytest.raises(CertificateError, match="refused by mbed TLS"):
        ctx.setCertificate(leaf.cert_pem, leaf.key_pem)


# -- what the engine makes good ---------------------------------------------------------


def test_peer_chain_as_sent_on_the_wire(pki):
    server, client = _engines(pki, pki.path_length)
    _handshake(server, client)
    chain = [der_to_pem(d) for d in client.peer_chain()]
    expected = [pki.path_length.cert_pem, *pki.path_length.chain_pems]
    assert len(chain) == 3 and all(same_certificate(a, b) for a, b in zip(chain, expected))
    assert server.peer_chain() == []


def test_close_notify_latches(pki):
    """python-mbedtls resets the connection on the peer's close_notify; the
    engine reads b"" from then on, keeps what the session may still ask
    for, and never lets mbed TLS start a new handshake."""
    server, client = _engines(pki)
    _handshake(server, client)
    client.write(memoryview(b"last words"))
    client.shutdown()
    server.feed(client.output())
    assert _read_all(server) == (b"last words", b"")
    for _ in range(3):
        assert server.read(10) == b""
    assert server.output() == b"", "mbed TLS wrote something after the reset"
    assert server.version() == "TLSv1.2" and server.cipher().startswith("TLS_ECDHE_")
    with pytest.raises(EngineError, match="close_notify"):
        server.write(memoryview(b"too late"))
    server.shutdown()
    assert server.output()[:1] == b"\x15", "the close_notify written before the reset (test_limits_and_close)"
    assert client.peer_chain(), "the client's peer chain went with the reset"


def test_truncation_is_an_eof_error(pki):
    server, client = _engines(pki)
    _handshake(server, client)
    client.write(memoryview(b"cut short"))
    server.feed(client.output())
    assert server.read(100) == b"cut short"
    assert server.read(100) is None
    server.feed_eof()
    with pytest.raises(EngineEOF):
        server.read(100)


def test_end_of_stream_fails_the_handshake(pki):
    _server, client = _engines(pki)
    assert client.handshake() is False
    client.feed_eof()
    with pytest.raises(EngineError, match="closed the connection during the handshake"):
        client.handshake()


def test_more_than_the_rings_hold(pki):
    """Ciphertext beyond the 32 KiB input ring waits in the engine; one
    write of a mebibyte goes out one record at a time."""
    server, client = _engines(pki)
    _handshake(server, client)
    data = bytes(range(256)) * 4096
    client.write(memoryview(data))
    ciphertext = client.output()
    assert len(ciphertext) > 1 << 20
    server.feed(ciphertext)  # all at once: 32 times the ring
    assert _read_all(server)[0] == data


def test_a_failure_is_repeated_without_touching_mbed_tls(pki):
    server, client = _engines(pki)
    _handshake(server, client)
    client.write(memoryview(b"x" * 100))
    record = bytearray(client.output())
    record[-1] ^= 1  # break the record's MAC
    server.feed(bytes(record))
    with pytest.raises(EngineError) as first:
        server.read(100)
    alert = server.output()
    assert alert[:1] == b"\x15", "mbed TLS's fatal alert was not handed over"
    for call in (lambda: server.read(100), lambda: server.write(memoryview(b"y")), server.handshake):
        with pytest.raises(EngineError) as again:
            call()
        assert str(again.value) == str(first.value)
    assert server.output() == b""


def test_stdlib_peer_sees_mbedtls_chain(pki):
    """The chain read off the wire is what an OpenSSL client sees too."""
    server = MbedTLSEngine(native_context(context_config(_server_context(pki.ec))), True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ctx.wrap_bio(incoming, outgoing)
    for _ in range(10):
        try:
            client.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        server.feed(outgoing.read())
        server.handshake()
        incoming.write(server.output())
    server.feed(outgoing.read())
    assert server.handshake() is True
    ders = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in client._sslobj.get_unverified_chain()]  # type: ignore[attr-defined]
    assert len(ders) == 2 and same_certificate(der_to_pem(ders[1]), pki.ec.chain_pems[0])
    assert server.version() == "TLSv1.2"
