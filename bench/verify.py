"""Benchmark 4: ``verifyCertificate`` on a three-certificate chain, per second.

Leaf and intermediate come as PEM text on every call (what
``verifyCertificate`` is given); the root is in a store made once. Each
component is measured against its underlying library called directly
with the same inputs and the same work: parse the two PEM certificates,
then verify the path.

- stdlib: ``cryptography``'s verifier (``PolicyBuilder``, a permissive
  end-entity policy, the default CA policy, a verifier built once per
  second as the component does);
- pyopenssl: OpenSSL's ``X509_verify_cert`` through ``X509StoreContext``
  over an ``X509Store`` made once.
"""

from __future__ import annotations

import datetime
import time
from typing import Callable

from cryptography import x509
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store
from OpenSSL import crypto

import nettls

from ._common import Result, make_pki, print_table, rounds

__all__ = ["run"]

COUNT = 500


def _direct_cryptography(root: str, leaf: str, chain: list[str]) -> Callable[[], None]:
    builder = PolicyBuilder().store(Store([x509.load_pem_x509_certificate(root.encode())]))
    builder = builder.extension_policies(
        ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
    )
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
    store.add_cert(crypto.load_certificate(crypto.FILETYPE_PEM, root.encode()))

    def call() -> None:
        cert = crypto.load_certificate(crypto.FILETYPE_PEM, leaf.encode())
        others = [crypto.load_certificate(crypto.FILETYPE_PEM, c.encode()) for c in chain]
        crypto.X509StoreContext(store, cert, others).verify_certificate()

    return call


def _nettls(component: str, root: str, leaf: str, chain: list[str]) -> Callable[[], None]:
    Store_ = nettls.resolve("net.TLSCertStore", component=component)
    Ctx = nettls.resolve("net.TLSContext", component=component)
    TLS = nettls.resolve("net.TLS", component=component)
    store = Store_()
    store.addCertificate(root)
    tls = TLS(Ctx(Ctx.CLIENT))

    def call() -> None:
        status = tls.verifyCertificate(store, leaf, chain)
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
