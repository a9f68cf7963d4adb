"""TLS extensions: client certificates (mutual TLS) and the system's trust store."""

from __future__ import annotations

import pytest

import nettls
from nettls.interfaces import IClientCertificates, IServerName, ISystemTrust, IVerifyOnConnect, IVerifyResult, VerifyStatus

from ._openssl import s_client, write_identity
from ._support import require_interface
from .makers import BLOCKING
from .pki import same_certificate
from .test_openssl import serve

OK, FAIL = 1, 0


def _failed(outcome: object) -> bool:
    return outcome == FAIL or isinstance(outcome, nettls.TLSError)


def _mtls_pair(harness, mode, policy_name, *, client_identity=None, trusted=None):
    kit, pki = harness.kit, harness.pki
    server_ctx = kit.server_context(pki.rsa)
    require_interface(server_ctx, IClientCertificates, "client certificates")
    policy = getattr(server_ctx, policy_name)
    roots = trusted if trusted is not None else [pki.client.root.cert_pem]
    assert server_ctx.setClientCertificatePolicy(policy, kit.store(*roots)) is True
    client_ctx = kit.client_context(identity=client_identity)
    return harness.tls_pair(mode, server_context=server_ctx, client_context=client_ctx, do_handshake=False)


@pytest.mark.clause("11.client-certificates")
@pytest.mark.parametrize("policy", ["CLIENT_CERT_REQUIRE", "CLIENT_CERT_REQUEST"])
def test_server_sees_a_verified_client_certificate(harness, pki, mode, policy):
    pair = _mtls_pair(harness, mode, policy, client_identity=pki.client)
    assert pair.handshake() == (OK, OK)
    chain = pair.server.getPeerCertChain()
    assert same_certificate(pair.server.getPeerCertificate(), pki.client.cert_pem)
    assert [same_certificate(a, b) for a, b in zip(chain, [pki.client.cert_pem, *pki.client.chain_pems])] == [True, True]
    assert len(chain) == 2, "leaf first, then what the client sent (SPEC 6)"
    if IVerifyResult.providedBy(pair.server):
        assert pair.server.getVerifyResult() == VerifyStatus(VerifyStatus.OK)
    assert pair.exchange(b"who am I", b"the client") == (b"who am I", b"the client")


@pytest.mark.clause("11.client-certificates")
def test_required_certificate_missing_fails(harness, mode):
    pair = _mtls_pair(harness, mode, "CLIENT_CERT_REQUIRE")
    server, client = pair.try_handshake()
    assert _failed(server), f"accept() without a client certificate gave {server!r}"
    reason = pair.server.getFailureReason() if hasattr(pair.server, "getFailureReason") else str(server)
    assert "certificate" in (reason or str(server)).lower()
    # TLS 1.3: the client may finish its side first; it learns at its first read.
    if client == OK:
        if mode == BLOCKING:
            assert pair.client.recv(1) == b""
        else:
            assert pair.read_to_end("client") == b""
        assert pair.client.getStatus() == FAIL


@pytest.mark.clause("11.client-certificates")
@pytest.mark.parametrize("case", ["untrusted-root", "server-only-usage"])
def test_unacceptable_client_certificate_fails(harness, pki, case):
    if case == "untrusted-root":
        pair = _mtls_pair(harness, BLOCKING, "CLIENT_CERT_REQUEST", client_identity=pki.client, trusted=[pki.rsa.root.cert_pem])
    else:  # a leaf for servers only (EKU serverAuth): not a client certificate
        pair = _mtls_pair(harness, BLOCKING, "CLIENT_CERT_REQUEST", client_identity=pki.ec)
    server, client = pair.try_handshake()
    assert _failed(server), f"accept() gave {server!r}"
    if IVerifyResult.providedBy(pair.server):
        result = pair.server.getVerifyResult()
        assert result is not None and result.status == VerifyStatus.FAIL and result.failedReason


