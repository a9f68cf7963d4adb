"""``nettls.x509.describe``: the facts of a certificate, as a record."""

from __future__ import annotations

import datetime
import subprocess

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

import nettls
from nettls.conformance import make_pki
from nettls.x509 import describe


def test_a_server_certificate_is_described() -> None:
    pki = make_pki()
    info = describe(pki.rsa.cert_pem)
    assert "localhost" in info.subject and "RSA intermediate" in info.issuer
    assert "localhost" in info.dns_names and "127.0.0.1" in info.ip_addresses
    assert info.key_type == "RSA 2048 bits" and info.key_bits == 2048
    assert info.is_ca is False
    assert info.serial_number == pki.rsa.leaf.cert.serial_number
    assert info.not_before < info.not_after
    assert "(expired)" not in info.validity()


def test_the_fingerprint_is_openssls(tmp_path) -> None:
    pem = make_pki().ec.cert_pem
    path = tmp_path / "leaf.pem"
    path.write_text(pem)
    out = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-fingerprint", "-sha256"], capture_output=True, text=True, check=True).stdout
    assert out.strip().split("=", 1)[1] == describe(pem).sha256_fingerprint
    assert describe(pem).key_type == "EC P-256 (secp256r1)"


def test_a_ca_and_an_expired_certificate() -> None:
    pki = make_pki()
    assert describe(pki.ec.root.cert_pem).is_ca is True
    assert "(expired)" in describe(pki.expired.cert_pem).validity()


def test_peer_text_is_escaped_in_lines_not_in_the_record() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "evil\x1b[2Jname\x07")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(12345).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    info = describe(cert.public_bytes(Encoding.PEM))
    assert "\x1b" in info.subject, "the record keeps the certificate's own text"
    text = "\n".join(info.lines())
    assert "\x1b" not in text and "\x07" not in text and "\\x1b" in text


def test_input_that_is_not_a_certificate_is_a_certificate_error() -> None:
    with pytest.raises(nettls.CertificateError):
        describe("not a certificate")
