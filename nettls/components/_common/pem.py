"""PEM handling shared by every TLS component: parse, normalise, check.

Certificates are kept as canonical PEM text (what ``cryptography`` writes),
private keys as unencrypted PKCS#8 PEM, so that a context or store made by
one component can be read by a session of any other (SPEC section 8).
Every failure is a ``CertificateError`` that says what was wrong.
"""

from __future__ import annotations

import base64
import os
import tempfile
from contextlib import contextmanager
from typing import Iterator, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from nettls.interfaces import CertificateError

__all__ = [
    "PEM_BEGIN",
    "PEM_END",
    "as_bytes",
    "parse_certificates",
    "parse_certificate",
    "parse_private_key",
    "certificate_pem",
    "key_pem",
    "der_to_pem",
    "pem_to_der",
    "check_key_matches",
    "subject_text",
    "private_file",
]

#: The lines around a PEM certificate.
PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
PEM_END = b"-----END CERTIFICATE-----"


def as_bytes(data: object, what: str) -> bytes:
    """``data`` (str or bytes-like) as bytes; else CertificateError naming ``what``."""
    if isinstance(data, str):
        try:
            return data.encode("ascii")
        except UnicodeEncodeError:
            raise CertificateError(f"{what} is not PEM: it holds non-ASCII text") from None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise CertificateError(f"{what} must be PEM text (str or bytes), not {type(data).__name__}")


def parse_certificates(data: object, what: str = "certificate") -> list[x509.Certificate]:
    """Every certificate in PEM ``data``, in order; CertificateError if none parses."""
    raw = as_bytes(data, what)
    if PEM_BEGIN not in raw:
        raise CertificateError(f"{what} is not a PEM certificate (no '{PEM_BEGIN.decode()}' line)")
    try:
        return x509.load_pem_x509_certificates(raw)
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is not a ValueError
        raise CertificateError(f"{what} does not parse as a PEM certificate: {exc}") from exc


def parse_certificate(data: object, what: str = "certificate") -> x509.Certificate:
    """The single certificate in PEM ``data`` (the first, if several)."""
    return parse_certificates(data, what)[0]


def parse_private_key(data: object) -> PrivateKeyTypes:
    """An unencrypted PEM private key: PKCS#8, or traditional (PKCS#1, SEC1)."""
    raw = as_bytes(data, "private key")
    if b"-----BEGIN" not in raw or b"PRIVATE KEY-----" not in raw:
        raise CertificateError("private key is not a PEM private key (no '-----BEGIN ... PRIVATE KEY-----' line)")
    if b"ENCRYPTED" in raw or b"Proc-Type: 4,ENCRYPTED" in raw:
        raise CertificateError("private key is encrypted; nettls takes unencrypted keys only")
    try:
        return serialization.load_pem_private_key(raw, password=None)
    except TypeError as exc:  # cryptography: "Password was not given but private key is encrypted"
        raise CertificateError(f"private key is encrypted; nettls takes unencrypted keys only ({exc})") from exc
    except (ValueError, x509.UnsupportedGeneralNameType) as exc:
        raise CertificateError(f"private key does not parse: {exc}") from exc
    except Exception as exc:  # e.g. UnsupportedAlgorithm
        raise CertificateError(f"private key is not usable: {exc}") from exc


def certificate_pem(cert: x509.Certificate) -> str:
    """Canonical PEM text of ``cert``."""
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_pem(key: PrivateKeyTypes) -> str:
    """``key`` as unencrypted PKCS#8 PEM text."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def check_key_matches(cert: x509.Certificate, key: PrivateKeyTypes) -> None:
    """CertificateError unless ``key`` is the private half of ``cert``'s public key."""
    try:
        matches = cert.public_key() == key.public_key()
    except Exception:  # unusual key types: compare encodings instead
        matches = False
    if not matches:
        raise CertificateError(f"private key does not match the certificate (subject {subject_text(cert)})")


def subject_text(cert: x509.Certificate) -> str:
    """The subject as RFC 4514 text, for messages; cryptography parses it
    lazily, so a malformed one is said to be so rather than raising."""
    try:
        return cert.subject.rfc4514_string() or "<empty>"
    except ValueError:
        return "<a subject that does not parse>"


def der_to_pem(der: bytes) -> str:
    """PEM text of a DER certificate, without parsing it."""
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def pem_to_der(pem: str) -> bytes:
    """DER bytes of one canonical PEM certificate."""
    body = pem.strip().splitlines()[1:-1]
    return base64.b64decode("".join(body))


@contextmanager
def private_file(parts: Sequence[str]) -> Iterator[str]:
    """A path holding ``parts`` joined, for libraries that read only files.

    On Linux an anonymous memory file (``memfd``), so key material never
    touches a disk; elsewhere a mode-0600 temporary file, removed as soon
    as the ``with`` block ends.
    """
    data = "".join(p if p.endswith("\n") else p + "\n" for p in parts).encode("ascii")
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("nettls-key", getattr(os, "MFD_CLOEXEC", 0))
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="nettls-", suffix=".pem")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        os.unlink(path)