@pytest.mark.clause("11.client-certificates")
def test_request_lets_a_client_without_certificate_in(harness, mode):
    pair = _mtls_pair(harness, mode, "CLIENT_CERT_REQUEST")
    assert pair.handshake() == (OK, OK)
    assert pair.server.getPeerCertificate() is None and pair.server.getPeerCertChain() == []
    if IVerifyResult.providedBy(pair.server):
        assert pair.server.getVerifyResult() is None
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")


@pytest.mark.clause("11.client-certificates")
def test_no_request_by_default(harness, pki):
    ctx = harness.kit.server_context(pki.rsa)
    require_interface(ctx, IClientCertificates, "client certificates")
    assert ctx.clientCertificatePolicy == ctx.CLIENT_CERT_NONE == 0
    assert ctx.clientCertificateTrust == ()
    pair = harness.tls_pair(BLOCKING, server_context=ctx, client_context=harness.kit.client_context(identity=pki.client))
    assert pair.server.getPeerCertificate() is None, "SPEC 8: no client certificate requested unless asked"


@pytest.mark.clause("6.peer-chain")
@pytest.mark.parametrize("presented", ["unrelated-ca", "expired"])
def test_unasked_client_certificate_is_not_handed_over(harness, pki, mode, presented):
    """SPEC 6: without a client-certificate policy the server sees none, on
    every component, whatever a client sends: a certificate nobody checked
    must not reach an application that reads "present" as "authenticated"."""
    identity = pki.untrusted if presented == "unrelated-ca" else pki.expired
    pair = harness.tls_pair(mode, client_context=harness.kit.client_context(identity=identity))
    assert pair.server.getPeerCertificate() is None
    assert pair.server.getPeerCertChain() == []
    if IVerifyResult.providedBy(pair.server):
        assert pair.server.getVerifyResult() is None, "nothing was verified"
    assert pair.exchange(b"who am I", b"nobody") == (b"who am I", b"nobody")


@pytest.mark.clause("8.secure-defaults")
@pytest.mark.parametrize("protocol", ["default", "tls1_2"])
def test_no_certificate_request_on_the_wire(harness, pki, tmp_path, protocol):
    """SPEC 8: a server asks for no client certificate unless told to (a
    client would send its identity, in the clear in TLS 1.2). Read by
    ``openssl s_client -msg``, which prints every handshake message."""
    port, server = serve(harness, harness.kit.server_context(pki.rsa), _accept_and_close)
    extra = ["-msg", "-ign_eof"] + ([f"-{protocol}"] if protocol != "default" else [])
    with s_client(port, write_identity(tmp_path, pki.rsa), *extra) as client:
        client.wait_for(r"ServerHelloDone|, Finished")
        server.join()
        client.close_input()
        client.wait()
        out = client.output
    assert "ServerHello" in out and "CertificateRequest" not in out, "the server asked for a client certificate"


def _accept_and_close(session, sock):
    assert session.accept(sock) == OK
    session.close()


@pytest.mark.clause("11.client-certificates")
def test_client_certificate_settings(harness, pki):
    kit = harness.kit
    ctx = kit.server_context(pki.rsa)
    require_interface(ctx, IClientCertificates, "client certificates")
    assert (ctx.CLIENT_CERT_NONE, ctx.CLIENT_CERT_REQUEST, ctx.CLIENT_CERT_REQUIRE) == (0, 1, 2)
    assert (kit.TLSContext.CLIENT_CERT_REQUEST, kit.TLSContext.CLIENT_CERT_REQUIRE) == (1, 2)
    store = kit.store(pki.client.root.cert_pem)
    ctx.setClientCertificatePolicy(ctx.CLIENT_CERT_REQUIRE, store)
    assert ctx.clientCertificatePolicy == 2
    assert [same_certificate(c, pki.client.root.cert_pem) for c in ctx.clientCertificateTrust] == [True]
    ctx.setClientCertificatePolicy(ctx.CLIENT_CERT_NONE)
    assert ctx.clientCertificatePolicy == 0 and ctx.clientCertificateTrust == ()
    with pytest.raises(AttributeError):
        ctx.clientCertificatePolicy = 2
    for bad in (3, -1, True, "require", None):
        with pytest.raises(ValueError):
            ctx.setClientCertificatePolicy(bad, store)
    with pytest.raises(ValueError):
        ctx.setClientCertificatePolicy(ctx.CLIENT_CERT_REQUIRE)
    with pytest.raises(ValueError):
        ctx.setClientCertificatePolicy(ctx.CLIENT_CERT_REQUEST, kit.TLSCertStore())
    with pytest.raises(TypeError):
        ctx.setClientCertificatePolicy(ctx.CLIENT_CERT_REQUEST, "ca.pem")
    assert ctx.clientCertificatePolicy == 0, "a refused call changes nothing"
    with pytest.raises(nettls.TLSError):
        kit.client_context().setClientCertificatePolicy(ctx.CLIENT_CERT_REQUIRE, store)


