"""TLS extensions: the chain the handshake verified (``IVerifiedChain``),
beside the chain the peer sent (``getPeerCertChain``).

A peer may send certificates that have nothing to do with its path (a
root of another hierarchy, a stray intermediate); the library's
verification builds the path it trusts from what it needs. The verified
chain is that path, leaf to trust anchor, and is what decisions read.
"""

from __future__ import annotations

import pytest

from nettls.interfaces import IClientCertificates, IServerName, IVerifiedChain, IVerifyOnConnect

from ._support import require_interface
from .makers import BLOCKING
from .pki import same_certificate

OK = 1


def _same_chain(got: list[str], expected: list[str]) -> bool:
    return len(got) == len(expected) and all(same_certificate(a, b) for a, b in zip(got, expected))


def _unrelated(pki) -> list[str]:
    """Certificates of other hierarchies, sent after a real chain."""
    return [pki.untrusted.intermediates[0].cert_pem, pki.rsa.root.cert_pem]


@pytest.mark.clause("11.client-certificates")
def test_server_verified_chain_leaves_out_what_the_client_added(harness, pki, mode):
    kit = harness.kit
    server_ctx = kit.server_context(pki.rsa)
    require_interface(server_ctx, IClientCertificates, "client certificates")
    server_ctx.setClientCertificatePolicy(server_ctx.CLIENT_CERT_REQUIRE, kit.store(pki.client.root.cert_pem))
    client_ctx = kit.client_context(identity=pki.client)
    sent = [pki.client.cert_pem, *pki.client.chain_pems, *_unrelated(pki)]
    client_ctx.setCertificateChain(sent[1:])
    pair = harness.tls_pair(mode, server_context=server_ctx, client_context=client_ctx)
    require_interface(pair.server, IVerifiedChain, "the verified chain")
    assert _same_chain(pair.server.getPeerCertChain(), sent), "getPeerCertChain() is what the client sent"
    verified = pair.server.getVerifiedChain()
    assert _same_chain(verified, pki.client.path_pems), "leaf, intermediate, trust anchor: nothing else"
    assert pair.client.getVerifiedChain() == [], "the client verified nothing"
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")


@pytest.mark.clause("11.verify-on-connect")
def test_client_verified_chain_leaves_out_what_the_server_added(harness, pki, mode):
    kit = harness.kit
    client_ctx = kit.client_context()
    require_interface(client_ctx, IVerifyOnConnect, "verification on connect")
    client_ctx.setVerifyOnConnect(kit.store(pki.ec.root.cert_pem))
    server_ctx = kit.server_context(pki.ec, send_chain=False)
    sent = [pki.ec.cert_pem, *_unrelated(pki), *pki.ec.chain_pems]  # the strays first: order is the peer's
    server_ctx.setCertificateChain(sent[1:])
    pair = harness.tls_pair(mode, server_context=server_ctx, client_context=client_ctx, do_handshake=False)
    require_interface(pair.client, IServerName, "server names")
    require_interface(pair.client, IVerifiedChain, "the verified chain")
    pair.client.setServerName("localhost")
    assert pair.handshake() == (OK, OK)
    assert _same_chain(pair.client.getPeerCertChain(), sent)
    assert _same_chain(pair.client.getVerifiedChain(), pki.ec.path_pems)
    assert pair.server.getVerifiedChain() == []


@pytest.mark.clause("11.client-certificates")
def test_nothing_verified_nothing_listed(harness, pki):
    """[] before the handshake, without verification (whatever the library
    built for itself), and for a client that sent no certificate."""
    kit = harness.kit
    fresh = kit.TLS(kit.client_context())
    require_interface(fresh, IVerifiedChain, "the verified chain")
    assert fresh.getVerifiedChain() == []
    pair = harness.tls_pair(BLOCKING, identity=pki.ec)
    assert pair.client.getPeerCertChain() and pair.client.getVerifiedChain() == []
    assert pair.server.getVerifiedChain() == []
    server_ctx = kit.server_context(pki.rsa)
    require_interface(server_ctx, IClientCertificates, "client certificates")
    server_ctx.setClientCertificatePolicy(server_ctx.CLIENT_CERT_REQUEST, kit.store(pki.client.root.cert_pem))
    pair = harness.tls_pair(BLOCKING, server_context=server_ctx)
    assert pair.server.getPeerCertificate() is None and pair.server.getVerifiedChain() == []


@pytest.mark.clause("11.verify-on-connect")
def test_failed_verification_lists_nothing(harness, pki):
    kit = harness.kit
    client_ctx = kit.client_context()
    require_interface(client_ctx, IVerifyOnConnect, "verification on connect")
    client_ctx.setVerifyOnConnect(kit.store(pki.ec.root.cert_pem))
    pair = harness.tls_pair(BLOCKING, server_context=kit.server_context(pki.ec), client_context=client_ctx, do_handshake=False)
    require_interface(pair.client, IVerifiedChain, "the verified chain")
    pair.client.setServerName("www.example.com")
    server, client = pair.try_handshake()
    assert client != OK
    assert pair.client.getVerifiedChain() == []
