"""TLS extensions: server names (SNI), certificates by name, and verification
on connect (chain and host name in one step).

Each case runs where the component provides the extension interfaces it
uses, and is skipped, saying which, where it does not.
"""

from __future__ import annotations

import pytest

import nettls
from nettls.hostname import check_host_name
from nettls.interfaces import (
    IServerName,
    IServerNameCertificates,
    IVerifyOnConnect,
    IVerifyResult,
    VerifyStatus,
)

from ._support import require_interface
from .makers import BLOCKING, named_identity
from .pki import same_certificate

OK, FAIL = 1, 0


def _failed(outcome: object) -> bool:
    return outcome == FAIL or isinstance(outcome, nettls.TLSError)


def _reason(outcome: object, session: object) -> str:
    text = str(outcome) if isinstance(outcome, Exception) else ""
    reason = getattr(session, "getFailureReason", lambda: None)()
    return f"{text} {reason or ''}"


# --- 11.server-name --------------------------------------------------------------------------


@pytest.mark.clause("11.server-name")
def test_client_sends_server_name(harness, pki, mode):
    kit = harness.kit
    pair = harness.tls_pair(mode, do_handshake=False)
    require_interface(pair.client, IServerName, "server names")
    assert pair.server.getServerName() is None, "no name before the handshake"
    assert pair.client.setServerName("WWW.Example.COM.") is True
    assert pair.client.getServerName() == "www.example.com", "normalised: case folded, trailing dot dropped"
    pair.handshake()
    assert pair.server.getServerName() == "www.example.com"
    assert pair.client.getServerName() == "www.example.com"
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")
    assert kit.TLS(kit.client_context()).getServerName() is None


@pytest.mark.clause("11.server-name")
def test_no_server_name_by_default(harness):
    pair = harness.tls_pair(BLOCKING)
    require_interface(pair.server, IServerName, "server names")
    assert pair.server.getServerName() is None, "Dana's connect() sends no name"
    assert pair.client.getServerName() is None


@pytest.mark.clause("11.server-name")
def test_internationalised_name_is_sent_as_a_labels(harness):
    pair = harness.tls_pair(BLOCKING, do_handshake=False)
    require_interface(pair.client, IServerName, "server names")
    pair.client.setServerName("Bücher.example")
    assert pair.client.getServerName() == "xn--bcher-kva.example"
    pair.handshake()
    assert pair.server.getServerName() == "xn--bcher-kva.example"


@pytest.mark.clause("11.server-name")
@pytest.mark.parametrize("address", ["127.0.0.1", "[::1]"])
def test_address_is_not_sent(harness, address):
    pair = harness.tls_pair(BLOCKING, do_handshake=False)
    require_interface(pair.client, IServerName, "server names")
    pair.client.setServerName(address)
    assert pair.client.getServerName() == address.strip("[]")
    pair.handshake()
    assert pair.server.getServerName() is None, "SNI carries host names only (RFC 6066)"


@pytest.mark.clause("11.server-name")
def test_set_server_name_errors(harness):
    kit = harness.kit
    client = kit.TLS(kit.client_context())
    require_interface(client, IServerName, "server names")
    with pytest.raises(TypeError):
        client.setServerName(b"example.com")
    for bad in ("", "a b.example", "-bad.example", "two..dots", "[example.com]"):
        with pytest.raises(ValueError):
            client.setServerName(bad)
    server = kit.TLS(kit.server_context(harness.pki.ec))
    with pytest.raises(nettls.TLSError):
        server.setServerName("example.com")
    pair = harness.tls_pair(BLOCKING)
    with pytest.raises(nettls.TLSError):
        pair.client.setServerName("example.com")


# --- 11.name-certificates --------------------------------------------------------------------


