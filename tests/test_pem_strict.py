"""One strict PEM parser for every component (SPEC 14, issue 19 finding 2).

Crafted PEM (wrong labels, markers mid-line, junk around or between blocks,
non-canonical base64, DER with trailing bytes, two leaves where one is
expected) gets the same verdict on every component: refused by a context
(``CertificateError``), by a store (``False``) and by verification
(``FAIL`` with a reason, never ``OK``). Well-formed variants (CRLF, other
line lengths, no final newline) are accepted, and what a context keeps is
the canonical PEM re-encoded from the parse, never the caller's text.
Bundles read by ``loadLocation`` may hold explanatory text between blocks
and blocks of other kinds (see ``nettls/components/_common/pem.py``).
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from nettls.conformance import TLSKit, make_pki
from nettls.conformance.pki import Credential
from nettls.interfaces import CertificateError, VerifyStatus

from _edge import COMPONENTS

PKI = make_pki()
LEAF = PKI.ec.leaf
OTHER = PKI.rsa.leaf


def _armour(label: str, der: bytes, width: int = 64, newline: str = "\n") -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    return newline.join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + newline


def _armour_text(label: str, body: str) -> str:
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"


def _nonzero_trailing_bits(der: bytes) -> str | None:
    """``der`` in base64 with a padding bit set: the same bytes to a lax decoder."""
    if len(der) % 3 == 0:
        return None  # no padding, no spare bits
    body = base64.b64encode(der).decode("ascii")
    data = body.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    odd = data[:-1] + alphabet[alphabet.index(data[-1]) + 1] + body[len(data) :]
    assert base64.b64decode(odd) == der
    return _armour_text("CERTIFICATE", odd)


def _missing_padding(der: bytes) -> str | None:
    return _armour("CERTIFICATE", der).replace("=", "") if len(der) % 3 else None


def _non_minimal_length(der: bytes) -> str:
    """``der`` with its outer length in a longer form than DER allows (BER)."""
    assert der[1] == 0x82
    return _armour("CERTIFICATE", b"\x30\x83\x00" + der[2:])


def _tail(pem: str) -> str:
    return pem.split("\n", 1)[1]  # the body lines and the END line


#: Certificate texts every component refuses, by what is wrong with them
#: (None where the case cannot be made of that certificate).
REFUSED: dict[str, Callable[[Credential], str | None]] = {
    "x509-certificate-label": lambda c: _armour("X509 CERTIFICATE", c.der),
    "trusted-certificate-label": lambda c: _armour("TRUSTED CERTIFICATE", c.der),
    "x509-label-trailing-der": lambda c: _armour("X509 CERTIFICATE", c.der + b"\x00\x00"),
    "begin-mid-line": lambda c: "junk -----BEGIN CERTIFICATE-----\n" + _tail(c.cert_pem),
    "begin-indented": lambda c: "  " + c.cert_pem,
    "end-mid-line": lambda c: c.cert_pem.replace("-----END", "junk-----END"),
    "end-label-differs": lambda c: c.cert_pem.replace("-----END CERTIFICATE", "-----END X509 CERTIFICATE"),
    "text-before": lambda c: "subject=CN=example\n" + c.cert_pem,
    "text-after": lambda c: c.cert_pem + "trailer\n",
    "non-zero-trailing-bits": lambda c: _nonzero_trailing_bits(c.der),
    "missing-padding": lambda c: _missing_padding(c.der),
    "padding-mid-body": lambda c: c.cert_pem.replace("\n", "=\n", 2).replace("-----=\n", "-----\n"),
    "trailing-der-bytes": lambda c: _armour("CERTIFICATE", c.der + b"\x00\x00"),
    "der-cut-short": lambda c: _armour("CERTIFICATE", c.der[:-3]),
    "non-minimal-der-length": lambda c: _non_minimal_length(c.der),
    "pem-headers": lambda c: c.cert_pem.replace("-----\n", "-----\nComment: hello\n\n", 1),
    "no-end-line": lambda c: c.cert_pem.replace("-----END CERTIFICATE-----", ""),
    "begin-inside-block": lambda c: c.cert_pem.replace("-----END CERTIFICATE-----\n", "") + c.cert_pem,
    "not-base64": lambda c: c.cert_pem.replace("\n", "\n*", 2),
    "empty-block": lambda c: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
    "key-instead": lambda c: c.key_pem(),
}


def _refused_leaf(case: str) -> str:
    """The case made of a suite leaf (the first for which it can be made)."""
    for cred in (LEAF, OTHER):
        text = REFUSED[case](cred)
        if text is not None:
            return text
    raise AssertionError(f"{case}: cannot be made of the suite's leaves")


PEM = LEAF.cert_pem

#: Certificate texts every component accepts, canonical once kept.
ACCEPTED: dict[str, Callable[[], str | bytes]] = {
    "canonical": lambda: PEM,
    "crlf": lambda: PEM.replace("\n", "\r\n"),
    "76-column-lines": lambda: _armour("CERTIFICATE", LEAF.der, width=76),
    "one-line-body": lambda: _armour("CERTIFICATE", LEAF.der, width=100000),
    "no-final-newline": lambda: PEM.rstrip("\n"),
    "blank-lines-around": lambda: "\n\n" + PEM + "\n \n",
    "trailing-spaces-on-lines": lambda: PEM.replace("\n", "  \n"),
    "bytes": lambda: PEM.encode("ascii"),
}


def _kit(component: str) -> TLSKit:
    return TLSKit.of(component)


def _fail_with_reason(result: VerifyStatus, case: str) -> None:
    assert result.status == VerifyStatus.FAIL, f"{case}: verifyCertificate() said OK"
    assert isinstance(result.failedReason, str) and result.failedReason.strip(), f"{case}: FAIL without a reason"


# -- certificates: one verdict everywhere ----------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_crafted_certificate_is_refused_everywhere(component: str, case: str) -> None:
    text = _refused_leaf(case)
    identity = PKI.ec if text == REFUSED[case](LEAF) else PKI.rsa
    kit = _kit(component)
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    with pytest.raises(CertificateError) as info:
        ctx.setCertificate(text, identity.key_pem())
    assert len(str(info.value)) > 10 and ctx.certificate is None
    with pytest.raises(CertificateError):
        ctx.setCertificateChain([text])
    assert ctx.chain == ()
    store = kit.TLSCertStore()
    assert store.addCertificate(text) is False, f"{case}: addCertificate() took it"
    assert store.certificates == ()
    verifier = kit.TLS(kit.client_context())
    trusted = kit.store(identity.root.cert_pem)
    _fail_with_reason(verifier.verifyCertificate(trusted, text, identity.chain_pems), case)
    for chain_identity in (PKI.ec, PKI.rsa):  # the intermediate a good leaf needs, crafted
        crafted = REFUSED[case](chain_identity.intermediates[0])
        if crafted is not None:
            trusted = kit.store(chain_identity.root.cert_pem)
            result = verifier.verifyCertificate(trusted, chain_identity.cert_pem, [crafted])
            _fail_with_reason(result, f"{case} (the intermediate)")


@pytest.mark.parametrize("component", COMPONENTS)
def test_two_leaves_where_one_is_expected(component: str) -> None:
    """setCertificate and verifyCertificate take exactly one certificate:
    a second one is refused, not silently dropped (and never the one verified
    while another is used)."""
    kit = _kit(component)
    two = LEAF.cert_pem + OTHER.cert_pem
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    with pytest.raises(CertificateError, match="2 certificates"):
        ctx.setCertificate(two, LEAF.key_pem())
    verifier = kit.TLS(kit.client_context())
    trusted = kit.store(PKI.ec.root.cert_pem, PKI.rsa.root.cert_pem)
    _fail_with_reason(verifier.verifyCertificate(trusted, two, PKI.ec.chain_pems), "two leaves")
    attacker = PKI.untrusted.cert_pem
    for text in (LEAF.cert_pem + attacker, attacker + LEAF.cert_pem):
        _fail_with_reason(verifier.verifyCertificate(trusted, text, PKI.ec.chain_pems), "two leaves, one untrusted")


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_well_formed_variants_are_kept_canonical(component: str, case: str) -> None:
    text = ACCEPTED[case]()
    kit = _kit(component)
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    assert ctx.setCertificate(text, LEAF.key_pem()) is True
    assert ctx.certificate == PEM, "the context keeps the canonical re-encoding"
    assert ctx.setCertificateChain([text]) is True and ctx.chain == (PEM,)
    store = kit.TLSCertStore()
    assert store.addCertificate(text) is True and store.certificates == (PEM,)


def test_chain_text_holds_only_certificates_and_whitespace() -> None:
    kit = _kit(COMPONENTS[0])
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    both = PKI.path_length.chain_pems
    assert ctx.setCertificateChain("\n".join(both)) is True and len(ctx.chain) == 2
    with pytest.raises(CertificateError, match="line"):
        ctx.setCertificateChain(both[0] + "junk between\n" + both[1])


# -- keys -------------------------------------------------------------------------------------------------------


def _key_der(form: serialization.PrivateFormat, cred=LEAF) -> bytes:
    return cred.key.private_bytes(serialization.Encoding.DER, form, serialization.NoEncryption())


def _traditional_encrypted() -> str:
    return OTHER.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode("ascii")


_EC_PARAMETERS = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"

#: Key texts refused, by what is wrong with them.
REFUSED_KEYS: dict[str, Callable[[], str]] = {
    "pkcs8-under-rsa-label": lambda: _armour("RSA PRIVATE KEY", _key_der(serialization.PrivateFormat.PKCS8, OTHER)),
    "sec1-under-pkcs8-label": lambda: _armour("PRIVATE KEY", _key_der(serialization.PrivateFormat.TraditionalOpenSSL)),
    "trailing-der-bytes": lambda: _armour("PRIVATE KEY", _key_der(serialization.PrivateFormat.PKCS8) + b"\x00"),
    "begin-mid-line": lambda: "x" + LEAF.key_pem(),
    "text-before": lambda: "Bag Attributes\n" + LEAF.key_pem(),
    "two-keys": lambda: LEAF.key_pem() + LEAF.key_pem(),
    "dsa-label": lambda: _armour("DSA PRIVATE KEY", _key_der(serialization.PrivateFormat.PKCS8)),
    "certificate-instead": lambda: LEAF.cert_pem,
}


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("case", sorted(REFUSED_KEYS))
def test_crafted_key_is_refused(component: str, case: str) -> None:
    kit = _kit(component)
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    cert = OTHER.cert_pem if "rsa" in case else LEAF.cert_pem
    with pytest.raises(CertificateError) as info:
        ctx.setCertificate(cert, REFUSED_KEYS[case]())
    assert len(str(info.value)) > 10 and ctx.privateKey is None


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("case", ["pkcs8", "traditional-header"])
def test_encrypted_key_says_why(component: str, case: str) -> None:
    kit = _kit(component)
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    if case == "pkcs8":
        cert, key = LEAF.cert_pem, LEAF.key_pem("encrypted")
    else:
        cert, key = OTHER.cert_pem, _traditional_encrypted()
        assert "Proc-Type: 4,ENCRYPTED" in key
    with pytest.raises(CertificateError, match="encrypted"):
        ctx.setCertificate(cert, key)


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize(
    "case",
    ["pkcs8", "sec1", "pkcs1", "ec-parameters-first", "crlf"],
)
def test_keys_are_kept_as_canonical_pkcs8(component: str, case: str) -> None:
    cred = OTHER if case == "pkcs1" else LEAF
    key = {
        "pkcs8": lambda: LEAF.key_pem(),
        "sec1": lambda: LEAF.key_pem("traditional"),
        "pkcs1": lambda: OTHER.key_pem("traditional"),
        "ec-parameters-first": lambda: _EC_PARAMETERS + LEAF.key_pem("traditional"),
        "crlf": lambda: LEAF.key_pem().replace("\n", "\r\n"),
    }[case]()
    kit = _kit(component)
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    assert ctx.setCertificate(cred.cert_pem, key) is True
    assert ctx.privateKey == cred.key_pem("pkcs8")


# -- bundles (loadLocation) --------------------------------------------------------------------------------------


def _certifi_style(pems: list[str]) -> str:
    return "".join(f"\n# Issuer: CN=root {i}\n# Label: \"root {i}\"\n{pem}" for i, pem in enumerate(pems))


@pytest.mark.parametrize("component", COMPONENTS)
def test_bundle_text_between_blocks_and_other_blocks(component: str, tmp_path: Path) -> None:
    roots = [PKI.ec.root.cert_pem, PKI.rsa.root.cert_pem]
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("A trust bundle, with comments.\n" + _certifi_style(roots) + LEAF.key_pem() + "-- the end --\n")
    store = _kit(component).TLSCertStore()
    assert store.loadLocation(str(bundle)) is True
    assert store.certificates == tuple(roots)


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("case", ["non-zero-trailing-bits", "begin-mid-line", "trailing-der-bytes", "no-end-line"])
def test_malformed_bundle_is_refused_with_a_warning(component: str, case: str, tmp_path: Path, caplog) -> None:
    """A bundle with a malformed certificate block is refused whole, as
    OpenSSL refuses it; in a directory, the other files still load."""
    bad = tmp_path / "dir" / "bad.pem"
    bad.parent.mkdir()
    bad.write_text(PKI.ec.root.cert_pem + _refused_leaf(case))
    caplog.set_level(logging.WARNING, logger="nettls")
    store = _kit(component).TLSCertStore()
    assert store.loadLocation(str(bad)) is False and store.certificates == ()
    assert any(str(bad) in r.getMessage() for r in caplog.records if r.name.startswith("nettls")), caplog.text
    (bad.parent / "good.pem").write_text(PKI.rsa.root.cert_pem)
    assert store.loadLocation(str(bad.parent)) is True
    assert store.certificates == (PKI.rsa.root.cert_pem,)


@pytest.mark.parametrize("path", ["certifi", "system"])
def test_real_bundles_parse_whole(path: str) -> None:
    """The strict rules take the bundles that exist: certifi's (comments
    between blocks) and the system's."""
    import ssl

    import certifi

    file = certifi.where() if path == "certifi" else ssl.get_default_verify_paths().cafile
    if not file or not Path(file).is_file():
        pytest.skip("no system bundle file on this machine")
    data = Path(file).read_bytes()
    expected = [c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in x509.load_pem_x509_certificates(data)]
    store = _kit(COMPONENTS[0]).TLSCertStore()
    assert store.loadLocation(file) is True
    assert store.certificates == tuple(dict.fromkeys(expected))


