"""SPEC 6: verifyCertificate() on paths of every length, the chain in every form.

A root signs the leaf directly, or through 1, 2 or 3 intermediates. The
strict profile builds the path whatever form the chain takes (SPEC 6: "any
chain order, extra certificates"; the chain "may include the leaf and the
root"), so every form below verifies; and a path with a link missing, or
that ends at a root the store does not hold, fails with a reason.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import pytest

from nettls import VerifyStatus
from nettls.pki import Issued, issue

from .pki import same_certificate

#: The path lengths tried: intermediates between the leaf and the root.
LENGTHS = (0, 1, 2, 3)


@dataclass(frozen=True)
class Path:
    leaf: str
    intermediates: tuple[str, ...]  #: issuer first: the order a server sends them
    root: str


@dataclass(frozen=True)
class Certificates:
    paths: dict[int, Path]
    other_root: str
    #: certificates of another hierarchy: a root, an intermediate, a leaf
    unrelated: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def certificates() -> Certificates:
    """One root and its paths of every length, and an unrelated hierarchy (made once)."""
    root = issue("nettls paths root", ca=True)
    paths = {}
    for length in LENGTHS:
        issuer: Issued = root
        chain = []
        for depth in range(length):
            issuer = issue(f"nettls paths {length}: intermediate {depth + 1}", issuer=issuer, ca=True)
            chain.append(issuer)
        leaf = issue(f"nettls paths {length}: leaf", issuer=issuer, names=("paths.example",))
        paths[length] = Path(leaf.cert_pem, tuple(c.cert_pem for c in reversed(chain)), root.cert_pem)
    other = issue("nettls paths other root", ca=True)
    other_inter = issue("nettls paths other intermediate", issuer=other, ca=True)
    other_leaf = issue("nettls paths other leaf", issuer=other_inter, names=("other.example",))
    return Certificates(paths, other.cert_pem, (other.cert_pem, other_inter.cert_pem, other_leaf.cert_pem))


def _forms(path: Path, unrelated: tuple[str, ...]) -> dict[str, list[list[str]]]:
    """Every form of the chain that must verify: form -> the chains of that form."""
    sent = list(path.intermediates)
    every_order = [list(p) for p in itertools.permutations(sent)] or [[]]
    return {
        "as-sent": [sent],
        "every-order": every_order,
        "with-leaf": [[path.leaf, *c] for c in every_order],
        "with-root": [[*c, path.root] for c in every_order],
        "with-leaf-and-root": [[path.leaf, *sent, path.root], [path.root, *reversed(sent), path.leaf]],
        "with-unrelated": [[*unrelated[:i], *c, *unrelated[i:]] for c in every_order for i in range(len(unrelated) + 1)],
        "duplicated": [[*sent, *sent], [path.leaf, path.leaf, *sent]],
        "none": [[]] if not sent else [],
    }


FORMS = ("as-sent", "every-order", "with-leaf", "with-root", "with-leaf-and-root", "with-unrelated", "duplicated", "none")


@pytest.fixture
def verifier(kit):
    return kit.TLS(kit.client_context())


def _ok(result: VerifyStatus, what: str) -> None:
    assert isinstance(result, VerifyStatus), f"{what}: verifyCertificate() returned {type(result).__name__}"
    assert result.status == VerifyStatus.OK, f"{what}: refused ({result.failedReason})"


def _failed(result: VerifyStatus, what: str, culprits: list[str | None]) -> None:
    assert isinstance(result, VerifyStatus), f"{what}: verifyCertificate() returned {type(result).__name__}"
    assert result.status == VerifyStatus.FAIL, f"{what}: accepted"
    assert isinstance(result.failedReason, str) and result.failedReason.strip(), f"{what}: FAIL without a reason"
    culprit = result.failedCertificate
    if culprit is None:
        assert None in culprits, f"{what}: failedCertificate is None where the certificate at fault is known"
    else:
        assert any(c is not None and same_certificate(culprit, c) for c in culprits), f"{what}: failedCertificate is not in the path"


@pytest.mark.clause("6.verify-ok")
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("length", LENGTHS)
def test_path_verifies(kit, verifier, length, form):
    certs = certificates()
    path = certs.paths[length]
    store = kit.store(path.root)
    for i, chain in enumerate(_forms(path, certs.unrelated)[form]):
        _ok(verifier.verifyCertificate(store, path.leaf, chain), f"{length} intermediates, {form} #{i}")
    if form == "none" and not path.intermediates:
        _ok(verifier.verifyCertificate(store, path.leaf, None), "a leaf the root signed, chain None")


@pytest.mark.clause("6.verify-ok")
@pytest.mark.parametrize("length", [n for n in LENGTHS if n])
def test_trusted_intermediate_ends_the_path(kit, verifier, length):
    """Any certificate in the store is a trust anchor: the path may end at an intermediate."""
    path = certificates().paths[length]
    store = kit.store(path.intermediates[0])
    _ok(verifier.verifyCertificate(store, path.leaf, []), f"{length} intermediates, the leaf's issuer trusted")


@pytest.mark.clause("6.verify-fail")
@pytest.mark.parametrize("length", [n for n in LENGTHS if n])
def test_path_with_a_missing_link_fails(kit, verifier, length):
    path = certificates().paths[length]
    store = kit.store(path.root)
    for gap in range(length):
        chain = [c for i, c in enumerate(path.intermediates) if i != gap]
        culprits = [None, path.leaf, *chain]
        _failed(verifier.verifyCertificate(store, path.leaf, chain), f"{length} intermediates, #{gap + 1} missing", culprits)
        _failed(
            verifier.verifyCertificate(store, path.leaf, [*chain, path.root]),
            f"{length} intermediates, #{gap + 1} missing, root sent",
            [*culprits, path.root],
        )


@pytest.mark.clause("6.verify-fail")
@pytest.mark.parametrize("length", LENGTHS)
def test_path_to_another_root_fails(kit, verifier, length):
    certs = certificates()
    path = certs.paths[length]
    store = kit.store(certs.other_root)
    culprits = [None, path.leaf, *path.intermediates, path.root]
    for chain in ([*path.intermediates], [*path.intermediates, path.root], [*path.intermediates, *certs.unrelated]):
        _failed(verifier.verifyCertificate(store, path.leaf, chain), f"{length} intermediates, another root trusted", culprits)
