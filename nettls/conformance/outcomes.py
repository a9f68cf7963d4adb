"""What the suite records of a run: which tests are the suite's, the clause
and components of each, their outcomes, and the clause table made of them.

This module imports nothing else of the package, so the plugin (inert in
every pytest run), the suite (its active half) and the in-process runner
all import it, and never each other:

    plugin -> outcomes        suite -> outcomes, clauses
    runner -> outcomes, clauses

An outcome, per clause and component, is one of:

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

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pytest

from .clauses import CLAUSES, clause_sort_key

__all__ = [
    "SUITE_DIR",
    "in_suite",
    "ItemInfo",
    "INFO_KEY",
    "COLLECTOR_KEY",
    "OutcomeCollector",
    "OUTCOMES",
    "NOT_APPLICABLE",
    "format_table",
]

#: The directory of the suite's own test modules.
SUITE_DIR = Path(__file__).resolve().parent
#: Outcomes by rank: a clause takes the highest of its cases.
OUTCOMES = ("skip", "pass", "deviation", "fail")
NOT_APPLICABLE = "n/a"
_RANK = {name: i for i, name in enumerate(OUTCOMES)}


def in_suite(item: pytest.Item) -> bool:
    """True for a test collected from the suite's own modules."""
    try:
        return Path(item.path).resolve().is_relative_to(SUITE_DIR)
    except (OSError, ValueError):
        return False


@dataclass(frozen=True)
class ItemInfo:
    """What the suite knows of one collected test."""

    clause: str
    components: tuple[str, ...]  #: the selected components the test involves
    keys: tuple[str, ...]  #: the deviation keys naming it, most specific first
    #: the component whose deviation table names the test, if any: a pair
    #: case that fails as another component says it does judges only that one
    deviating: str | None = None


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
    """A pytest plugin recording the outcome of every suite test.

    ``components`` is the selection, in order ("all" expanded): the
    columns of ``table()`` unless told otherwise.
    """

    def __init__(self, components: Sequence[str] = ()) -> None:
        self.components = tuple(components)
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

    def table(self, components: Sequence[str] | None = None) -> dict[str, dict[str, str]]:
        """``{clause: {component: outcome}}`` over the tests that ran."""
        columns = self.components if components is None else tuple(components)
        cells: dict[str, dict[str, str]] = {}
        for nodeid, outcome in self.outcomes.items():
            info = self.infos[nodeid]
            row = cells.setdefault(info.clause, {})
            for name in info.components:
                if outcome == "deviation" and info.deviating not in (None, name):
                    continue  # not this component's failure, and it did not run to judge it
                previous = row.get(name)
                if previous is None or _RANK[outcome] > _RANK[previous]:
                    row[name] = outcome
        return {
            clause: {name: cells[clause].get(name, NOT_APPLICABLE) for name in columns}
            for clause in sorted(cells, key=clause_sort_key)
            if any(name in cells[clause] for name in columns)
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
