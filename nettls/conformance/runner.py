"""Running the suite in-process and tabulating its outcome per clause.

``run(["stdlib", "pyopenssl"])`` runs ``pytest --pyargs nettls.conformance``
with those components and returns ``{clause id: {component: outcome}}``,
clauses in SPEC order (the outcomes are described in ``outcomes.py``).
"""

from __future__ import annotations

import contextlib
import io
from typing import Sequence, TextIO

import pytest

from .outcomes import COLLECTOR_KEY, OUTCOMES, ItemInfo, OutcomeCollector, format_table

__all__ = ["run", "format_table", "OutcomeCollector", "ItemInfo", "OUTCOMES"]


class _Grab:
    """Takes the suite's collector when the in-process run ends."""

    collector: OutcomeCollector | None = None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.collector = config.stash.get(COLLECTOR_KEY, None)


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
    return grab.collector.table()
