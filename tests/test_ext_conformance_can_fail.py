"""The TLS-extension clauses of the conformance suite can fail.

Deliberately broken components, each a subclass of the registry's
``stdlib`` classes that breaks one extension, are registered at run time by
a small plugin module; the suite runs against them in a subprocess (as in
``test_conformance_can_fail.py``). Each must fail the clause its breakage
violates, while the real component passes it.
"""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

BROKEN_COMPONENTS = '''
import dataclasses

import nettls
from nettls import Component

TLS = nettls.resolve("net.TLS", component="stdlib")
CONTEXT = nettls.resolve("net.TLSContext", component="stdlib")
STORE = nettls.resolve("net.TLSCertStore", component="stdlib")


def ignoring(**defaults):
    """A TLS class whose native context ignores some settings of its context."""

    class Ignoring(TLS):
        def _native_context(self, config):
            return super()._native_context(dataclasses.replace(config, **defaults))

    return Ignoring


class NoALPN(TLS):
    def getApplicationProtocol(self):
        return None


class AlwaysClean(TLS):
    def endedCleanly(self):
        ended = super().endedCleanly()
        return None if ended is None else True


class NoResume(TLS):
    def setResumptionData(self, data):
        super().setResumptionData(data)
        self._resume = None
        return True


def tls_component(name, tls):
    nettls.registry.register(
        Component(name=name, provides={"net.TLS": tls, "net.TLSContext": CONTEXT, "net.TLSCertStore": STORE})
    )


tls_component("lax-host-name", ignoring(verifyHostName=False))
tls_component("no-client-certs", ignoring(clientCertificatePolicy=0, clientCertificateTrust=()))
tls_component("no-sni-certs", ignoring(nameCertificates=()))
tls_component("no-alpn", NoALPN)
tls_component("always-clean", AlwaysClean)
tls_component("no-resume", NoResume)
'''

#: broken component -> the clause it must fail
EXPECTED = {
    "lax-host-name": "11.verify-on-connect",
    "no-client-certs": "11.client-certificates",
    "no-sni-certs": "11.name-certificates",
    "no-alpn": "11.alpn",
    "always-clean": "11.end-of-stream",
    "no-resume": "11.resumption",
}


@pytest.mark.timeout(300)
def test_broken_extensions_are_caught(pytester):
    pytester.makepyfile(broken_extension_components=BROKEN_COMPONENTS)
    report = pytester.path / "table.json"
    names = ["stdlib", *EXPECTED]
    args = [a for n in names for a in ("--nettls-component", n)]
    args += [a for c in sorted(set(EXPECTED.values())) for a in ("--nettls-clause", c)]
    result = pytester.runpytest_subprocess(
        "-p", "broken_extension_components", "-p", "no:cacheprovider", "--pyargs", "nettls.conformance",
        "--nettls-report", str(report), *args, timeout=280,
    )  # fmt: skip
    output = result.stdout.str()
    table = json.loads(report.read_text()) if report.exists() else {}
    assert table, output[-5000:]
    for broken, clause in EXPECTED.items():
        assert table[clause]["stdlib"] == "pass", f"the control failed {clause}:\n{output[-5000:]}"
        assert table[clause][broken] == "fail", f"{broken} passed {clause}: {table[clause]}"
    assert result.ret == pytest.ExitCode.TESTS_FAILED
