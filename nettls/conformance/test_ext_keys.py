"""SPEC 11 extensions about keys: logging session keys (``IKeyLog``) and
encrypted private keys (``IEncryptedKeys``)."""

from __future__ import annotations

import os
import stat

import pytest

import nettls
from nettls.interfaces import IEncryptedKeys, IKeyLog

from ._support import require_interface
from .pki import ENCRYPTED_KEY_PASSWORD

OK = 1
#: The labels of the NSS key-log format for TLS 1.3 and TLS 1.2.
_LABELS = (b"CLIENT_HANDSHAKE_TRAFFIC_SECRET", b"CLIENT_RANDOM")


@pytest.mark.clause("11.key-log")
def test_session_keys_go_to_the_context_s_file(harness, pki, mode, tmp_path):
    kit = harness.kit
    ctx = kit.client_context()
    require_interface(ctx, IKeyLog, "key logging")
    assert ctx.keyLogFile is None
    path = tmp_path / "keys.log"
    assert ctx.setKeyLogFile(str(path)) is True
    assert ctx.keyLogFile == str(path)
    pair = harness.tls_pair(mode, client_context=ctx)
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")
    log = path.read_bytes()
    assert any(label in log for label in _LABELS), f"no key-log line in {log[:200]!r}"
    entries = [line for line in log.splitlines() if line and not line.startswith(b"#")]  # comments are allowed
    assert all(len(line.split(b" ")) == 3 and line.split(b" ")[0].isupper() for line in entries), "NSS format: LABEL hex hex"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, "the file lets anyone holding it read the traffic"


@pytest.mark.clause("11.key-log")
def test_key_log_file_is_configuration(harness, tmp_path):
    kit = harness.kit
    ctx = kit.TLSContext(kit.TLSContext.CLIENT)
    require_interface(ctx, IKeyLog, "key logging")
    ctx.setKeyLogFile(tmp_path / "keys.log")  # a path-like
    assert ctx.keyLogFile == str(tmp_path / "keys.log")
    assert ctx.setKeyLogFile(None) is True and ctx.keyLogFile is None
    with pytest.raises(TypeError):
        ctx.setKeyLogFile(42)


@pytest.mark.clause("11.encrypted-keys")
@pytest.mark.parametrize("form", ["bytes", "str", "callable"])
def test_an_encrypted_key_with_its_password_serves(harness, pki, mode, form):
    kit = harness.kit
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    require_interface(ctx, IEncryptedKeys, "encrypted keys")
    password = {
        "bytes": ENCRYPTED_KEY_PASSWORD,
        "str": ENCRYPTED_KEY_PASSWORD.decode(),
        "callable": lambda: ENCRYPTED_KEY_PASSWORD,
    }[form]
    assert ctx.setCertificateWithPassword(pki.ec.cert_pem, pki.ec.key_pem("encrypted"), password) is True
    ctx.setCertificateChain(pki.ec.chain_pems)
    assert "ENCRYPTED" not in (ctx.privateKey or ""), "the context holds the key decrypted, in memory"
    pair = harness.tls_pair(mode, server_context=ctx)
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")


@pytest.mark.clause("11.encrypted-keys")
def test_a_wrong_password_is_refused_and_never_shown(harness, pki):
    kit = harness.kit
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    require_interface(ctx, IEncryptedKeys, "encrypted keys")
    wrong = b"hunter2-not-the-password"
    with pytest.raises(nettls.CertificateError) as info:
        ctx.setCertificateWithPassword(pki.ec.cert_pem, pki.ec.key_pem("encrypted"), wrong)
    text = f"{info.value} {info.value!r} {info.value.__cause__!r}"
    assert "password" in str(info.value).lower()
    assert wrong.decode() not in text
    assert ctx.certificate is None and ctx.privateKey is None, "nothing was set"
    with pytest.raises(nettls.CertificateError, match="(?i)match"):
        ctx.setCertificateWithPassword(pki.rsa.cert_pem, pki.ec.key_pem("encrypted"), ENCRYPTED_KEY_PASSWORD)
    with pytest.raises(TypeError):
        ctx.setCertificateWithPassword(pki.ec.cert_pem, pki.ec.key_pem("encrypted"), 1234)


@pytest.mark.clause("11.encrypted-keys")
def test_set_certificate_names_the_way_to_an_encrypted_key(harness, pki):
    kit = harness.kit
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    require_interface(ctx, IEncryptedKeys, "encrypted keys")
    with pytest.raises(nettls.CertificateError, match="setCertificateWithPassword"):
        ctx.setCertificate(pki.ec.cert_pem, pki.ec.key_pem("encrypted"))
