"""SPEC 10 (interop) and SPEC 6 (any component's context and store).

With components A and B available: every ordered (server, client) pair
exchanges data and checks the chain, and every (session, context) pair,
with stores of the context's component, completes a handshake. A pair is
run when it involves a selected component.
"""

from __future__ import annotations

import pytest

from nettls import VerifyStatus

from ._support import payload
from .makers import TLSKit
from .pki import same_certificate

OK = 1


@pytest.mark.clause("10.interop-data")
def test_server_client_pair(pair_harness, pki, server_component, client_component):
    server_kit, client_kit = TLSKit.of(server_component), TLSKit.of(client_component)
    pair = pair_harness.tls_pair(server_kit=server_kit, client_kit=client_kit, identity=pki.rsa)
    request, response = payload(50_000, 40), payload(150_000, 41)
    assert pair.exchange(request, response) == (request, response)
    chain = pair.client.getPeerCertChain()
    assert [same_certificate(a, b) for a, b in zip(chain, [pki.rsa.cert_pem, *pki.rsa.chain_pems])] == [True, True]
    assert len(chain) == 2
    store = client_kit.store(pki.rsa.root.cert_pem)
    result = pair.client.verifyCertificate(store, pair.client.getPeerCertificate(), chain)
    assert result.status == VerifyStatus.OK, result.failedReason
    assert pair.close("client") == OK
    assert pair.read_to_end("server") == b""


@pytest.mark.clause("10.interop-context")
def test_session_with_other_context(pair_harness, pki, session_component, context_component):
    sessions, contexts = TLSKit.of(session_component), TLSKit.of(context_component)
    pair = pair_harness.tls_pair(
        server_kit=sessions,
        client_kit=sessions,
        server_context=contexts.server_context(pki.ec),
        client_context=contexts.client_context(session_kit=sessions),
    )
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")
    store = contexts.store(pki.ec.root.cert_pem)
    result = pair.client.verifyCertificate(store, pair.client.getPeerCertificate(), pair.client.getPeerCertChain())
    assert result.status == VerifyStatus.OK, result.failedReason


@pytest.mark.clause("6.context-any")
def test_context_and_store_of_another_component(pair_harness, pki, session_component, context_component):
    """Everything a context and a store carry reaches a session of another
    component: key in traditional form, chain, cipher set, trusted roots."""
    sessions, contexts = TLSKit.of(session_component), TLSKit.of(context_component)
    server_ctx = contexts.server_context(pki.rsa, key_form="traditional", cipher_set=contexts.TLSContext.CIPHER_ALL)
    client_ctx = contexts.client_context(cipher_set=contexts.TLSContext.CIPHER_ALL, session_kit=sessions)
    pair = pair_harness.tls_pair("nonblocking", server_kit=sessions, client_kit=sessions, server_context=server_ctx, client_context=client_ctx)
    assert len(pair.client.getPeerCertChain()) == 2
    store = contexts.TLSCertStore()
    assert store.addCertificate(pki.rsa.root.cert_pem.encode()) is True
    verifier = sessions.TLS(contexts.client_context(session_kit=sessions))
    assert verifier.verifyCertificate(store, pki.rsa.cert_pem, pki.rsa.chain_pems).status == VerifyStatus.OK
    result = verifier.verifyCertificate(store, pki.ec.cert_pem, pki.ec.chain_pems)
    assert result.status == VerifyStatus.FAIL and result.failedReason