# -- key files (nettls serve --key, nettls.httpx cert=) ----------------------------------------------------------


def test_a_key_file_may_hold_certificates_and_text() -> None:
    from nettls.components._common.pem import file_private_key

    combined = f"Bag Attributes\n    localKeyID: 01\n{LEAF.cert_pem}{_EC_PARAMETERS}{LEAF.key_pem('traditional')}"
    assert file_private_key(combined, "server.pem") == LEAF.key_pem()
    for text, words in (
        (LEAF.cert_pem, "no '-----BEGIN"),
        (LEAF.key_pem() + OTHER.key_pem(), "2 private keys"),
        (LEAF.key_pem("encrypted"), "encrypted"),
        ("x" + LEAF.key_pem(), "marker"),
    ):
        with pytest.raises(CertificateError, match=words):
            file_private_key(text, "server.pem")


# -- contexts and stores of another implementation --------------------------------------------------------------


def test_another_implementations_pem_is_re_encoded(caplog) -> None:
    """What a foreign context or store hands over goes through the same
    parser before any library sees it: re-encoded, or refused."""
    from zope.interface import implementer

    from nettls.components._common.config import context_config, store_certificates
    from nettls.interfaces import ITLSCertStore, ITLSContext

    @implementer(ITLSContext)
    class Foreign:
        mode, cipherSet = 2, 1
        certificate = LEAF.cert_pem.replace("\n", "\r\n")
        privateKey = LEAF.key_pem("traditional")
        chain = (_armour("CERTIFICATE", PKI.ec.intermediates[0].der, width=76),)

    config = context_config(Foreign())
    assert config.certificate == LEAF.cert_pem and config.privateKey == LEAF.key_pem()
    assert config.chain == (PKI.ec.intermediates[0].cert_pem,)
    Foreign.certificate = "junk\n" + LEAF.cert_pem
    with pytest.raises(CertificateError):
        context_config(Foreign())

    @implementer(ITLSCertStore)
    class ForeignStore:
        certificates = (PKI.ec.root.cert_pem.replace("\n", "\r\n"), "x" + PKI.rsa.root.cert_pem)

    caplog.set_level(logging.WARNING, logger="nettls")
    assert store_certificates(ForeignStore()) == (PKI.ec.root.cert_pem,)
    assert "store certificate 1" in caplog.text
