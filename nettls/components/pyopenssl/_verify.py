"""``verifyCertificate`` for the pyopenssl component: OpenSSL's ``X509_verify_cert``."""

from __future__ import annotations

import binascii
import functools

from cryptography import x509
from OpenSSL import crypto

from nettls.interfaces import VerifyStatus

from .._common.pem import PEM_BEGIN, PEM_END, certificate_pem, parse_certificate


@functools.lru_cache(maxsize=32)
def trust_store(roots: tuple[str, ...]) -> crypto.X509Store:
    """An ``X509Store`` trusting ``roots`` (PEM), built once per tuple."""
    store = crypto.X509Store()
    for pem in roots:
        store.add_cert(crypto.X509.from_cryptography(parse_certificate(pem)))
    return store


def verify_chain(roots: tuple[str, ...], leaf: x509.Certificate, chain: list[x509.Certificate]) -> VerifyStatus:
    """Verify ``leaf`` with untrusted ``chain`` against ``roots`` (PEM), now,
    with OpenSSL's ``X509_verify_cert`` and no purpose (Dana's check)."""
    untrusted = [crypto.X509.from_cryptography(c) for c in chain]
    return _verify_x509(roots, crypto.X509.from_cryptography(leaf), untrusted)


def _der_size(head: bytes) -> int | None:
    """The size of the DER SEQUENCE that ``head`` (its first bytes) starts,
    if its length is in DER's minimal form; else None."""
    if len(head) < 5 or head[0] != 0x30:
        return None
    first = head[1]
    if first < 0x80:
        return 2 + first
    count = first - 0x80
    if not 1 <= count <= 3 or head[2] == 0:
        return None
    length = int.from_bytes(head[2 : 2 + count], "big")
    return 2 + count + length if length >= 0x80 else None


def _load_one(pem: object) -> crypto.X509 | None:
    """The certificate in ``pem`` when it holds exactly one, as strict base64
    of exactly one DER SEQUENCE; None for anything else (the general path
    then words the problem).

    OpenSSL's PEM reader is laxer than ``cryptography``'s: it ignores bytes
    after the DER and takes lengths not in minimal form. So before OpenSSL
    parses it, the body must be exactly as long as the base64 of the
    SEQUENCE its first bytes announce, with the padding that length needs.
    """
    if type(pem) is str:
        if not pem.isascii():
            return None
        raw = pem.encode("ascii")
    elif type(pem) is bytes:
        raw = pem
    else:
        return None
    begin = raw.find(PEM_BEGIN)
    end = raw.find(PEM_END, begin)
    if begin < 0 or end < 0 or raw.find(PEM_BEGIN, begin + 1) >= 0:
        return None
    body = raw[begin + len(PEM_BEGIN) : end].translate(None, b" \t\r\n")
    try:
        size = _der_size(binascii.a2b_base64(body[:8], strict_mode=True))
    except binascii.Error:
        return None
    if size is None:
        return None
    padding = -size % 3
    if len(body) != 4 * ((size + 2) // 3) or body.count(b"=") != padding or not body.endswith(b"=" * padding):
        return None
    try:
        return crypto.load_certificate(crypto.FILETYPE_PEM, raw)
    except crypto.Error:
        return None


def verify_pem(roots: tuple[str, ...], certificate: object, chain: object) -> VerifyStatus | None:
    """``verify_chain`` on PEM that OpenSSL parses itself; None unless the
    certificate and every chain entry are single PEM certificates."""
    leaf = _load_one(certificate)
    if leaf is None:
        return None
    untrusted: list[crypto.X509] = []
    if chain is not None:
        if not isinstance(chain, (list, tuple)):
            return None
        for item in chain:
            cert = _load_one(item)
            if cert is None:
                return None
            untrusted.append(cert)
    return _verify_x509(roots, leaf, untrusted)


def _verify_x509(roots: tuple[str, ...], leaf: crypto.X509, untrusted: list[crypto.X509]) -> VerifyStatus:
    context = crypto.X509StoreContext(trust_store(roots), leaf, untrusted)
    try:
        context.verify_certificate()
    except crypto.X509StoreContextError as exc:
        failed = exc.certificate.to_cryptography()
        subject = failed.subject.rfc4514_string() or "<empty subject>"
        depth = exc.errors[1] if len(exc.errors) > 1 else "?"
        return VerifyStatus(VerifyStatus.FAIL, certificate_pem(failed), f"{exc} (depth {depth}: {subject})")
    return VerifyStatus(VerifyStatus.OK)
