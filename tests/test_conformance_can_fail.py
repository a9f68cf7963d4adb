"""The conformance suite can fail, clause by clause, and its plugin stays
out of other test runs.

Every clause of ``nettls.conformance.CLAUSES`` has a mutant in
``tests/mutants/``: a real component with one realistic bug that breaks
that clause. Each runs in a subprocess with its own clause selected; the
clause must fail it, while the unbroken base (the control) passes it. The
core mutants are stripped of every extension interface and run with no
``openssl`` or ``curl`` on PATH: a core clause catches a core bug by itself.
(The mutants of the extension clauses are in ``test_ext_conformance_can_fail``.)
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import nettls.conformance
from nettls.conformance import CLAUSES
from nettls.conformance.checks import check_core
from nettls.conformance.makers import TLSKit

from mutants import MUTANTS, load_all
from mutants.run import batches, run_ahead, run_suite, selected_batches, verdicts

pytest_plugins = ["pytester"]

load_all()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("batch", batches(full=False), ids=lambda b: b.id)
def test_core_mutants_are_caught_by_their_own_clause(batch, request, tmp_path_factory):
    problems = verdicts(batch, run_ahead(batch, selected_batches(request), tmp_path_factory.getbasetemp()))
    assert not problems, "\n".join(problems)


def test_composable_checks_pass_a_component_and_catch_a_mutant():
    """checks.check_core on classes given as a TLSKit, registered or not."""
    from mutants.bases import FullContext, FullStore, FullTLS, PlainContext, PlainStore
    from mutants.tls_core import StatusKeptAfterData

    check_core(TLSKit("unregistered stdlib", FullTLS, FullContext, FullStore, chain_in_handshake=False))
    broken = TLSKit("status-kept-after-data", StatusKeptAfterData, PlainContext, PlainStore, chain_in_handshake=False)
    with pytest.raises(AssertionError, match="getStatus"):
        check_core(broken)


def test_every_clause_has_a_mutant():
    caught = {m.clause for m in MUTANTS.values()}
    missing = [clause for clause in CLAUSES if clause not in caught]
    assert not missing, f"clauses without a mutant in tests/mutants: {missing}"
    unknown = sorted({m.clause for m in MUTANTS.values()} - set(CLAUSES))
    assert not unknown, f"mutants of clauses the suite does not have: {unknown}"


def _suite_clauses() -> dict[str, list[str]]:
    """clause id -> the suite's tests marked with it (module.function)."""
    found: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(nettls.conformance.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"nettls.conformance.{info.name}")
        for name, fn in vars(module).items():
            if name.startswith("test_") and callable(fn) and getattr(fn, "__module__", None) == module.__name__:
                for mark in getattr(fn, "pytestmark", []):
                    if mark.name == "clause" and mark.args:
                        found.setdefault(mark.args[0], []).append(f"{info.name}.{name}")
    return found


def test_every_clause_has_a_test():
    found = _suite_clauses()
    missing = [clause for clause in CLAUSES if clause not in found]
    assert not missing, f"clauses in CLAUSES that no test of the suite checks: {missing}"
    unknown = sorted(set(found) - set(CLAUSES))
    assert not unknown, f"tests marked with clauses CLAUSES does not have: {unknown}"


def test_docs_map_every_clause_to_existing_tests():
    """docs/conformance.md names every clause, and every test it names exists."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "conformance.md").read_text()
    missing = [clause for clause in CLAUSES if f"| {clause} |" not in text]
    assert not missing, f"clauses docs/conformance.md's kill table does not list: {missing}"
    tests = {t for names in _suite_clauses().values() for t in names}
    named = set(re.findall(r"(test_\w+)::(test_\w+)", text))
    unknown = sorted(f"{m}::{f}" for m, f in named if f"{m}.{f}" not in tests)
    assert not unknown, f"docs/conformance.md names tests the suite does not have: {unknown}"


@pytest.mark.timeout(300)
def test_declared_deviation_is_expected_and_a_stale_one_fails(tmp_path):
    outcome = run_suite(
        tmp_path,
        ["declared-deviation", "stale-deviation"],
        ["6.peer-chain", "6.verify-fail"],
        env={"NETTLS_MUTANT_DEVIATIONS": "1"},
    )
    table, output = outcome.table, outcome.output
    assert table, output[-5000:]
    # A declared deviation is an expected failure, never a silent skip ...
    assert table["6.peer-chain"]["declared-deviation"] == "deviation", output[-5000:]
    assert "gives the intermediates root-first, and says so" in output
    # ... and a deviation that no longer fails shows up as a failure.
    assert table["6.verify-fail"]["stale-deviation"] == "fail"
    assert "XPASS(strict)" in output
    assert outcome.returncode == pytest.ExitCode.TESTS_FAILED


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
