"""No repr, str, log line or error message holds key material (SPEC 14,
issue 19 finding 12), on every component: a context's configuration (what
every component's sessions read), its certificates by name, the context
itself, and every error a bad key raises."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

import nettls
from nettls.components._common.config import context_config
from nettls.conformance import make_pki
from nettls.interfaces import CertificateError, IServerNameCertificates

from _edge import COMPONENTS

PKI = make_pki()
KEYS = {
    "pkcs8": PKI.ec.key_pem(),
    "sec1": PKI.ec.key_pem("traditional"),
    "rsa-pkcs8": PKI.rsa.key_pem(),
    "rsa-pkcs1": PKI.rsa.key_pem("traditional"),
}


def _body_lines(pem: str) -> list[str]:
    return [line for line in pem.strip().splitlines() if not line.startswith("-----")]


#: Every base64 line of every form of the suite's keys.
SECRETS = [line for pem in KEYS.values() for line in _body_lines(pem)]


def _assert_clean(text: str, what: str) -> None:
    leaked = [line for line in SECRETS if line in text]
    assert not leaked, f"{what} holds key material: {leaked[0]!r}"
    assert "PRIVATE KEY-----" not in text, f"{what} holds a PEM private key"


def _server_context(component: str) -> Any:
    Context = nettls.resolve("net.TLSContext", component=component)
    ctx = Context(Context.SERVER)
    ctx.setCertificate(PKI.ec.cert_pem, PKI.ec.key_pem())
    if IServerNameCertificates.providedBy(ctx):
        ctx.setCertificateForName("rsa.example", PKI.rsa.cert_pem, PKI.rsa.key_pem(), PKI.rsa.chain_pems)
    return ctx


@pytest.mark.parametrize("component", COMPONENTS)
def test_context_configuration_and_entries(component: str) -> None:
    ctx = _server_context(component)
    config = context_config(ctx)
    assert config.privateKey, "the configuration does hold the key (for the libraries)"
    for what, value in [("the context", ctx), ("its configuration", config), *[(f"entry {e.name}", e) for e in getattr(ctx, "nameCertificates", ())]]:
        _assert_clean(repr(value), f"repr() of {what}")
        _assert_clean(str(value), f"str() of {what}")
    _assert_clean(repr(config.for_name(config.nameCertificates[0])) if config.nameCertificates else "", "for_name()")


def _bad_keys() -> dict[str, tuple[str, str]]:
    """``(certificate, key)`` pairs that setCertificate refuses, each holding real key lines."""
    pkcs8, sec1 = KEYS["pkcs8"], KEYS["sec1"]
    lines = pkcs8.splitlines()
    return {
        "mismatched": (PKI.rsa.cert_pem, pkcs8),
        "truncated": (PKI.ec.cert_pem, "\n".join(lines[:2] + lines[-1:]) + "\n"),
        "text-around": (PKI.ec.cert_pem, "key follows\n" + pkcs8 + "end\n"),
        "wrong-label": (PKI.ec.cert_pem, pkcs8.replace("PRIVATE KEY", "RSA PRIVATE KEY")),
        "bad-character": (PKI.ec.cert_pem, pkcs8.replace("\n", "\n*", 2)),
        "two-keys": (PKI.ec.cert_pem, pkcs8 + sec1),
        "as-certificate": (pkcs8, pkcs8),
        "encrypted-with-body": (
            PKI.ec.cert_pem,
            PKI.ec.leaf.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.BestAvailableEncryption(b"hunter2-password"),
            ).decode("ascii"),
        ),
    }


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("case", sorted(_bad_keys()))
def test_errors_from_a_bad_key(component: str, case: str, caplog) -> None:
    cert, key = _bad_keys()[case]
    caplog.set_level(logging.DEBUG)
    Context = nettls.resolve("net.TLSContext", component=component)
    ctx = Context(Context.SERVER)
    with pytest.raises(CertificateError) as info:
        ctx.setCertificate(cert, key)
    exc: BaseException | None = info.value
    while exc is not None:  # the library's own exception, kept as the cause, too
        _assert_clean(str(exc), f"the message of {type(exc).__name__}")
        _assert_clean(repr(exc), f"repr() of {type(exc).__name__}")
        assert "hunter2" not in str(exc)
        exc = exc.__cause__ or exc.__context__
    if IServerNameCertificates.providedBy(ctx):
        with pytest.raises(CertificateError) as info:
            ctx.setCertificateForName("a.example", cert, key)
        _assert_clean(str(info.value), "setCertificateForName()'s error")
    _assert_clean(caplog.text, "the log")
