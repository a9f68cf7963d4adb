"""The conformance suite against every built-in component, and every plugin
component installed beside it (plugins/), run the way a third party runs it
(``pytest --pyargs nettls.conformance --nettls-component NAME``), one
process per component, two at a time; ``nettls.conformance.run()`` in this
process is tested on a few clauses below."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

import nettls

from nettls.conformance import CLAUSES, format_table, run

#: The components this distribution ships (setup.cfg, nettls.components).
BUILTIN = ("tcp", "stdlib", "pyopenssl")
#: Those, and every other available component (the plugins, when installed).
COMPONENTS = sorted(set(BUILTIN) | {s.name for s in nettls.registry.components() if s.available})


#: Component runs at a time: each is a whole suite run, mostly CPU, and CI
#: machines have at least 2 cores.
PARALLEL = 2
_runs: dict[str, Future[tuple[dict, str]]] = {}
_pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="conformance")


def _suite(name: str, workdir: Path) -> tuple[dict, str]:
    """The clause table of one component's run, and pytest's output."""
    report = workdir / "report.json"
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "--pyargs", "nettls.conformance"]
    args += ["--nettls-component", name, "--nettls-report", str(report)]
    proc = subprocess.run(args, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=280)
    table = json.loads(report.read_text()) if report.exists() else {}
    return table, proc.stdout + proc.stderr


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", COMPONENTS)
def test_component_conforms(name, tmp_path_factory):
    for ahead in COMPONENTS[COMPONENTS.index(name) : COMPONENTS.index(name) + PARALLEL]:
        if ahead not in _runs:
            _runs[ahead] = _pool.submit(_suite, ahead, tmp_path_factory.mktemp(f"conformance-{ahead}"))
    table, output = _runs.pop(name).result()
    assert table, output[-5000:]
    assert set(table) <= set(CLAUSES)
    failed = [clause for clause, row in table.items() if row[name] == "fail"]
    assert not failed, f"{name} fails {', '.join(failed)}\n{format_table(table)}\n{output[-20000:]}"


def test_run_tabulates_by_clause_and_component():
    table = run(["stdlib", "tcp"], clauses=["1.", "3."])
    assert list(table) == ["1.interfaces", "3.constants"]
    assert table["1.interfaces"] == {"stdlib": "pass", "tcp": "pass"}
    text = format_table(table)
    assert text.splitlines()[0].split() == ["clause", "stdlib", "tcp"]


def test_run_refuses_unknown_components():
    import nettls

    with pytest.raises(nettls.RegistryError):
        run(["no-such-component"])


def test_public_names():
    import nettls.conformance as conformance

    for name in conformance.__all__:
        assert getattr(conformance, name) is not None, name
    with pytest.raises(AttributeError):
        conformance.no_such_name  # noqa: B018


def test_a_pair_case_deviating_for_one_component_does_not_mark_the_other():
    """A (session, context) case xfailed by mbedtls's deviation table says
    "deviation" in mbedtls's column only; stdlib's cell comes from the cases
    that judged it."""
    from types import SimpleNamespace

    from nettls.conformance.outcomes import ItemInfo, OutcomeCollector

    collector = OutcomeCollector(["stdlib", "mbedtls"])
    collector.infos = {
        "pair": ItemInfo("11.ext-context-any", ("mbedtls", "stdlib"), ("11.ext-context-any",), deviating="mbedtls"),
        "alone": ItemInfo("11.ext-context-any", ("stdlib",), ("11.ext-context-any",)),
    }
    xfailed = SimpleNamespace(nodeid="pair", wasxfail="deviation of mbedtls", skipped=True, failed=False, when="call")
    passed = SimpleNamespace(nodeid="alone", skipped=False, failed=False, when="call")
    for report in (xfailed, passed):
        collector.pytest_runtest_logreport(report)  # type: ignore[arg-type]
    assert collector.table() == {"11.ext-context-any": {"stdlib": "pass", "mbedtls": "deviation"}}
