"""``verifyCertificate`` for the pyopenssl component: OpenSSL finds the path, the profile judges it.

Theory of operation
-------------------
SPEC 6's profile is one for every component (``nettls.components._x509verify``).
Here OpenSSL's ``X509_verify_cert`` builds and checks the path, with

- ``X509_STRICT``: the RFC 5280 encodings and the web PKI's extension rules
  OpenSSL knows (critical basicConstraints, AKI and SKI, empty subjects...);
- ``PARTIAL_CHAIN``: every store certificate is a trust anchor, as in the
  profile (not only self-signed ones).

Where OpenSSL finds no path, the profile's path building (cryptography's,
which backtracks: another order, another issuer of the same name) may know
one, and OpenSSL then checks that path; if it knows none, its diagnosis
names the certificate at fault, in the words every component uses. The
path OpenSSL accepted goes through the profile's own rules, in the
code the other components run too (``_x509verify.path_problem``): the
SPEC's additions (key sizes, DSA, serial zero, SHA-1) and the web PKI rules
``X509_STRICT`` lacks (a CA as the leaf, the CA key and signature
algorithms, unknown critical extensions, depth). Before OpenSSL runs,
``_x509verify.screen`` bounds the work (chain length, names x constraints,
candidate paths).

Certificates reach OpenSSL as DER from nettls's one PEM parse (the
session's general path parses with nettls's parser): OpenSSL never reads
the caller's text. Their OpenSSL form is kept per DER (``_native``), and
the path OpenSSL returns is mapped back to those certificates by the
``X509`` each wraps (pyOpenSSL's ``X509._x509``, a private name).

``DEVIATIONS`` lists the cases where OpenSSL cannot be brought to the
profile's verdict, keyed by the conformance case that shows each.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

from cryptography import x509
from OpenSSL import crypto

from nettls.interfaces import VerifyStatus

from .._common.pem import subject_text
from .._x509verify import fail, find_path, path_problem, prepare, trust_of

__all__ = ["DEVIATIONS", "trust_store", "verify_chain"]

#: Where OpenSSL's verdict differs from the profile's: conformance case -> why.
DEVIATIONS: dict[str, str] = {
    "6.verify-ok:profile_accepts[aki_mismatch]": "OpenSSL takes an issuer only if the child's "
    "authorityKeyIdentifier matches its subjectKeyIdentifier; the profile (cryptography) finds issuers by "
    "name and signature",
    "6.verify-ok:profile_accepts[name_constraints_leaf_cn]": "OpenSSL applies DNS name constraints to a "
    "host-name-like subject CN when the leaf has no DNS subjectAltName; the profile applies them to SANs only",
    "6.verify-ok:profile_accepts[leaf_critical_ski]": "OpenSSL does not handle a critical subjectKeyIdentifier "
    "(an unhandled critical extension); the profile permits it in an end entity",
    "6.verify-ok:profile_accepts[intermediate_without_ski]": "X509_STRICT requires a subjectKeyIdentifier of "
    "every CA; the profile permits CAs without one, as many older CAs are",
    "6.verify-ok:profile_accepts[root_without_ski_or_aki]": "X509_STRICT requires a subjectKeyIdentifier of "
    "every CA, the trust anchor too; the profile permits CAs without one (two roots of Debian's store lack it)",
    "6.verify-ok:profile_accepts[intermediate_without_aki]": "X509_STRICT requires an authorityKeyIdentifier of "
    "every certificate not self-signed; the profile requires it of the end entity only",
}

#: X509_STRICT: the web PKI's encodings; PARTIAL_CHAIN: every store certificate anchors (the profile's store).
_FLAGS = crypto.X509StoreFlags.X509_STRICT | crypto.X509StoreFlags.PARTIAL_CHAIN


def trust_store(roots: tuple[str, ...]) -> crypto.X509Store:
    """An ``X509Store`` trusting ``roots`` (PEM) under the profile's flags, built once per tuple."""
    return _native_store(roots)[0]


@functools.lru_cache(maxsize=32)
def _native_store(roots: tuple[str, ...]) -> tuple[crypto.X509Store, dict[Any, x509.Certificate]]:
    """The ``X509Store`` for ``roots``, and its certificates by the ``X509`` OpenSSL holds."""
    store = crypto.X509Store()
    store.set_flags(_FLAGS)
    anchors = {}
    for cert in trust_of(roots).certs:
        native = _native(cert)
        store.add_cert(native)
        anchors[_key(native)] = cert
    return store, anchors


@functools.lru_cache(maxsize=512)
def _native(cert: x509.Certificate) -> crypto.X509:
    """OpenSSL's parse of ``cert``'s DER, once per DER (cached by certificate
    equality, which is DER equality; OpenSSL's parse costs as much as a signature check)."""
    return crypto.X509.from_cryptography(cert)


def _key(native: crypto.X509) -> Any:
    """The OpenSSL ``X509`` that ``native`` wraps: the same for every wrapper of one certificate."""
    return native._x509


def verify_chain(roots: tuple[str, ...], leaf: x509.Certificate, chain: Sequence[x509.Certificate]) -> VerifyStatus:
    """Verify ``leaf`` with untrusted ``chain`` against ``roots`` (PEM), now:
    OpenSSL builds and checks the path, the profile's rules judge it."""
    prepared = prepare(roots, leaf, chain)
    if isinstance(prepared, VerifyStatus):
        return prepared
    trust, untrusted = prepared
    store, anchors = _native_store(roots)
    natives = [_native(c) for c in (leaf, *untrusted)]
    given = {_key(n): c for n, c in zip(natives, (leaf, *untrusted))}

    def ours(native: crypto.X509) -> x509.Certificate:
        key = _key(native)
        return given.get(key) or anchors.get(key) or native.to_cryptography()

    try:
        found = crypto.X509StoreContext(store, natives[0], natives[1:]).get_verified_chain()
    except crypto.X509StoreContextError:
        # OpenSSL keeps the first issuer it finds; the profile backtracks. Where the
        # profile finds no path either, its diagnosis names the certificate at fault
        # (as on every component); where it finds one, OpenSSL checks that path.
        other = find_path(trust, leaf, untrusted)
        if isinstance(other, VerifyStatus):
            return other
        try:
            found = crypto.X509StoreContext(store, natives[0], [_native(c) for c in other[1:-1]]).get_verified_chain()
        except crypto.X509StoreContextError as exc:
            problem = path_problem(other)  # the profile refuses that path too: say why, as the others do
            if problem is not None:
                return fail(*problem)
            failed = ours(exc.certificate)
            depth = exc.errors[1] if len(exc.errors) > 1 else "?"
            return fail(failed, f"{exc} (depth {depth}: {subject_text(failed)})")
    path = [ours(c) for c in found]
    problem = path_problem(path)
    return fail(*problem) if problem is not None else VerifyStatus(VerifyStatus.OK)
