"""Which certificate failed, and why, once cryptography's verifier said no.

cryptography's errors name no certificate for failures above the leaf
("candidates exhausted: ..."), so ``diagnose`` walks the candidate paths
itself: leaf first, then each issuer by name (store certificates before
the chain's), checking each link the way the verifier does (the issuer as
a CA, its validity and path length, then the signature), and reports the
failure of the path that got furthest. A certificate's own signature
algorithm or serial number does not stop the walk: a path that reaches
the store with one is reported for it, as ``path_problem`` reports it on
the path OpenSSL finds. The walk is bounded: at most ``MAX_LINKS`` signature checks,
``MAX_INTERMEDIATES`` deep, and name constraints are checked only within
``MAX_NAME_CHECKS`` (already enforced by ``screen``). When every link it
can check is sound, the library's own reason is given with no certificate.

Reasons start with OpenSSL's words where OpenSSL has some ("certificate
has expired", "unable to get local issuer certificate"), so they read the
same on every component.
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from .._common.pem import subject_text
from ._rules import MAX_INTERMEDIATES, Problem, facts, too_deep
from ._trust import Trust

__all__ = ["diagnose", "MAX_LINKS"]

#: Signature checks the diagnosis may make (each is what the verifier already did once).
MAX_LINKS = 32

#: (progress, certificate or None, reason): the failure of the path that got furthest.
_Found = tuple[int, "x509.Certificate | None", str]


def diagnose(
    leaf: x509.Certificate, untrusted: Sequence[x509.Certificate], trust: Trust, now: datetime.datetime, error: str
) -> tuple[x509.Certificate | None, str]:
    """The certificate at fault and why; ``error`` is the verifier's own reason."""
    problem = facts(leaf).as_leaf or _validity(leaf, now)
    if problem is not None:
        return leaf, problem
    if trust.holds(leaf):
        return None, f"verification failed: {error}"
    walk = _Walk(untrusted, trust, now, error)
    walk.visit([leaf], 0)
    if walk.best is None:
        return None, f"verification failed: {error}"
    return walk.best[1], walk.best[2]


def _validity(cert: x509.Certificate, now: datetime.datetime) -> str | None:
    if now < cert.not_valid_before_utc:
        return f"certificate is not yet valid: {subject_text(cert)} is valid from {_when(cert.not_valid_before_utc)}"
    if now > cert.not_valid_after_utc:
        return f"certificate has expired: {subject_text(cert)} expired {_when(cert.not_valid_after_utc)}"
    return None


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


