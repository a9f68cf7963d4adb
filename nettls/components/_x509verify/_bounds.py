"""Bounded work: what a chain may cost, checked before any library sees it.

The libraries bound themselves too (cryptography: 128 signature checks and
2**20 name-constraint checks; OpenSSL: 2**20 name checks, depth 100), but
at different places and late: past one of their bounds cryptography
FAILs where OpenSSL, which does not backtrack, may still find a path. So
nettls's bounds come first, at or below theirs, and the same on every
component: past one, FAIL at once with a reason that names it.
"""

from __future__ import annotations

from typing import Sequence

from cryptography import x509

from ._rules import (
    MAX_CANDIDATE_PATHS,
    MAX_CHAIN_CERTIFICATES,
    MAX_INTERMEDIATES,
    MAX_NAME_CHECKS,
    facts,
    too_many_name_checks,
)
from ._trust import Trust

__all__ = ["screen", "links", "BoundExceeded"]


class BoundExceeded(Exception):
    """A bound was exceeded: ``culprit`` is the certificate it is counted from (or None)."""

    def __init__(self, culprit: x509.Certificate | None, reason: str) -> None:
        super().__init__(reason)
        self.culprit = culprit
        self.reason = reason


def screen(leaf: x509.Certificate, chain: Sequence[x509.Certificate], trust: Trust) -> list[x509.Certificate]:
    """``chain`` less the leaf and duplicates; ``BoundExceeded`` past a bound."""
    if len(chain) > MAX_CHAIN_CERTIFICATES:
        raise BoundExceeded(
            None, f"chain too long: {len(chain)} certificates given, at most {MAX_CHAIN_CERTIFICATES} are accepted"
        )
    untrusted: list[x509.Certificate] = []
    seen = {leaf.signature}
    for cert in chain:
        if cert.signature not in seen:
            seen.add(cert.signature)
            untrusted.append(cert)
    constraints = trust.constraints + sum(facts(c).constraints for c in untrusted)
    if constraints:
        checks = (facts(leaf).names + sum(facts(c).names for c in untrusted)) * constraints
        if checks > MAX_NAME_CHECKS:
            raise BoundExceeded(leaf, too_many_name_checks(checks))
    # One chain certificate offers at most MAX_INTERMEDIATES + 2 tries per store namesake: not worth counting.
    if len(untrusted) > 1 and _candidates(leaf, links(untrusted), trust) > MAX_CANDIDATE_PATHS:
        raise BoundExceeded(
            leaf, f"too many candidate paths: the chain offers more than {MAX_CANDIDATE_PATHS} issuers to try (the bound)"
        )
    return untrusted


def links(untrusted: list[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates of ``untrusted`` that can be links of a path: not the
    self-signed ones (a store certificate anchors instead; to a path builder
    that backtracks, a self-signed certificate is a loop)."""
    return [cert for cert in untrusted if not facts(cert).self_signed]


def _candidates(leaf: x509.Certificate, untrusted: list[x509.Certificate], trust: Trust) -> int:
    """How many candidate issuers a backtracking path builder may try, by names
    alone, revisiting certificates as cryptography's does; counted up to just past the bound.

    From a certificate naming issuer N: each store certificate with subject
    N is one try (a path ends there), each chain certificate with subject N
    is one try plus the tries above it, down to ``MAX_INTERMEDIATES``.
    """
    by_subject: dict[bytes, list[bytes]] = {}  # subject -> the issuers named by chain certificates bearing it
    for cert in untrusted:
        fact = facts(cert)
        by_subject.setdefault(fact.subject, []).append(fact.issuer)
    memo: dict[tuple[bytes, int], int] = {}

    def tries(issuer: bytes, depth: int) -> int:
        key = (issuer, depth)
        if key not in memo:
            total = trust.by_subject_der.get(issuer, 0)
            if depth <= MAX_INTERMEDIATES:
                for above in by_subject.get(issuer, ()):
                    total += 1 + tries(above, depth + 1)
                    if total > MAX_CANDIDATE_PATHS:
                        break
            memo[key] = min(total, MAX_CANDIDATE_PATHS + 1)
        return memo[key]

    return tries(facts(leaf).issuer, 0)
