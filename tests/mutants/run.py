"""Running the conformance suite against mutants, in a subprocess.

``run_batch(batch, workdir)`` runs ``pytest --pyargs nettls.conformance``
with ``-p mutants.plugin``, the batch's mutants and their controls as the
components, and each mutant's clause selected; it returns the clause table
(``--nettls-report``) and pytest's output. The subprocess sees:

- ``NETTLS_MUTANTS``: the mutants to register;
- ``NETTLS_CONFORMANCE_TIMEOUT``: a short wait, so a mutant that stalls
  fails in seconds;
- ``PATH``: an empty directory, for core mutants: no ``openssl`` and no
  ``curl``, so a core clause must catch its mutant without them.

``run_ahead(batch, selected, workroot)`` is ``run_batch`` with the next
selected batch started beside it (``PARALLEL`` subprocesses at a time), so
that a test waiting on its batch keeps the machine's second core busy.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
import sys
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from . import MUTANTS, Mutant, load_all

#: Seconds a wait of the suite may take in a mutant run: short, so a stall fails fast,
#: with room for a loaded machine (the suite's default is 10).
WAIT = "6"
#: Mutants per pytest subprocess: a new process costs about a second, and the
#: pair clauses collect a case per pair of the components registered.
BATCH_SIZE = 9
TESTS_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Batch:
    """Mutants run together, with their controls, in one pytest process."""

    mutants: tuple[Mutant, ...]
    controls: tuple[str, ...]
    tcp: str | None = None  #: --nettls-tcp (a TCP mutant beneath TLS sessions)
    strip_tools: bool = True

    @property
    def id(self) -> str:
        return f"{self.mutants[0].name}..{self.mutants[-1].name}" if len(self.mutants) > 1 else self.mutants[0].name


@dataclass
class Outcome:
    table: dict[str, dict[str, str]]
    output: str
    returncode: int


def _control(m: Mutant) -> str | None:
    if m.under_tls:
        return None
    if m.tcp:
        return "tcp" if m.full else "plain-tcp"
    return "stdlib" if m.full else "plain"


def batches(*, full: bool) -> list[Batch]:
    """The mutants of the core clauses (``full=False``) or of the extension
    clauses (``full=True``) in batches, in clause order."""
    load_all()
    chosen = [m for m in MUTANTS.values() if m.full == full]
    out = [Batch((m,), (), tcp=m.name) for m in chosen if m.under_tls]
    rest = [m for m in chosen if not m.under_tls]
    for i in range(0, len(rest), BATCH_SIZE):
        group = tuple(rest[i : i + BATCH_SIZE])
        controls = tuple(dict.fromkeys(c for c in map(_control, group) if c))
        out.append(Batch(group, controls, strip_tools=not full))
    return out


def run_suite(
    workdir: Path,
    components: list[str],
    clauses: list[str],
    *,
    mutants: tuple[Mutant, ...] = (),
    tcp: str | None = None,
    strip_tools: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 240,
) -> Outcome:
    """Run the suite against ``components`` (``mutants`` registered), the
    ``clauses`` selected; see the module docstring."""
    report = workdir / "table.json"
    environ = dict(os.environ)
    environ.update(env or {})
    environ["NETTLS_MUTANTS"] = ",".join(m.name for m in mutants)
    environ["NETTLS_CONFORMANCE_TIMEOUT"] = WAIT
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), environ.get("PYTHONPATH", "")]))
    if strip_tools:
        bare = workdir / "bin"
        bare.mkdir(exist_ok=True)
        environ["PATH"] = str(bare)
    args = [sys.executable, "-m", "pytest", "-p", "mutants.plugin", "-p", "no:cacheprovider", "-q", "-rfxX"]
    args += ["--pyargs", "nettls.conformance", "--nettls-report", str(report)]
    for name in components:
        args += ["--nettls-component", name]
    for clause in clauses:
        args += ["--nettls-clause", clause]
    if tcp is not None:
        args += ["--nettls-tcp", tcp]
    proc = subprocess.run(
        args, cwd=workdir, env=environ, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )
    table = json.loads(report.read_text()) if report.exists() else {}
    return Outcome(table, proc.stdout + proc.stderr, proc.returncode)


def run_batch(batch: Batch, workdir: Path) -> Outcome:
    """Run the suite against ``batch``, each mutant's clause selected."""
    return run_suite(
        workdir,
        [*batch.controls, *(m.name for m in batch.mutants)],
        list(dict.fromkeys(m.clause for m in batch.mutants)),
        mutants=batch.mutants,
        tcp=batch.tcp,
        strip_tools=batch.strip_tools,
    )


#: Mutant subprocesses at a time: each is a whole suite run, mostly CPU, and
#: CI machines have at least 2 cores.
PARALLEL = 2
_pool: ThreadPoolExecutor | None = None
_running: dict[str, Future[Outcome]] = {}


def run_ahead(batch: Batch, selected: list[Batch], workroot: Path) -> Outcome:
    """``run_batch(batch)``, having started the batch that follows it in
    ``selected`` (the batches the session will ask for, in order) so that it
    runs meanwhile; a batch already started is waited for, not run again."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="mutants")
    ids = [b.id for b in selected]
    at = ids.index(batch.id) if batch.id in ids else len(ids)
    for ahead in [batch, *selected[at + 1 : at + PARALLEL]]:
        if ahead.id not in _running:
            workdir = Path(tempfile.mkdtemp(prefix="batch-", dir=workroot))
            _running[ahead.id] = _pool.submit(run_batch, ahead, workdir)
    return _running.pop(batch.id).result()


def selected_batches(request: Any) -> list[Batch]:
    """The batches of the requesting test function that this session runs, in order."""
    name = request.node.originalname
    return [item.callspec.params["batch"] for item in request.session.items if getattr(item, "originalname", None) == name]


def verdicts(batch: Batch, outcome: Outcome) -> list[str]:
    """What is wrong with a batch's run: a control that did not pass its
    clause, a mutant its own clause did not catch. Empty when all is well."""
    problems = []
    tail = outcome.output[-6000:]
    if not outcome.table:
        return [f"the suite did not run (exit {outcome.returncode}):\n{tail}"]
    for m in batch.mutants:
        row = outcome.table.get(m.clause, {})
        for control in batch.controls:
            cell = row.get(control)
            if cell not in (None, "pass", "n/a"):
                problems.append(f"control {control}: clause {m.clause} is {cell}, so it cannot judge {m.name}")
        cell = row.get(m.name)
        if cell != "fail":
            problems.append(f"{m.name}: clause {m.clause} says {cell!r}, not 'fail'; the bug it missed: {m.bug}")
    if problems:
        problems.append(f"pytest's report:\n{tail}")
    return problems
