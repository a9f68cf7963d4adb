"""Running the suite in-process and tabulating its outcome per clause.

``run(["stdlib", "pyopenssl"])`` runs ``pytest --pyargs nettls.conformance``
with those components and returns ``{clause id: {component: outcome}}``,
clauses in SPEC order, where an outcome is one of:

- ``"pass"``: every case of the clause passed for the component;
- ``"fail"``: at least one case failed (or passed against a declared
  deviation: a stale entry);
- ``"deviation"``: no case failed, and at least one failed as the
  component's deviation table says it does;
- ``"skip"``: every case was skipped (an extension the component does not
  provide, a tool that is missing);
- ``"n/a"``: no case of the clause concerns the component (a TCP clause
  for a TLS component).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Sequence, TextIO

import pytest

from .clauses import CLAUSES, clause_sort_key

__all__ = ["run", "format_table", "OutcomeCollector", "ItemInfo", "OUTCOMES"]

#: Outcomes by rank: a clause takes the highest of its cases.
OUTCOMES = ("skip", "pass", "deviation", "fail")
NOT_APPLICABLE = "n/a"
_RANK = {name: i for i, name in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class ItemInfo:
    """What the suite knows of one collected test."""

    clause: str
    components: tuple[str, ...]  #: the selected components the test involves
    keys: tuple[str, ...]  #: the deviation keys naming it, most specific first


INFO_KEY = pytest.StashKey[ItemInfo]()


def _classify(report: pytest.TestReport) -> str | None:
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return "deviation"
        return "fail" if report.failed else "pass"
    if report.failed:
        return "fail"
    if report.skipped:
        return "skip"
    return "pass" if report.when == "call" else None


class OutcomeCollector:
    """A pytest plugin recording the outcome of every suite test."""

    def __init__(self) -> None:
        self.infos: dict[str, ItemInfo] = {}
        self.outcomes: dict[str, str] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            info = item.stash.get(INFO_KEY, None)
            if info is not None:
                self.infos[item.nodeid] = info

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self.infos:
            return
        outcome = _classify(report)
        if outcome is None:
            return
        previous = self.outcomes.get(report.nodeid)
        if previous is None or _RANK[outcome] > _RANK[previous]:
            self.outcomes[report.nodeid] = outcome

    def table(self, components: Sequence[str]) -> dict[str, dict[str, str]]:
        """``{clause: {component: outcome}}`` over the tests that ran."""
        cells: dict[str, dict[str, str]] = {}
        for nodeid, outcome in self.outcomes.items():
            info = self.infos[nodeid]
            row = cells.setdefault(info.clause, {})
            for name in info.components:
                previous = row.get(name)
                if previous is None or _RANK[outcome] > _RANK[previous]:
                    row[name] = outcome
        return {
            clause: {name: cells[clause].get(name, NOT_APPLICABLE) for name in components}
            for clause in sorted(cells, key=clause_sort_key)
            if any(name in cells[clause] for name in components)
        }


COLLECTOR_KEY = pytest.StashKey[OutcomeCollector]()


def format_table(table: dict[str, dict[str, str]], *, describe: bool = True) -> str:
    """The table as aligned text: one row per clause, one column per component."""
    if not table:
        return ""
    components = list(next(iter(table.values())))
    width = max(len("clause"), *(len(c) for c in table))
    widths = [max(len(c), *(len(o) for o in OUTCOMES), len(NOT_APPLICABLE)) for c in components]
    head = ["clause".ljust(width), *(c.ljust(w) for c, w in zip(components, widths))]
    lines = ["  ".join(head).rstrip()]
    for clause, row in table.items():
        cells = [clause.ljust(width), *(row[c].ljust(w) for c, w in zip(components, widths))]
        if describe:
            cells.append(CLAUSES.get(clause, ""))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


class _Grab:
    """Takes the suite's collector when the in-process run ends."""

    collector: OutcomeCollector | None = None
    components: tuple[str, ...] = ()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        from .suite import selection

        self.collector = config.stash.get(COLLECTOR_KEY, None)
        if self.collector is not None:
            self.components = selection(config).components


def run(
    components: Sequence[str],
    *,
    clauses: Sequence[str] = (),
    tcp: str | None = None,
    pytest_args: Sequence[str] = (),
    output: TextIO | None = None,
) -> dict[str, dict[str, str]]:
    """Run the conformance suite in this process; return the clause table.

    Args:
        components: component names (or "all"), as ``--nettls-component``.
        clauses: clause id prefixes to keep, as ``--nettls-clause``.
        tcp: the TCP component beneath the TLS sessions, as ``--nettls-tcp``.
        pytest_args: more pytest arguments (``-x``, ``-k EXPR``...).
        output: where pytest's report goes; None discards it.

    Returns ``{clause id: {component: outcome}}`` (see the module
    docstring), clauses in SPEC order, components as selected ("all"
    expanded). Raises ``nettls.RegistryError`` for an unknown or unavailable
    component, RuntimeError if pytest could not run the suite. Uses
    pytest-timeout's signal method where installed, so call it from the
    main thread.
    """
    import nettls

    names = [components] if isinstance(components, str) else list(components)
    if not names:
        raise ValueError("run() needs at least one component name (or 'all')")
    for name in names:
        if name != "all":
            nettls.registry.component(name)
    args = ["-p", "nettls_conformance", "-p", "no:cacheprovider", "--pyargs", "nettls.conformance", "-q"]
    for name in names:
        args += ["--nettls-component", name]
    for prefix in clauses:
        args += ["--nettls-clause", prefix]
    if tcp is not None:
        args += ["--nettls-tcp", tcp]
    args += list(pytest_args)
    grab = _Grab()
    sink: TextIO = io.StringIO() if output is None else output
    with contextlib.redirect_stdout(sink):
        code = pytest.main(args, plugins=[grab])
    if grab.collector is None or code in (
        pytest.ExitCode.INTERRUPTED,
        pytest.ExitCode.INTERNAL_ERROR,
        pytest.ExitCode.USAGE_ERROR,
    ):
        text = sink.getvalue() if isinstance(sink, io.StringIO) else ""
        raise RuntimeError(f"the conformance suite did not run (pytest exit {int(code)}): {text[-2000:]}")
    return grab.collector.table(grab.components)
