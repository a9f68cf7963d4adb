"""nettls's word on a chain mbed TLS verified in the handshake.

python-mbedtls tells only whether the peer's chain verified
(``_verified``), or that it did not (an error code), never why; and mbed
TLS 2.28 knows no name constraints (it ignores one not marked critical).
So the engine asks nettls too, on the chain as the peer sent it:
``verdict`` runs nettls's verifier (SPEC 6's profile) and host-name rules
(RFC 6125) on every chain mbed TLS accepted, and the handshake goes on only
if both accept; ``explain`` says why mbed TLS refused one.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from nettls.components.kit import der_to_pem, verify_chain
from nettls.hostname import ServerName, check_host_name
from nettls.interfaces import VerifyStatus

__all__ = ["verdict", "explain"]


def _parse(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def verdict(roots: tuple[str, ...], ders: list[bytes], host: ServerName | None) -> VerifyStatus | None:
    """nettls's verdict on the chain ``ders`` (DER, leaf first, as sent):
    a FAIL naming the certificate at fault and why, or None when the chain
    verifies against ``roots`` and the leaf is valid for ``host`` (if given)."""
    certs = [_parse(der) for der in ders]
    if not certs or any(c is None for c in certs):
        return VerifyStatus(VerifyStatus.FAIL, None, "the peer's certificates could not be read")
    leaf, *chain = [c for c in certs if c is not None]
    status = verify_chain(roots, leaf, chain)
    if status.status != VerifyStatus.OK:
        return status
    if host is not None:
        reason = check_host_name(leaf, host.text)
        if reason is not None:
            return VerifyStatus(VerifyStatus.FAIL, der_to_pem(ders[0]), f"host name mismatch: {reason}")
    return None


def explain(roots: tuple[str, ...], ders: list[bytes], host: ServerName | None, server: bool) -> VerifyStatus:
    """Why mbed TLS refused the chain of a peer (a ``server``, or a client):
    nettls's verdict, else the leaf's extended key usage for that TLS role,
    else a difference between the two verifiers."""
    status = verdict(roots, ders, host)
    if status is not None:
        return status
    leaf = _parse(ders[0])
    assert leaf is not None  # (verdict read it)
    wanted = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = None
    if usages is not None and wanted not in usages and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages:
        role = "server" if server else "client"
        return VerifyStatus(VerifyStatus.FAIL, der_to_pem(ders[0]), f"the certificate's extended key usage does not allow a TLS {role}")
    return VerifyStatus(VerifyStatus.FAIL, None, "mbed TLS refused the chain, where nettls's verifier finds no fault")
