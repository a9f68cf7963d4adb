"""``describe(pem)``: what a person wants to know of a certificate.

The same facts the command line prints (subject, issuer, names, validity,
key, fingerprint, CA or not), as a record a program can use. The text
fields are the certificate's own, unescaped: they come from a peer, so
``CertificateDescription.lines()`` escapes control characters before they
reach a terminal or a log (``nettls.escape``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from .components._common.pem import parse_certificate
from .escape import escape_control

__all__ = ["CertificateDescription", "describe"]

_TIME = "%Y-%m-%d %H:%M:%S UTC"
#: The NIST curves by the names people know them by.
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass(frozen=True)
class CertificateDescription:
    """A certificate, described.

    Attributes:
        subject, issuer: the names in the certificate's own order, as
            OpenSSL prints them ("O=nettls, CN=host"; "" for an empty name).
        dns_names, ip_addresses: the subject alternative names.
        not_before, not_after: the validity period (UTC).
        key_type: "RSA 2048 bits", "EC P-256 (secp256r1)", "Ed25519", ...
        key_bits: the key's size in bits (0 where it has none).
        sha256_fingerprint: upper-case hex pairs joined by colons, as
            ``openssl x509 -fingerprint -sha256`` prints it.
        is_ca: basicConstraints says CA:TRUE.
        serial_number: the serial, as an int.
    """

    subject: str
    issuer: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    key_type: str
    key_bits: int
    sha256_fingerprint: str
    is_ca: bool
    serial_number: int

    def validity(self, now: datetime.datetime | None = None) -> str:
        """The validity period as text, saying whether it has expired or not begun."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        text = f"{self.not_before.strftime(_TIME)} to {self.not_after.strftime(_TIME)}"
        if now > self.not_after:
            text += " (expired)"
        elif now < self.not_before:
            text += " (not yet valid)"
        return text

    def lines(self) -> list[str]:
        """One line a fact, peer text escaped: fit for a terminal or a log."""
        names = [escape_control(n) for n in self.dns_names] + list(self.ip_addresses)
        return [
            f"subject:     {escape_control(self.subject) or '(empty)'}",
            f"issuer:      {escape_control(self.issuer) or '(empty)'}",
            f"names:       {', '.join(names) or '(none)'}",
            f"validity:    {self.validity()}",
            f"key:         {self.key_type}",
            f"CA:          {'yes' if self.is_ca else 'no'}",
            f"SHA-256:     {self.sha256_fingerprint}",
        ]


def _key(cert: x509.Certificate) -> tuple[str, int]:
    try:
        key = cert.public_key()
    except Exception as exc:  # an algorithm cryptography does not support
        return f"unknown ({type(exc).__name__})", 0
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = key.curve.name
        return (f"EC {_CURVES[name]} ({name})" if name in _CURVES else f"EC {name}"), key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size} bits", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, 0


def _names(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return tuple(san.get_values_for_type(x509.DNSName)), tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except Exception:  # none, or names cryptography cannot read (x400Address, two SAN extensions, ...)
        return (), ()


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except Exception:  # none, or one that does not parse
        return False


def _openssl_order(name: x509.Name) -> str:
    try:
        return ", ".join(rdn.rfc4514_string() for rdn in name.rdns)
    except Exception:  # an attribute cryptography cannot render
        return "(unreadable name)"


def describe(certificate: str | bytes | x509.Certificate) -> CertificateDescription:
    """Describe ``certificate``: one PEM certificate (str or bytes) or a
    ``cryptography`` certificate.

    Raises:
        nettls.CertificateError: the text is not one certificate (also a ValueError).
    """
    cert = certificate if isinstance(certificate, x509.Certificate) else parse_certificate(certificate)
    dns, ips = _names(cert)
    key_type, bits = _key(cert)
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return CertificateDescription(
        subject=_openssl_order(cert.subject),
        issuer=_openssl_order(cert.issuer),
        dns_names=dns,
        ip_addresses=ips,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_bits=bits,
        sha256_fingerprint=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        is_ca=_is_ca(cert),
        serial_number=cert.serial_number,
    )