class _Walk:
    """A bounded depth-first search for the path that gets furthest."""

    def __init__(self, untrusted: Sequence[x509.Certificate], trust: Trust, now: datetime.datetime, error: str) -> None:
        self.trust = trust
        self.now = now
        self.error = error
        self.links = 0
        self.best: _Found | None = None
        self.by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        for cert in untrusted:
            try:
                self.by_subject.setdefault(cert.subject, []).append(cert)
            except ValueError:  # a subject that does not parse issues nothing
                continue

    def note(self, progress: int, cert: x509.Certificate | None, reason: str) -> None:
        if self.best is None or progress > self.best[0]:
            self.best = (progress, cert, reason)

    def issuers(self, cert: x509.Certificate, path: list[x509.Certificate]) -> list[tuple[x509.Certificate, bool]]:
        """Candidate issuers by name, store certificates first, none already in ``path``."""
        try:
            name = cert.issuer
        except ValueError:
            return []
        trusted = self.trust.by_subject.get(name, ())
        found = [(c, True) for c in trusted if c not in path]
        found += [(c, False) for c in self.by_subject.get(name, ()) if c not in trusted and c not in path]
        return found

    def visit(self, path: list[x509.Certificate], depth: int, soft: Problem | None = None) -> None:
        """Walk up from ``path``'s last certificate. ``soft`` is the first problem found
        on ``path`` that does not stop the walk (a signature algorithm or serial number):
        it is reported when the path reaches the store, as ``path_problem`` would report it."""
        cert = path[-1]
        relied = facts(cert).relied
        soft = soft or ((cert, relied) if relied is not None else None)
        candidates = self.issuers(cert, path)
        if not candidates:
            self.note(len(path), cert, _no_issuer(cert, len(path) == 1))
            return
        for issuer, trusted in candidates:
            if self.links >= MAX_LINKS:
                self.note(len(path), None, f"verification failed; the diagnosis stopped after {MAX_LINKS} signature checks")
                return
            problem = self.link(cert, issuer, depth, soft is not None)
            if problem is not None:
                self.note(len(path) + (problem[0] is issuer), *problem)
                continue
            full = [*path, issuer]
            if trusted:
                self.note(len(full), *(soft or _name_problem(full) or (None, f"verification failed: {self.error}")))
            elif facts(issuer).self_signed:
                self.note(len(full), issuer, f"self-signed certificate in certificate chain: {subject_text(issuer)} is not in the store")
            elif depth + 1 > MAX_INTERMEDIATES:
                self.note(len(full), *(soft or (issuer, too_deep())))
            else:
                self.visit(full, depth + 1, soft)

    def link(self, child: x509.Certificate, issuer: x509.Certificate, depth: int, weak: bool) -> Problem | None:
        """What stops ``issuer`` issuing ``child`` at ``depth`` CAs below it, as the verifier
        checks it; ``weak``: the child's signature algorithm is already refused (it may not verify)."""
        reason = facts(issuer).as_ca or _validity(issuer, self.now) or _path_length(issuer, depth)
        if reason is not None:
            return issuer, reason
        self.links += 1
        try:
            child.verify_directly_issued_by(issuer)
        except InvalidSignature:
            return child, f"certificate signature failure: {subject_text(child)} is not signed by the key of {subject_text(issuer)}"
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            if not weak:
                return child, f"certificate signature cannot be checked: {subject_text(child)}: {exc}"
        return None


def _no_issuer(cert: x509.Certificate, is_leaf: bool) -> str:
    name = subject_text(cert)
    try:
        self_issued = cert.subject == cert.issuer
        issuer = cert.issuer.rfc4514_string() or "<empty>"
    except ValueError:
        self_issued, issuer = False, "<an issuer name that does not parse>"
    if self_issued:
        where = "certificate" if is_leaf else "certificate in certificate chain"
        return f"self-signed {where}: {name} is not in the store"
    return f"unable to get local issuer certificate: no issuer {issuer} of {name} in the chain or the store"


def _path_length(issuer: x509.Certificate, depth: int) -> str | None:
    bc: Any = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value  # as_ca saw it
    if bc.path_length is not None and depth > bc.path_length:
        return f"path length constraint exceeded: {subject_text(issuer)} allows {bc.path_length} CAs below it, has {depth}"
    return None


def _name_problem(path: list[x509.Certificate]) -> Problem | None:
    """The first name of ``path`` outside its CAs' name constraints (DNS names
    and IP addresses; what is left to fail once every link is sound)."""
    for depth in range(len(path) - 2, -1, -1):
        cert = path[depth]
        if depth > 0 and facts(cert).self_issued:
            continue  # RFC 5280 6.1.3 b: self-issued CAs are exempt
        names = _constrained_names(cert)
        for above in path[depth + 1 :]:
            nc = _name_constraints(above)
            if nc is None:
                continue
            for name in names:
                permitted = [s for s in nc.permitted_subtrees or () if type(s) is type(name)]
                if permitted and not any(_within(name, s) for s in permitted):
                    return cert, f"permitted subtree violation: {subject_text(cert)} names {name.value}"
                if any(_within(name, s) for s in nc.excluded_subtrees or () if type(s) is type(name)):
                    return cert, f"excluded subtree violation: {subject_text(cert)} names {name.value}"
    return None


def _name_constraints(cert: x509.Certificate) -> x509.NameConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return None


def _constrained_names(cert: x509.Certificate) -> list[x509.GeneralName]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [n for n in san if isinstance(n, (x509.DNSName, x509.IPAddress))]


def _within(name: x509.GeneralName, subtree: x509.GeneralName) -> bool:
    if isinstance(name, x509.IPAddress):
        net = subtree.value
        return isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network)) and name.value in net
    host, base = str(name.value).lower(), str(subtree.value).lower().lstrip(".")
    return not base or host == base or host.endswith("." + base)