def _name_server_context(harness, pki):
    ctx = harness.kit.server_context(pki.rsa)
    require_interface(ctx, IServerNameCertificates, "certificates by name")
    www = named_identity(pki, ("www.example.com",))
    wild = named_identity(pki, ("*.example.org",))
    assert ctx.setCertificateForName("WWW.example.com", www.cert_pem, www.key_pem(), www.chain_pems) is True
    assert ctx.setCertificateForName("*.example.org", wild.cert_pem, wild.key_pem("traditional"), wild.chain_pems) is True
    return ctx, www, wild


@pytest.mark.clause("11.name-certificates")
@pytest.mark.parametrize(
    "asked, expected",
    [
        ("www.example.com", "www"),
        ("WWW.EXAMPLE.COM", "www"),
        ("api.example.org", "wild"),
        ("example.org", "default"),
        ("a.b.example.org", "default"),
        ("other.example", "default"),
        (None, "default"),
    ],
)
def test_server_presents_certificate_by_name(harness, pki, mode, asked, expected):
    ctx, www, wild = _name_server_context(harness, pki)
    pair = harness.tls_pair(mode, server_context=ctx, do_handshake=False)
    if asked is not None:
        require_interface(pair.client, IServerName, "server names")
        pair.client.setServerName(asked)
    pair.handshake()
    identity = {"www": www, "wild": wild, "default": pki.rsa}[expected]
    chain = pair.client.getPeerCertChain()
    assert same_certificate(chain[0], identity.cert_pem), f"{asked!r} should get the {expected} certificate"
    assert len(chain) == 1 + len(identity.intermediates), "the chain set with the name is sent too"
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")


@pytest.mark.clause("11.name-certificates")
def test_name_certificates_are_configuration(harness, pki):
    ctx, www, wild = _name_server_context(harness, pki)
    entries = ctx.nameCertificates
    assert [e.name for e in entries] == ["www.example.com", "*.example.org"]
    assert same_certificate(entries[0].certificate, www.cert_pem)
    assert entries[1].privateKey.startswith("-----BEGIN PRIVATE KEY-----"), "keys are kept as PKCS#8"
    assert len(entries[0].chain) == 1
    other = named_identity(pki, ("www.example.com", "example.com"))
    ctx.setCertificateForName("www.example.com", other.cert_pem, other.key_pem())
    assert [e.name for e in ctx.nameCertificates] == ["www.example.com", "*.example.org"], "a name set again is replaced"
    assert same_certificate(ctx.nameCertificates[0].certificate, other.cert_pem)
    assert ctx.nameCertificates[0].chain == ()
    with pytest.raises(AttributeError):
        ctx.nameCertificates = ()


@pytest.mark.clause("11.name-certificates")
def test_set_certificate_for_name_errors(harness, pki):
    kit = harness.kit
    ctx = kit.server_context(pki.ec)
    require_interface(ctx, IServerNameCertificates, "certificates by name")
    ident = named_identity(pki, ("www.example.com",))
    for bad in ("127.0.0.1", "*", "*.com", "w*.example.com", "bad name"):
        with pytest.raises(ValueError):
            ctx.setCertificateForName(bad, ident.cert_pem, ident.key_pem())
    with pytest.raises(TypeError):
        ctx.setCertificateForName(None, ident.cert_pem, ident.key_pem())
    with pytest.raises(nettls.CertificateError):
        ctx.setCertificateForName("www.example.com", ident.cert_pem, pki.rsa.key_pem())
    with pytest.raises(nettls.CertificateError):
        ctx.setCertificateForName("www.example.com", "not a certificate", ident.key_pem())
    assert ctx.nameCertificates == (), "a refused call changes nothing"
    with pytest.raises(nettls.TLSError):
        kit.client_context().setCertificateForName("www.example.com", ident.cert_pem, ident.key_pem())


# --- 11.verify-on-connect ----------------------------------------------------------------------


def _verifying_client(harness, roots, *, check_host_name=True):
    ctx = harness.kit.client_context()
    require_interface(ctx, IVerifyOnConnect, "verification on connect")
    assert ctx.setVerifyOnConnect(harness.kit.store(*roots), check_host_name) is True
    return ctx


