"""Benchmark 4: ``verifyCertificate``: ordinary chains per second, and hostile ones per call.

Ordinary chains (``run``): a three-certificate chain, leaf and
intermediate as PEM text on every call (what ``verifyCertificate`` is
given), the root in a store made once. Each component is measured against
its underlying library called directly with the same inputs and the same
work: parse the two PEM certificates, then verify the path under SPEC 6's
profile.

- stdlib (and the plugins): ``cryptography``'s client verifier with the
  profile's extension policies, built once per second as the component does;
- pyopenssl: OpenSSL's ``X509_verify_cert`` through ``X509StoreContext``
  with ``X509_STRICT`` and ``PARTIAL_CHAIN``, over an ``X509Store`` made once.

Hostile chains (``run_pathological``, ``python -m bench verify
--pathological``): every case of ``nettls.conformance.verify_hostile`` (5,100
certificates, thousands of names, deep name constraints, cycles, candidate
meshes) through every component, each call timed; the table shows the
worst case per component, and the run fails if any call took longer than
``BOUND_SECONDS`` (SPEC 6: well under a second).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from typing import Callable

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store
from OpenSSL import crypto

import nettls
from nettls.components._x509verify._trust import CA_POLICY, EE_POLICY

from ._common import Result, make_pki, print_table, rounds

__all__ = ["run", "run_pathological", "BOUND_SECONDS"]

COUNT = 500
#: The bound one hostile call must stay under: "well under a second".
BOUND_SECONDS = 0.5


def _direct_cryptography(root: str, leaf: str, chain: list[str]) -> Callable[[], None]:
    builder = PolicyBuilder().store(Store([x509.load_pem_x509_certificate(root.encode())]))
    builder = builder.extension_policies(ca_policy=CA_POLICY, ee_policy=EE_POLICY)
    cache: dict[int, object] = {}

    def call() -> None:
        second = int(time.time())
        verifier = cache.get(second)
        if verifier is None:
            now = datetime.datetime.fromtimestamp(second, datetime.timezone.utc)
            verifier = cache[second] = builder.time(now).build_client_verifier()
        cert = x509.load_pem_x509_certificate(leaf.encode())
        others = [x509.load_pem_x509_certificate(c.encode()) for c in chain]
        verifier.verify(cert, others)  # type: ignore[attr-defined]

    return call


def _direct_openssl(root: str, leaf: str, chain: list[str]) -> Callable[[], None]:
    store = crypto.X509Store()
    store.set_flags(crypto.X509StoreFlags.X509_STRICT | crypto.X509StoreFlags.PARTIAL_CHAIN)
    store.add_cert(crypto.load_certificate(crypto.FILETYPE_PEM, root.encode()))

    def call() -> None:
        cert = crypto.load_certificate(crypto.FILETYPE_PEM, leaf.encode())
        others = [crypto.load_certificate(crypto.FILETYPE_PEM, c.encode()) for c in chain]
        crypto.X509StoreContext(store, cert, others).verify_certificate()

    return call


def _verifier(component: str, store_pems: list[str]) -> Callable[[str, list[str]], nettls.VerifyStatus]:
    """``verifyCertificate`` of ``component`` against a store made once of ``store_pems``."""
    Store_ = nettls.resolve("net.TLSCertStore", component=component)
    Ctx = nettls.resolve("net.TLSContext", component=component)
    TLS = nettls.resolve("net.TLS", component=component)
    store = Store_()
    for pem in store_pems:
        store.addCertificate(pem)
    tls = TLS(Ctx(Ctx.CLIENT))
    return lambda leaf, chain: tls.verifyCertificate(store, leaf, chain)


def _nettls(component: str, root: str, leaf: str, chain: list[str]) -> Callable[[], None]:
    verify = _verifier(component, [root])

    def call() -> None:
        status = verify(leaf, chain)
        if status.status != status.OK:
            raise RuntimeError(f"{component}: verification failed: {status.failedReason}")

    return call


def _rate(call: Callable[[], None], count: int = COUNT) -> float:
    start = time.perf_counter()
    for _ in range(count):
        call()
    return count / (time.perf_counter() - start)


def run(repetitions: int = 5, progress: Callable[[str], None] | None = None) -> list[str]:
    cases: list[tuple[str, list[Result]]] = []
    for kind, label in (("ec", "ECDSA P-256 chain"), ("rsa", "RSA-2048 chain")):
        pki = make_pki(kind)
        args = (pki.root, pki.leaf, pki.chain)
        for component, direct_name, direct in (
            ("stdlib", "cryptography verifier, direct", _direct_cryptography(*args)),
            ("pyopenssl", "OpenSSL X509StoreContext, direct", _direct_openssl(*args)),
        ):
            calls = {direct_name: direct, f"nettls {component}": _nettls(component, *args)}
            for call in calls.values():  # warm up (and check that it verifies)
                _rate(call, 20)
            if progress:
                progress(f"verification, {label}, {component}")
            res = rounds(list(calls), lambda n: _rate(calls[n]), repetitions, direct_name, progress)
            cases.append((f"{label}, {component}", res))
    return print_table("verifyCertificate, 3-certificate chain (calls/s)", cases, "calls/s", "the direct call", repetitions)


def run_pathological(progress: Callable[[str], None] | None = None) -> list[str]:
    """Every hostile case through every component, timed; raises if a call passed ``BOUND_SECONDS``."""
    from nettls.conformance.verify_hostile import PATHOLOGICAL, pathological

    components = nettls.registry.providers("net.TLS")
    worst: dict[str, tuple[float, str]] = {}
    lines = [
        "### verifyCertificate on hostile chains (ms per call)",
        "",
        "| case | " + " | ".join(components) + " | verdict |",
        "| --- | " + " | ".join("---:" for _ in components) + " | --- |",
    ]
    for case in PATHOLOGICAL:
        if progress:
            progress(f"hostile chain {case}")
        made = pathological(case)
        store_pems, leaf, chain = made.pems()
        row, verdict = [], ""
        for component in components:
            verify = _verifier(component, store_pems)
            started = time.perf_counter()
            status = verify(leaf, chain)
            elapsed = time.perf_counter() - started
            row.append(f"{elapsed * 1000:,.1f}")
            verdict = "OK" if status.status == status.OK else f"FAIL: {status.failedReason}"
            if elapsed > worst.get(component, (-1.0, ""))[0]:
                worst[component] = (elapsed, case)
        lines.append(f"| {case} | " + " | ".join(row) + f" | {verdict[:90]} |")
    lines += ["", "Worst case per component: " + "; ".join(f"{c}: {s * 1000:,.1f} ms ({k})" for c, (s, k) in worst.items())]
    print("\n".join(lines), flush=True)
    over = {c: s for c, (s, _) in worst.items() if s > BOUND_SECONDS}
    if over:
        raise AssertionError(f"calls over the bound of {BOUND_SECONDS} s: {over}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pathological", action="store_true", help="time the hostile chains instead")
    parser.add_argument("--runs", type=int, default=5, help="rounds per case (ordinary chains)")
    args = parser.parse_args(argv)
    if args.pathological:
        run_pathological()
    else:
        run(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
