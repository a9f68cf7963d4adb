"""TLS extensions across components: the interfaces themselves, a session
honouring another component's context (SPEC 8), and every (server, client)
pair using SNI, ALPN, mutual TLS, verification on connect and resumption
together."""

from __future__ import annotations

import pytest
from zope.interface.verify import verifyClass, verifyObject

import nettls
from nettls.interfaces import (
    EXTENSION_INTERFACES,
    SPEC_INTERFACES,
    IClientCertificates,
    IEndOfStream,
    IMinimumVersion,
    INegotiatedProtocol,
    IProtocolNegotiation,
    IResumption,
    IServerName,
    IServerNameCertificates,
    ISessionInfo,
    ISystemTrust,
    IVerifiedChain,
    IVerifyOnConnect,
    IVerifyResult,
    VerifyStatus,
)

from ._support import require_interface
from .makers import Background, TLSKit, named_identity
from .pki import same_certificate
from .test_ext_alpn import _accept_one, _python_tls12_client

OK, FAIL = 1, 0
_CONTEXT_EXTENSIONS = (IProtocolNegotiation, IMinimumVersion, IClientCertificates, IServerNameCertificates, IVerifyOnConnect)
_SESSION_EXTENSIONS = (IServerName, INegotiatedProtocol, IVerifyResult)


@pytest.mark.clause("11.ext-interfaces")
def test_declared_extensions_are_implemented(kit, pki):
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    instances = {kit.TLS: kit.TLS(kit.TLSContext(kit.TLSContext.CLIENT)), kit.TLSContext: ctx, kit.TLSCertStore: kit.TLSCertStore()}
    declared = 0
    for cls, obj in instances.items():
        for iface in EXTENSION_INTERFACES.values():
            if iface.implementedBy(cls):
                declared += 1
                verifyClass(iface, cls)
                verifyObject(iface, obj)
    if IClientCertificates.implementedBy(kit.TLSContext):
        assert (ctx.CLIENT_CERT_NONE, ctx.CLIENT_CERT_REQUEST, ctx.CLIENT_CERT_REQUIRE) == (0, 1, 2)
    if not declared:
        pytest.skip(f"{kit.name} declares no extension interface")


@pytest.mark.clause("11.ext-interfaces")
def test_spec_interfaces_stay_dana(kit):
    """TLS extensions are never methods of the spec interfaces (SPEC 1)."""
    spec_names = {name for iface in SPEC_INTERFACES.values() for name in iface.names(all=True)}
    for iface in (*_CONTEXT_EXTENSIONS, *_SESSION_EXTENSIONS, IVerifiedChain, IResumption, IEndOfStream, ISystemTrust):
        assert not iface.extends(SPEC_INTERFACES["net.Stream"])
        assert not set(iface.names()) & spec_names, f"{iface.__name__} redefines a spec name"


# --- a full mutual-TLS scenario, for the pair clauses ------------------------------------------


def _contexts(contexts: TLSKit, pki, *, name_ok: bool = True):
    """A server and a client context of one component using every context extension."""
    server = contexts.server_context(pki.ec)
    client = contexts.client_context(identity=pki.client)
    for ctx in (server, client):
        for iface in _CONTEXT_EXTENSIONS:
            require_interface(ctx, iface, f"the context extension {iface.__name__}")
    www = named_identity(pki, ("www.example.com",))
    server.setCertificateForName("www.example.com", www.cert_pem, www.key_pem(), www.chain_pems)
    server.setApplicationProtocols(["h2", "http/1.1"])
    server.setMinimumVersion("TLSv1.3")
    server.setClientCertificatePolicy(server.CLIENT_CERT_REQUIRE, contexts.store(pki.client.root.cert_pem))
    client.setApplicationProtocols(["http/1.1", "h2"])
    client.setMinimumVersion("TLSv1.3")
    client.setVerifyOnConnect(contexts.store(pki.ec.root.cert_pem))
    return server, client, www


def _check_scenario(pair, pki, www):
    assert pair.client.getApplicationProtocol() == "h2" == pair.server.getApplicationProtocol()
    assert pair.server.getServerName() == "www.example.com"
    assert same_certificate(pair.client.getPeerCertificate(), www.cert_pem), "the certificate set for the name"
    assert same_certificate(pair.server.getPeerCertificate(), pki.client.cert_pem), "the client's certificate"
    assert pair.client.getVerifyResult() == VerifyStatus(VerifyStatus.OK)
    assert pair.server.getVerifyResult() == VerifyStatus(VerifyStatus.OK)
    if ISessionInfo.providedBy(pair.client):
        assert pair.client.getProtocolVersion() == "TLSv1.3"