def _verified_pair(harness, mode, identity, roots, name, *, check_host_name=True):
    client_ctx = _verifying_client(harness, roots, check_host_name=check_host_name)
    server_ctx = harness.kit.server_context(identity)
    pair = harness.tls_pair(mode, server_context=server_ctx, client_context=client_ctx, do_handshake=False)
    if name is not None:
        require_interface(pair.client, IServerName, "server names")
        pair.client.setServerName(name)
    return pair


@pytest.mark.clause("11.verify-on-connect")
@pytest.mark.parametrize("name", ["localhost", "127.0.0.1"])
def test_verified_connect(harness, pki, mode, name):
    pair = _verified_pair(harness, mode, pki.ec, [pki.ec.root.cert_pem], name)
    assert pair.handshake() == (OK, OK)
    if IVerifyResult.providedBy(pair.client):
        assert pair.client.getVerifyResult() == VerifyStatus(VerifyStatus.OK)
        assert pair.server.getVerifyResult() is None, "the server verified nothing"
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")


def _assert_refused(pair, *needles):
    server, client = pair.try_handshake()
    assert _failed(client), f"connect() should have failed, got {client!r}"
    reason = _reason(client, pair.client)
    for needle in needles:
        assert needle.lower() in reason.lower(), f"{needle!r} not in the reason: {reason}"
    assert _failed(server), f"the server should get an alert and fail, got {server!r}"
    return reason


@pytest.mark.clause("11.verify-on-connect")
def test_wrong_host_name_fails_the_handshake(harness, pki, mode):
    pair = _verified_pair(harness, mode, pki.ec, [pki.ec.root.cert_pem], "www.example.com")
    _assert_refused(pair, "www.example.com")
    if IVerifyResult.providedBy(pair.client):
        result = pair.client.getVerifyResult()
        assert result.status == VerifyStatus.FAIL and "www.example.com" in result.failedReason
        assert same_certificate(result.failedCertificate, pki.ec.cert_pem), "a host-name mismatch names the leaf"


@pytest.mark.clause("11.verify-on-connect")
def test_untrusted_chain_fails_the_handshake(harness, pki, mode):
    pair = _verified_pair(harness, mode, pki.ec, [pki.rsa.root.cert_pem], "localhost")
    _assert_refused(pair, "certificate verify failed")
    if IVerifyResult.providedBy(pair.client):
        result = pair.client.getVerifyResult()
        assert result.status == VerifyStatus.FAIL and result.failedReason


@pytest.mark.clause("11.verify-on-connect")
def test_expired_leaf_fails_the_handshake(harness, pki):
    pair = _verified_pair(harness, BLOCKING, pki.expired, [pki.ec.root.cert_pem], "localhost")
    _assert_refused(pair, "expired")


@pytest.mark.clause("11.verify-on-connect")
def test_no_server_name_fails_saying_so(harness, pki, mode):
    pair = _verified_pair(harness, mode, pki.ec, [pki.ec.root.cert_pem], None)
    server, client = pair.try_handshake(grace=0.3)
    assert _failed(client)
    assert "setServerName" in _reason(client, pair.client)


@pytest.mark.clause("11.verify-on-connect")
def test_chain_only_skips_the_host_name(harness, pki, mode):
    pair = _verified_pair(harness, mode, pki.ec, [pki.ec.root.cert_pem], "www.example.com", check_host_name=False)
    assert pair.handshake() == (OK, OK)
    pair = _verified_pair(harness, mode, pki.ec, [pki.rsa.root.cert_pem], None, check_host_name=False)
    server, client = pair.try_handshake()
    assert _failed(client), "the chain is still verified"


