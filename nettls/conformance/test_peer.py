"""SPEC 6: getPeerCertificate() and getPeerCertChain() on both sides."""

from __future__ import annotations

import pytest

from .checks import check_peer_certificates
from .pki import same_certificate


def _assert_chain(chain, expected):
    assert isinstance(chain, list), f"getPeerCertChain() returned {type(chain).__name__}, not a list"
    assert all(isinstance(p, str) for p in chain), "getPeerCertChain() items are PEM str"
    assert len(chain) == len(expected), f"the chain has {len(chain)} certificates, the peer sent {len(expected)}"
    for i, (got, want) in enumerate(zip(chain, expected)):
        assert same_certificate(got, want), f"chain[{i}] is not the certificate the peer sent at that place"


@pytest.mark.clause("6.peer-certificate")
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_client_sees_server_leaf(harness, pki, mode, kind):
    identity = pki.identity(kind)
    pair = harness.tls_pair(mode, identity=identity)
    leaf = pair.client.getPeerCertificate()
    assert isinstance(leaf, str) and "-----BEGIN CERTIFICATE-----" in leaf
    assert same_certificate(leaf, identity.cert_pem)


@pytest.mark.clause("6.peer-chain")
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_client_sees_chain_as_sent(harness, pki, mode, kind):
    identity = pki.identity(kind)
    pair = harness.tls_pair(mode, identity=identity)
    chain = pair.client.getPeerCertChain()
    _assert_chain(chain, [identity.cert_pem, *identity.chain_pems])
    assert same_certificate(chain[0], pair.client.getPeerCertificate())


@pytest.mark.clause("6.peer-chain")
@pytest.mark.parametrize("sent", ["leaf-only", "with-root", "two-intermediates"])
def test_chain_order_is_kept(harness, pki, mode, sent):
    kit = harness.kit
    identity = pki.path_length if sent == "two-intermediates" else pki.ec
    ctx = kit.server_context(identity, send_chain=False)
    extra = {
        "leaf-only": [],
        "with-root": [*identity.chain_pems, identity.root.cert_pem],
        "two-intermediates": identity.chain_pems,
    }[sent]
    if extra:
        ctx.setCertificateChain(extra)
    pair = harness.tls_pair(mode, server_context=ctx)
    _assert_chain(pair.client.getPeerCertChain(), [identity.cert_pem, *extra])


@pytest.mark.clause("6.peer-chain")
def test_server_sees_no_client_chain(harness, mode):
    pair = harness.tls_pair(mode)
    assert pair.server.getPeerCertificate() is None
    assert pair.server.getPeerCertChain() == []


@pytest.mark.clause("6.peer-certificate")
def test_nothing_before_the_handshake(kit):
    session = kit.TLS(kit.client_context())
    assert session.getPeerCertificate() is None
    assert session.getPeerCertChain() == []


@pytest.mark.clause("6.peer-certificate")
def test_peer_certificate_at_every_moment(harness, mode):
    check_peer_certificates(harness, mode)


@pytest.mark.clause("8.secure-defaults")
def test_no_client_certificate_requested(harness, pki, mode):
    """A client whose context holds a certificate is not asked for it."""
    kit = harness.kit
    client_ctx = kit.client_context()
    client_ctx.setCertificate(pki.client.cert_pem, pki.client.key_pem())
    pair = harness.tls_pair(mode, client_context=client_ctx)
    assert pair.server.getPeerCertificate() is None
    assert pair.server.getPeerCertChain() == []
