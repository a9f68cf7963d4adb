"""``verifyCertificate``'s profile: strict, purpose-free, the same on every component.

SPEC section 6: RFC 5280 path validation with the web PKI's structural
rules as cryptography's client verifier applies them, except that no
extended key usage, no subject alternative name and no host name is asked
of the leaf; plus RSA keys under 2048 bits, EC keys on curves under 256
bits, DSA keys, serial number zero and SHA-1 signatures refused; path
building that tries alternatives; bounded work.

Theory of operation
-------------------
*cryptography decides* (``verify_chain``: the stdlib component and the
plugins). Its ``PolicyBuilder`` client verifier runs with the web PKI's
extension policies relaxed on EKU and SAN only (``_trust.EE_POLICY``,
``CA_POLICY``); every store certificate is a trust anchor; it builds paths
with backtracking (any order, extra certificates, cross-signed roots) and
bounds its own search (signature checks, name-constraint checks, 8
intermediates).

*nettls's rules run on the path found* (``_rules.path_problem``): the
SPEC's additions (keys, serial, SHA-1), and every extension of the path
parsed (the relaxed policies leave some unread: what does not parse is a
FAIL, never an OK). The same function checks the path OpenSSL finds for
the pyopenssl component, where it also brings in the web PKI rules that
``X509_STRICT`` lacks; so both libraries reach one verdict.

*Work is bounded before any library runs* (``_bounds.screen``): at most
``MAX_CHAIN_CERTIFICATES`` chain certificates, ``MAX_NAME_CHECKS`` names x
name constraints, ``MAX_CANDIDATE_PATHS`` candidate paths; past one, FAIL
at once with a reason naming the bound.

*The diagnosis is bounded too* (``_diagnose``): cryptography's errors name
no certificate, so on failure a search of at most ``MAX_LINKS`` signature
checks finds the certificate at fault and words the reason; it never
re-runs what can explode (name constraints are checked only within the
bound ``screen`` enforced).

Everything per certificate is computed once (``_rules.facts``); the
verifier is built once per store and second.

``DEVIATIONS`` lists where this verifier and the profile differ: none, by
construction (tests/test_verify_differential.py compares it with
cryptography's verifier on generated chains). The pyopenssl component has
its own table (``nettls.components.pyopenssl._verify.DEVIATIONS``).
"""

from __future__ import annotations

import datetime
import time
from typing import Sequence

from cryptography import x509
from cryptography.x509.verification import VerificationError

from nettls.interfaces import CertificateError, VerifyStatus

from .._common.pem import certificate_pem
from ._bounds import BoundExceeded, links, screen
from ._diagnose import MAX_LINKS, diagnose
from nettls.interfaces.data import VERIFY_PROFILE

from ._rules import MAX_CANDIDATE_PATHS, MAX_CHAIN_CERTIFICATES, MAX_INTERMEDIATES, MAX_NAME_CHECKS, facts, path_problem
from ._trust import Trust, trust_of, verifier

__all__ = [
    "prepare",
    "DEVIATIONS",
    "verify_chain",
    "find_path",
    "fail",
    "screen",
    "links",
    "BoundExceeded",
    "path_problem",
    "facts",
    "Trust",
    "trust_of",
    "verifier",
    "MAX_CHAIN_CERTIFICATES",
    "MAX_INTERMEDIATES",
    "MAX_NAME_CHECKS",
    "MAX_CANDIDATE_PATHS",
    "MAX_LINKS",
    "PROFILE",
]

#: Where ``verify_chain`` departs from the profile: case id -> why. None do.
DEVIATIONS: dict[str, str] = {}

#: The profile in one line, for ``nettls verify`` and the docs.
PROFILE = f"{VERIFY_PROFILE} (at most {MAX_CHAIN_CERTIFICATES} chain certificates and {MAX_INTERMEDIATES} intermediates)"

#: What cryptography raises for input it cannot read while verifying.
_UNREADABLE = (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)
#: cryptography's own bounds, by the words of its errors, and what nettls says of them.
_LIBRARY_BOUNDS = {
    "signature check limit": "too many candidate paths: the verifier's bound on signature checks was reached",
    "name constraint check limit": "too many names x name constraints: the verifier's bound was reached",
}


def fail(culprit: x509.Certificate | None, reason: str) -> VerifyStatus:
    """A FAIL naming ``culprit`` (None: cannot tell which) and why."""
    return VerifyStatus(VerifyStatus.FAIL, certificate_pem(culprit) if culprit is not None else None, reason)


def verify_chain(roots: tuple[str, ...], leaf: x509.Certificate, chain: Sequence[x509.Certificate]) -> VerifyStatus:
    """Verify ``leaf`` with untrusted ``chain`` against the PEM ``roots``, now.

    ``chain`` may hold the leaf, the root, duplicates and unrelated
    certificates, in any order. OK exactly when cryptography's verifier
    finds a path under the profile's policies and nettls's rules hold on
    it; else FAIL with the certificate at fault and the reason.
    """
    prepared = prepare(roots, leaf, chain)
    if isinstance(prepared, VerifyStatus):
        return prepared
    trust, untrusted = prepared
    path = find_path(trust, leaf, untrusted)
    if isinstance(path, VerifyStatus):
        return path
    problem = path_problem(path)
    return fail(*problem) if problem is not None else VerifyStatus(VerifyStatus.OK)


def prepare(
    roots: tuple[str, ...], leaf: x509.Certificate, chain: Sequence[x509.Certificate]
) -> tuple[Trust, list[x509.Certificate]] | VerifyStatus:
    """What every verifier does first: the trust anchors, and the chain
    screened against the bounds (SPEC 6); a FAIL when either is refused."""
    if not roots:
        return fail(None, "the certificate store is empty: nothing is trusted")
    try:
        trust = trust_of(roots)
        return trust, screen(leaf, chain, trust)
    except CertificateError as exc:
        return fail(None, str(exc))
    except BoundExceeded as exc:
        return fail(exc.culprit, exc.reason)


def find_path(trust: Trust, leaf: x509.Certificate, untrusted: list[x509.Certificate]) -> list[x509.Certificate] | VerifyStatus:
    """The path (leaf first) cryptography's verifier finds under the profile's
    policies, now; else a FAIL naming the certificate at fault (``diagnose``)."""
    second = int(time.time())
    try:
        return verifier(trust, second).verify(leaf, links(untrusted)).chain
    except VerificationError as exc:
        error = str(exc)
        bound = next((words for key, words in _LIBRARY_BOUNDS.items() if key in error), None)
        if bound is not None:
            return fail(None, f"{bound} ({error})")
        now = datetime.datetime.fromtimestamp(second, datetime.timezone.utc)
        return fail(*diagnose(leaf, untrusted, trust, now, error))
    except _UNREADABLE as exc:
        return fail(None, f"a certificate does not parse: {exc}")