# --- 11.system-trust ------------------------------------------------------------------------------


@pytest.fixture
def system_store(kit):
    store = kit.TLSCertStore()
    require_interface(store, ISystemTrust, "the system's trust store")
    assert store.systemTrustSource is None
    return store


@pytest.mark.clause("11.system-trust")
def test_system_trust_from_the_environment(system_store, harness, pki, tmp_path, monkeypatch, mode):
    """SSL_CERT_FILE names the system's trust, as for OpenSSL: a store filled
    from it serves verifyCertificate and verification on connect."""
    bundle = tmp_path / "roots.pem"
    bundle.write_text(pki.ec.root.cert_pem + pki.rsa.root.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert system_store.loadSystemTrust() is True
    assert [same_certificate(a, b) for a, b in zip(system_store.certificates, [pki.ec.root.cert_pem, pki.rsa.root.cert_pem])] == [True, True]
    assert len(system_store.certificates) == 2
    assert str(bundle) in system_store.systemTrustSource
    kit = harness.kit
    verifier = kit.TLS(kit.client_context())
    assert verifier.verifyCertificate(system_store, pki.ec.cert_pem, pki.ec.chain_pems).status == VerifyStatus.OK
    assert verifier.verifyCertificate(system_store, pki.untrusted.cert_pem, pki.untrusted.chain_pems).status == VerifyStatus.FAIL
    client_ctx = kit.client_context()
    require_interface(client_ctx, IVerifyOnConnect, "verification on connect")
    client_ctx.setVerifyOnConnect(system_store)
    pair = harness.tls_pair(mode, server_context=kit.server_context(pki.ec), client_context=client_ctx, do_handshake=False)
    require_interface(pair.client, IServerName, "server names")
    pair.client.setServerName("localhost")
    assert pair.handshake() == (OK, OK)


@pytest.mark.clause("11.system-trust")
def test_an_unusable_ssl_cert_file_is_an_error_not_a_fallback(system_store, tmp_path, monkeypatch):
    """SPEC 14: trust configuration that is set but unusable is an error
    naming it, never a silent fallback (to certifi or anything else)."""
    missing = tmp_path / "missing.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(nettls.CertificateError, match="SSL_CERT_FILE") as info:
        system_store.loadSystemTrust()
    assert str(missing) in str(info.value)
    assert system_store.certificates == () and system_store.systemTrustSource is None


@pytest.mark.clause("11.system-trust")
def test_system_trust_adds_to_the_store(system_store, pki):
    assert system_store.addCertificate(pki.ec.root.cert_pem) is True
    assert system_store.loadSystemTrust() is True
    certificates = system_store.certificates
    assert same_certificate(certificates[0], pki.ec.root.cert_pem), "what was there stays"
    assert len(certificates) > 1
    assert system_store.systemTrustSource
    assert len(set(certificates)) == len(certificates), "no certificate twice"
    again = len(certificates)
    assert system_store.loadSystemTrust() is True
    assert len(system_store.certificates) == again


@pytest.mark.clause("11.system-trust")
def test_system_roots_do_not_trust_test_certificates(system_store, kit, pki):
    assert system_store.loadSystemTrust() is True
    verifier = kit.TLS(kit.client_context())
    result = verifier.verifyCertificate(system_store, pki.ec.cert_pem, pki.ec.chain_pems)
    assert result.status == VerifyStatus.FAIL and result.failedReason