#: The context extensions the scenario sets: a component's sessions honour
#: one (from any component's context) when its own contexts declare it.
_CONTEXT_EXTENSIONS = (IServerNameCertificates, IProtocolNegotiation, IMinimumVersion, IClientCertificates, IVerifyOnConnect)


def _require_sessions(*kits: TLSKit) -> None:
    for kit in kits:
        for iface in _SESSION_EXTENSIONS:
            if not iface.implementedBy(kit.TLS):
                pytest.skip(f"{kit.name}'s sessions do not provide {iface.__name__}")
        for iface in _CONTEXT_EXTENSIONS:
            if not iface.implementedBy(kit.TLSContext):
                pytest.skip(f"{kit.name}'s contexts do not provide {iface.__name__}, so its sessions cannot honour it")


@pytest.mark.clause("11.ext-context-any")
def test_session_honours_another_components_context(pair_harness, pki, session_component, context_component):
    sessions, contexts = TLSKit.of(session_component), TLSKit.of(context_component)
    _require_sessions(sessions)
    server_ctx, client_ctx, www = _contexts(contexts, pki)
    pair = pair_harness.tls_pair(server_kit=sessions, client_kit=sessions, server_context=server_ctx, client_context=client_ctx, do_handshake=False)
    pair.client.setServerName("www.example.com")
    assert pair.handshake() == (OK, OK)
    _check_scenario(pair, pki, www)
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")
    # The verification the context asks for is really made: a wrong name fails.
    bad = pair_harness.tls_pair(server_kit=sessions, client_kit=sessions, server_context=server_ctx, client_context=client_ctx, do_handshake=False)
    bad.client.setServerName("other.example")
    server, client = bad.try_handshake()
    assert client != OK, "a session ignored the context's verification on connect"
    assert bad.client.getVerifyResult().status == VerifyStatus.FAIL


@pytest.mark.clause("11.ext-context-any")
def test_session_honours_another_components_minimum_version(pair_harness, pki, session_component, context_component):
    sessions, contexts = TLSKit.of(session_component), TLSKit.of(context_component)
    ctx = contexts.server_context(pki.ec)
    require_interface(ctx, IMinimumVersion, "minimum version")
    _require_sessions(sessions)
    ctx.setMinimumVersion("TLSv1.3")
    port, accept = _accept_one(pair_harness)
    peer = Background(_python_tls12_client, port, name="TLS 1.2 client")
    with pytest.raises(nettls.TLSHandshakeError):
        sessions.TLS(ctx).accept(accept())
    assert "succeeded" not in peer.join()


@pytest.mark.clause("11.ext-interop")
def test_every_pair_uses_every_extension(pair_harness, pki, server_component, client_component, mode):
    server_kit, client_kit = TLSKit.of(server_component), TLSKit.of(client_component)
    _require_sessions(server_kit, client_kit)
    server_ctx, _, www = _contexts(server_kit, pki)
    _, client_ctx, _ = _contexts(client_kit, pki)

    def connect() -> object:
        pair = pair_harness.tls_pair(
            mode, server_kit=server_kit, client_kit=client_kit, server_context=server_ctx, client_context=client_ctx, do_handshake=False
        )
        pair.client.setServerName("www.example.com")
        return pair

    pair = connect()
    assert pair.handshake() == (OK, OK)
    _check_scenario(pair, pki, www)
    assert pair.exchange(b"request", b"response") == (b"request", b"response")
    if not IResumption.implementedBy(client_kit.TLS):
        return
    data = pair.client.getResumptionData()
    assert data is not None
    assert pair.close("client") == OK
    again = connect()
    again.client.setResumptionData(data)
    assert again.handshake() == (OK, OK)
    assert again.client.isResumed() is True
    if IResumption.implementedBy(server_kit.TLS):
        assert again.server.isResumed() is True
    assert again.client.getApplicationProtocol() == "h2"
    assert again.exchange(b"request", b"response") == (b"request", b"response")
