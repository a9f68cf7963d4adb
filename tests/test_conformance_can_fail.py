"""The conformance suite can fail, and its plugin stays out of other test runs.

Deliberately broken components (subclasses of whatever the registry's
``stdlib`` and ``tcp`` classes are) are registered at run time by a small
plugin module, and the suite runs against them in a subprocess (so they
never reach this process's registry). Each must fail exactly the clauses
its breakage violates, while the real component passes them.
"""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

BROKEN_COMPONENTS = '''
import os
import socket
import struct

import nettls
from nettls import Component, VerifyStatus

TLS = nettls.resolve("net.TLS", component="stdlib")
CONTEXT = nettls.resolve("net.TLSContext", component="stdlib")
STORE = nettls.resolve("net.TLSCertStore", component="stdlib")


class NoLeafTLS(TLS):
    """Forgets the leaf at the head of the chain."""

    def getPeerCertChain(self):
        return super().getPeerCertChain()[1:]


class OverReportingTLS(TLS):
    """Claims every send() wrote everything."""

    def send(self, data):
        super().send(data)
        return len(memoryview(data).cast("B"))


class LaxVerifyTLS(TLS):
    """Trusts everything."""

    def verifyCertificate(self, store, certificate, chain):
        return VerifyStatus(VerifyStatus.OK)


def tls_component(name, tls, deviations=None):
    nettls.registry.register(
        Component(
            name=name,
            provides={"net.TLS": tls, "net.TLSContext": CONTEXT, "net.TLSCertStore": STORE},
            deviations=deviations or {},
        )
    )


tls_component("no-leaf", NoLeafTLS)
tls_component("over-report", OverReportingTLS)
tls_component("lax-verify", LaxVerifyTLS)
DROPS_LEAF = "drops the leaf, and says so"
tls_component(
    "no-leaf-declared",
    NoLeafTLS,
    {
        "6.peer-chain:client_sees_chain_as_sent": DROPS_LEAF,
        "6.peer-chain:chain_order_is_kept": DROPS_LEAF,
        "6.peer-chain:session_client_to_openssl_server": DROPS_LEAF,
    },
)
tls_component("stale-deviation", TLS, {"6.verify-fail:expired_leaf": "a deviation it does not have"})

SOCKET = nettls.resolve("net.TCPSocket", component="tcp")


class AbruptSocket(SOCKET):
    """disconnect() resets the connection: queued bytes are thrown away."""

    def disconnect(self):
        fd = self.fileno()
        if fd >= 0:
            with socket.socket(fileno=os.dup(fd)) as dup:
                dup.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        super().disconnect()


nettls.registry.register(
    Component(
        name="tcp-abrupt",
        provides={
            "net.TCPSocket": AbruptSocket,
            "net.TCPServerSocket": nettls.resolve("net.TCPServerSocket", component="tcp"),
            "net.TCPMonitor": nettls.resolve("net.TCPMonitor", component="tcp"),
        },
    )
)
'''


def run_suite(pytester, *args):
    """Run the suite in a subprocess with the broken components registered;
    returns the pytest result and the clause table."""
    pytester.makepyfile(broken_components=BROKEN_COMPONENTS)
    report = pytester.path / "table.json"
    result = pytester.runpytest_subprocess(
        "-p", "broken_components", "-p", "no:cacheprovider", "-rxX", "--pyargs", "nettls.conformance",
        "--nettls-report", str(report), *args, timeout=300,
    )
    table = json.loads(report.read_text()) if report.exists() else {}
    return result, table


def _cells(table, clause):
    assert clause in table, f"clause {clause} did not run; table: {table}"
    return table[clause]


def test_broken_tls_components_are_caught(pytester):
    names = ["stdlib", "no-leaf", "over-report", "lax-verify", "no-leaf-declared", "stale-deviation"]
    clauses = ["6.peer-chain", "6.verify-ok", "6.verify-fail", "7.send-count", "7.delivery"]
    args = [a for n in names for a in ("--nettls-component", n)] + [a for c in clauses for a in ("--nettls-clause", c)]
    result, table = run_suite(pytester, *args)
    output = result.stdout.str()
    assert table, output[-5000:]
    for clause in clauses:
        assert _cells(table, clause)["stdlib"] == "pass", f"the control failed {clause}:\n{output[-5000:]}"
    assert _cells(table, "6.peer-chain")["no-leaf"] == "fail"
    assert _cells(table, "7.send-count")["over-report"] == "fail"
    assert _cells(table, "7.delivery")["over-report"] == "fail"
    assert _cells(table, "6.verify-fail")["lax-verify"] == "fail"
    assert _cells(table, "6.verify-ok")["lax-verify"] == "pass", "a lax verifier still accepts good paths"
    # A declared deviation is an expected failure, never a silent skip ...
    assert _cells(table, "6.peer-chain")["no-leaf-declared"] == "deviation"
    assert "drops the leaf, and says so" in output
    # ... and a deviation that no longer fails shows up as a failure.
    assert _cells(table, "6.verify-fail")["stale-deviation"] == "fail"
    assert "XPASS(strict)" in output
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_resetting_tcp_component_loses_one_way_data(pytester):
    result, table = run_suite(
        pytester, "--nettls-component", "stdlib", "--nettls-tcp", "tcp-abrupt", "--nettls-clause", "7.one-way"
    )
    assert _cells(table, "7.one-way-tls13")["stdlib"] == "fail", result.stdout.str()[-5000:]
    result.stdout.fnmatch_lines(["*lost data*"])


def test_suite_is_inert_without_the_option(pytester):
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--pyargs", "nettls.conformance", "-rs", timeout=120)
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) > 0 and "passed" not in outcomes and "failed" not in outcomes
    result.stdout.fnmatch_lines(["*pass --nettls-component NAME*"])


def test_other_projects_see_no_fixtures_and_no_changes(pytester):
    pytester.makepyfile(
        test_unrelated="""
        import pytest

        def test_plugin_loaded(request):
            assert request.config.pluginmanager.has_plugin("nettls_conformance")
            assert not request.config.pluginmanager.has_plugin("nettls-conformance-suite")

        @pytest.mark.parametrize("mode", ["only-mine"])
        def test_my_own_mode(mode):
            assert mode == "only-mine"

        def test_no_pki_fixture_leaks(pki):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers", timeout=120)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'pki' not found*"])


def test_unknown_component_is_a_usage_error(pytester):
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--pyargs", "nettls.conformance", "--nettls-component", "no-such-component", timeout=120
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no-such-component*"])
