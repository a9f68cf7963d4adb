"""A pytest plugin for a conformance run against mutants (``-p mutants.plugin``).

At import it registers the control components (``plain``, ``plain-tcp``)
and the mutants named in ``NETTLS_MUTANTS`` (comma separated), each as a
component of its own. During the run it keeps every mutant to the tests of
its own clause, and stops trying a mutant once one of its tests failed:
the rest of its clause is skipped ("caught already"), which leaves the
clause's outcome a failure.
"""

from __future__ import annotations

import os

import pytest

import nettls
from nettls import Component
from nettls.conformance.outcomes import INFO_KEY

from . import MUTANTS, load_all, provides
from .bases import CONTROLS

#: The environment variable naming the mutants to register.
VARIABLE = "NETTLS_MUTANTS"
#: Set, it also registers the components of the deviation table's test.
DEVIATIONS_VARIABLE = "NETTLS_MUTANT_DEVIATIONS"
DECLARED_REASON = "gives the intermediates root-first, and says so"


def _register() -> dict[str, str]:
    """Register the controls and the named mutants; returns mutant -> clause."""
    load_all()
    for name, classes in CONTROLS.items():
        nettls.registry.register(Component(name=name, provides=dict(classes), description="mutant control"))
    wanted = [n.strip() for n in os.environ.get(VARIABLE, "").split(",") if n.strip()]
    unknown = [n for n in wanted if n not in MUTANTS]
    if unknown:
        raise pytest.UsageError(f"{VARIABLE}: no mutant named {', '.join(unknown)}")
    for name in wanted:
        m = MUTANTS[name]
        nettls.registry.register(Component(name=name, provides=provides(m), description=m.bug))
    if os.environ.get(DEVIATIONS_VARIABLE):
        _register_deviations()
    return {name: MUTANTS[name].clause for name in wanted}


def _register_deviations() -> None:
    """Two components for the deviation table's own test: one that declares
    the deviation its bug is (an expected failure), one that declares a
    deviation it does not have (a stale entry, which must fail the run)."""
    reversed_chain = MUTANTS["reversed-intermediates"]
    declared = {
        f"6.peer-chain:chain_order_is_kept[{mode}-{sent}]": DECLARED_REASON
        for mode in ("blocking", "nonblocking")
        for sent in ("with-root", "two-intermediates")
    }
    nettls.registry.register(Component(name="declared-deviation", provides=provides(reversed_chain), deviations=declared))
    stale = {"6.verify-fail:expired_leaf": "a deviation it does not have"}
    nettls.registry.register(Component(name="stale-deviation", provides=dict(CONTROLS["plain"]), deviations=stale))


CLAUSE_OF = _register()
_caught: set[str] = set()
#: node id -> the mutants its test involves
_involved: dict[str, list[str]] = {}


def _mutants_of(item: pytest.Item) -> list[str]:
    info = item.stash.get(INFO_KEY, None)
    return [] if info is None else [c for c in info.components if c in CLAUSE_OF]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep a mutant's tests to its own clause."""
    clauses = set(CLAUSE_OF.values())
    keep, drop = [], []
    for item in items:
        info = item.stash.get(INFO_KEY, None)
        mutants = _mutants_of(item)
        if info is None:
            own = False
        elif mutants:
            own = all(CLAUSE_OF[m] == info.clause for m in mutants)
        else:  # a control: only the clauses of the run's mutants, if it has any
            own = not clauses or info.clause in clauses
        (keep if own else drop).append(item)
        _involved[item.nodeid] = _mutants_of(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_setup(item: pytest.Item) -> None:
    caught = [m for m in _involved.get(item.nodeid, ()) if m in _caught]
    if caught:
        pytest.skip(f"caught already: {', '.join(caught)}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and not hasattr(report, "wasxfail"):
        _caught.update(_involved.get(report.nodeid, ()))