@pytest.mark.clause("11.verify-on-connect")
def test_server_purpose_is_checked(harness, pki):
    """A leaf whose extended key usage excludes serverAuth is refused on
    connect (the TLS profile), though verifyCertificate accepts it (purpose-free)."""
    client_only = pki.client
    pair = _verified_pair(harness, BLOCKING, client_only, [pki.ec.root.cert_pem], None, check_host_name=False)
    server, client = pair.try_handshake()
    assert _failed(client)
    status = pair.client.verifyCertificate(harness.kit.store(pki.ec.root.cert_pem), client_only.cert_pem, client_only.chain_pems)
    assert status.status == VerifyStatus.OK


#: (names in the certificate, common name, name asked): RFC 6125 cases.
HOST_NAME_CASES = [
    (("*.example.com",), None, "www.example.com"),
    (("*.example.com",), None, "a.b.example.com"),
    (("*.example.com",), None, "example.com"),
    (("w*.example.com",), None, "www.example.com"),
    (("xn--bcher-kva.example",), None, "bücher.example"),
    (("Mixed.Example.COM",), None, "mixed.example.com"),
    (("localhost", "127.0.0.1"), None, "127.0.0.1"),
    (("localhost",), None, "127.0.0.1"),
    (("127.0.0.1",), None, "localhost"),
    ((), "localhost", "localhost"),
    (("other.example",), "localhost", "localhost"),
]


@pytest.mark.clause("11.verify-on-connect")
@pytest.mark.parametrize("names, common_name, asked", HOST_NAME_CASES, ids=[c[2] + "-" + "+".join(c[0] or ("cn",)) for c in HOST_NAME_CASES])
def test_host_name_rules_are_check_host_names(harness, pki, names, common_name, asked):
    """connect() accepts exactly what ``nettls.hostname.check_host_name``
    accepts: wildcards, IDNA, IP entries, no common-name fallback."""
    identity = named_identity(pki, names, common_name=common_name)
    expected = check_host_name(identity.cert_pem, asked) is None
    pair = _verified_pair(harness, BLOCKING, identity, [pki.ec.root.cert_pem], asked)
    server, client = pair.try_handshake()
    assert (client == OK) == expected, f"connect() gave {client!r}; check_host_name says {'match' if expected else 'mismatch'}"


@pytest.mark.clause("11.verify-on-connect")
def test_verify_on_connect_is_configuration(harness, pki):
    kit = harness.kit
    ctx = kit.TLSContext(kit.TLSContext.CLIENT)  # as made, not as the suite prepares it
    require_interface(ctx, IVerifyOnConnect, "verification on connect")
    assert ctx.verifyTrust is None and ctx.verifyHostName is False, "off by default: connect() verifies nothing (SPEC 6)"
    store = kit.store(pki.ec.root.cert_pem, pki.rsa.root.cert_pem)
    ctx.setVerifyOnConnect(store)
    assert ctx.verifyHostName is True
    assert [same_certificate(a, b) for a, b in zip(ctx.verifyTrust, [pki.ec.root.cert_pem, pki.rsa.root.cert_pem])] == [True, True]
    store.addCertificate(pki.untrusted.root.cert_pem)
    assert len(ctx.verifyTrust) == 2, "the store's certificates are taken when set"
    ctx.setVerifyOnConnect(store, checkHostName=False)
    assert ctx.verifyHostName is False and len(ctx.verifyTrust) == 3
    ctx.setVerifyOnConnect(None)
    assert ctx.verifyTrust is None and ctx.verifyHostName is False
    with pytest.raises(AttributeError):
        ctx.verifyTrust = ()
    with pytest.raises(ValueError):
        ctx.setVerifyOnConnect(kit.TLSCertStore())
    with pytest.raises(TypeError):
        ctx.setVerifyOnConnect("ca.pem")
    with pytest.raises(TypeError):
        ctx.setVerifyOnConnect(store, checkHostName="yes")
    with pytest.raises(nettls.TLSError):
        kit.server_context(pki.ec).setVerifyOnConnect(store)
