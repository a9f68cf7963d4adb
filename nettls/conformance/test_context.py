"""SPEC 8: TLSContext — modes, certificates and keys, chains, cipher sets."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from nettls import CertificateError

from ._support import MALFORMED, malformed
from .pki import same_certificate


def _public_der(key_pem: str | bytes) -> bytes:
    data = key_pem.encode() if isinstance(key_pem, str) else key_pem
    key = serialization.load_pem_private_key(data, password=None)
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _check_message(exc: BaseException, *words: str) -> None:
    message = str(exc)
    assert len(message) > 10, f"{type(exc).__name__} without a clear reason: {message!r}"
    if words:
        assert any(w in message.lower() for w in words), f"the reason {message!r} mentions none of {words}"


@pytest.mark.clause("8.context-mode")
def test_client_and_server_modes(kit):
    for mode in (kit.TLSContext.CLIENT, kit.TLSContext.SERVER):
        assert kit.TLSContext(mode).mode == mode


@pytest.mark.clause("8.context-mode")
@pytest.mark.parametrize("bad", [0, 3, 4, -1, 0x100])
def test_other_modes_are_value_errors(kit, bad):
    with pytest.raises(ValueError):
        kit.TLSContext(bad)


@pytest.mark.clause("8.read-only")
def test_fresh_context_configuration(kit):
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    assert ctx.mode == kit.TLSContext.SERVER
    assert ctx.certificate is None
    assert ctx.privateKey is None
    assert ctx.chain == ()
    assert isinstance(ctx.chain, tuple)
    assert ctx.cipherSet == kit.TLSContext.CIPHER_DEFAULT


@pytest.mark.clause("8.read-only")
@pytest.mark.parametrize("attribute", ["mode", "certificate", "privateKey", "chain", "cipherSet"])
def test_context_attributes_are_read_only(kit, pki, attribute):
    ctx = kit.server_context(pki.ec)
    before = getattr(ctx, attribute)
    with pytest.raises(AttributeError):
        setattr(ctx, attribute, before if attribute == "mode" else None)
    assert getattr(ctx, attribute) == before


@pytest.mark.clause("8.set-certificate")
@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("form", ["pkcs8", "traditional"])
@pytest.mark.parametrize("as_type", ["str", "bytes"])
def test_set_certificate(kit, pki, kind, form, as_type):
    identity = pki.identity(kind)
    cert, key = identity.cert_pem, identity.key_pem(form)
    if as_type == "bytes":
        cert, key = cert.encode(), key.encode()
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    assert ctx.setCertificate(cert, key) is True
    assert isinstance(ctx.certificate, str) and same_certificate(ctx.certificate, identity.cert_pem)
    assert isinstance(ctx.privateKey, str)
    assert ctx.privateKey.lstrip().startswith("-----BEGIN PRIVATE KEY-----"), "privateKey is PKCS#8 PEM"
    assert _public_der(ctx.privateKey) == _public_der(identity.key_pem())


@pytest.mark.clause("8.set-certificate")
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_traditional_key_serves_a_handshake(harness, pki, kind):
    identity = pki.identity(kind)
    ctx = harness.kit.server_context(identity, key_form="traditional")
    pair = harness.tls_pair(server_context=ctx)
    assert same_certificate(pair.client.getPeerCertificate(), identity.cert_pem)


@pytest.mark.clause("8.certificate-errors")
@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_certificate(kit, pki, case):
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    with pytest.raises(CertificateError) as info:
        ctx.setCertificate(malformed(pki, case), pki.ec.key_pem())
    _check_message(info.value)


@pytest.mark.clause("8.certificate-errors")
@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_key(kit, pki, case):
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    with pytest.raises(CertificateError) as info:
        ctx.setCertificate(pki.ec.cert_pem, malformed(pki, case, want="key"))
    _check_message(info.value)


@pytest.mark.clause("8.certificate-errors")
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_encrypted_key(kit, pki, kind):
    identity = pki.identity(kind)
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    with pytest.raises(CertificateError) as info:
        ctx.setCertificate(identity.cert_pem, identity.key_pem("encrypted"))
    _check_message(info.value, "encrypt", "password", "passphrase")


@pytest.mark.clause("8.certificate-errors")
@pytest.mark.parametrize("pairing", ["rsa-cert-ec-key", "ec-cert-rsa-key", "ec-cert-other-ec-key"])
def test_mismatched_key(kit, pki, pairing):
    cert = pki.rsa.cert_pem if pairing.startswith("rsa") else pki.ec.cert_pem
    if pairing.endswith("-rsa-key"):
        key = pki.rsa.key_pem()
    elif pairing.endswith("-other-ec-key"):
        key = pki.other_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    else:
        key = pki.ec.key_pem()
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    with pytest.raises(CertificateError) as info:
        ctx.setCertificate(cert, key)
    _check_message(info.value, "match")


@pytest.mark.clause("8.set-chain")
def test_set_certificate_chain(kit, pki):
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    ctx.setCertificate(pki.path_length.cert_pem, pki.path_length.key_pem())
    assert ctx.setCertificateChain(pki.path_length.chain_pems) is True
    assert isinstance(ctx.chain, tuple) and len(ctx.chain) == 2
    assert all(isinstance(p, str) for p in ctx.chain)
    assert all(same_certificate(a, b) for a, b in zip(ctx.chain, pki.path_length.chain_pems))
    assert ctx.setCertificateChain([]) is True
    assert ctx.chain == ()


@pytest.mark.clause("8.certificate-errors")
@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_chain(kit, pki, case):
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    with pytest.raises(CertificateError) as info:
        ctx.setCertificateChain([pki.ec.intermediates[0].cert_pem, malformed(pki, case)])
    _check_message(info.value)


@pytest.mark.clause("8.cipher-set")
def test_cipher_sets(kit):
    ctx = kit.TLSContext(kit.TLSContext.CLIENT)
    assert ctx.setCipherSet(kit.TLSContext.CIPHER_ALL) is True
    assert ctx.cipherSet == kit.TLSContext.CIPHER_ALL
    assert ctx.setCipherSet(kit.TLSContext.CIPHER_DEFAULT) is True
    assert ctx.cipherSet == kit.TLSContext.CIPHER_DEFAULT


@pytest.mark.clause("8.cipher-set")
@pytest.mark.parametrize("bad", [0, 3, -1])
def test_other_cipher_sets_are_value_errors(kit, bad):
    ctx = kit.TLSContext(kit.TLSContext.CLIENT)
    with pytest.raises(ValueError):
        ctx.setCipherSet(bad)
    assert ctx.cipherSet == kit.TLSContext.CIPHER_DEFAULT


@pytest.mark.clause("8.cipher-set")
def test_cipher_all_still_handshakes(harness, pki, mode):
    kit = harness.kit
    pair = harness.tls_pair(
        mode,
        server_context=kit.server_context(pki.rsa, cipher_set=kit.TLSContext.CIPHER_ALL),
        client_context=kit.client_context(cipher_set=kit.TLSContext.CIPHER_ALL),
    )
    assert pair.transfer("client", b"ping") == b"ping"


@pytest.mark.clause("8.key-files")
def test_no_key_left_on_disk(harness, pki, tmp_path, monkeypatch):
    """Any temporary file a component writes a key to is gone by the time
    the call returns (SPEC 8); checked where tempfile would put it."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    key_body = "".join(pki.rsa.key_pem().strip().splitlines()[1:-1])[:64]
    pair = harness.tls_pair(identity=pki.rsa)
    pair.exchange(b"a", b"b")
    harness.kit.server_context(pki.ec)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert b"PRIVATE KEY" not in text and key_body.encode() not in text, f"key material left in {path}"
