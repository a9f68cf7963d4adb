"""``nettls conformance [NAME ...]``: the conformance suite as a table.

Runs ``nettls.conformance.run(components)`` (imported only when the command
runs: it brings pytest in) and prints one row per contract clause and one
column per component. Outcomes are the suite's words ("pass", "fail",
"deviation" for a failure the component's deviation table declares,
"skip", "n/a"); the exit status is 1 if any cell failed.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import sys
from typing import Any, Callable, Mapping

from ._errors import EXIT_FAILED, EXIT_OK, CheckFailed, UsageError, one_line
from ._options import add_tcp_component_option
from ._output import format_table, write_lines

HELP = "run the conformance suite and print a table: one row per contract clause, one column per component"

#: Outcomes that make the command fail.
_FAILING = frozenset({"fail", "failed", "error", "xpass", "xpassed"})
#: Other spellings a runner may use, mapped to the suite's words.
_WORDS = {
    True: "pass",
    False: "fail",
    "passed": "pass",
    "failed": "fail",
    "skipped": "skip",
    "xfail": "deviation",
    "xfailed": "deviation",
    "xpassed": "xpass",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        metavar="NAME",
        nargs="*",
        help="components to test, or all (default: every available TLS and TCP component)",
    )
    parser.add_argument(
        "--component", metavar="NAME", action="append", default=[], help="a component to test, as NAME (may be repeated)"
    )
    add_tcp_component_option(parser)
    parser.add_argument(
        "--clause", metavar="PREFIX", action="append", default=[], help="only clauses whose id starts with PREFIX, such as 6. or 7.send (may be repeated)"
    )
    parser.add_argument("--brief", action="store_true", help="leave out the clause descriptions")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's own report on stderr")


def _find_run() -> Callable[..., Any]:
    """``run`` from ``nettls.conformance`` (or its ``runner`` module)."""
    try:
        has_pytest = importlib.util.find_spec("pytest") is not None
    except ValueError:  # a module entry without a spec: not a usable pytest
        has_pytest = False
    if not has_pytest:
        raise UsageError(
            "the conformance suite runs on pytest, which is not installed: pip install 'nettls[test]'"
        )
    try:
        package = importlib.import_module("nettls.conformance")
    except ImportError as exc:
        raise UsageError(f"the conformance suite cannot be loaded: {one_line(exc)}") from None
    try:
        run_suite = getattr(package, "run", None)
    except ImportError as exc:  # a lazily loaded name whose module is broken or absent
        run_suite = None
        problem = one_line(exc)
    else:
        problem = "nettls.conformance has no run()"
    if run_suite is None:
        try:
            run_suite = getattr(importlib.import_module("nettls.conformance.runner"), "run", None)
        except ImportError as exc:
            problem = one_line(exc)
    if not callable(run_suite):
        raise UsageError(f"the conformance suite is not available in this installation ({problem})")
    found: Callable[..., Any] = run_suite
    return found


def _descriptions() -> Mapping[str, str]:
    try:
        from nettls.conformance.clauses import CLAUSES
    except ImportError:
        return {}
    return CLAUSES


def outcome_word(outcome: object) -> str:
    """The suite's word for an outcome, whatever type the runner gave it."""
    if outcome is None:
        return "n/a"
    if isinstance(outcome, bool):
        return _WORDS[outcome]
    for attr in ("outcome", "status", "value"):
        inner = getattr(outcome, attr, None)
        if isinstance(inner, (str, bool)):
            outcome = inner
            break
    word = str(outcome).strip().lower()
    return str(_WORDS.get(word, word))


def render(table: Mapping[str, Mapping[str, object]], components: list[str], descriptions: Mapping[str, str]) -> tuple[list[str], int]:
    """The table's lines and the number of failing cells."""
    columns = list(components)
    for row in table.values():
        columns += [c for c in row if c not in columns]
    headers = ["clause", *columns]
    if descriptions:
        headers.append("requires")
    rows = []
    failures = 0
    counts = {c: {} for c in columns}  # type: dict[str, dict[str, int]]
    for clause, row in table.items():
        words = [outcome_word(row.get(c)) if c in row else "n/a" for c in columns]
        for c, w in zip(columns, words):
            counts[c][w] = counts[c].get(w, 0) + 1
        failures += sum(w in _FAILING for w in words)
        cells = [str(clause), *words]
        if descriptions:
            cells.append(descriptions.get(str(clause), ""))
        rows.append(cells)
    lines = format_table(headers, rows)
    lines.append("")
    for c in columns:
        summary = ", ".join(f"{n} {w}" for w, n in sorted(counts[c].items(), key=lambda item: (-item[1], item[0])))
        lines.append(f"{c}: {summary or 'nothing ran'}")
    return lines, failures


def run(args: argparse.Namespace) -> int:
    import nettls

    names = list(dict.fromkeys([*args.names, *args.component]))
    if "all" in names:  # as pytest's --nettls-component all
        names = []
    for name in names:
        try:
            nettls.registry.component(name)
        except nettls.RegistryError as exc:
            raise UsageError(str(exc)) from None
    if not names:
        reg = nettls.registry
        names = sorted(set(reg.providers("net.TLS")) | set(reg.providers("net.TCPSocket")))
        if not names:
            raise CheckFailed("no component is available to test")

    run_suite = _find_run()
    try:
        accepted = set(inspect.signature(run_suite).parameters)
    except (TypeError, ValueError):
        accepted = set()
    kwargs: dict[str, Any] = {}
    if args.clause:
        if "clauses" not in accepted:
            raise UsageError("this conformance suite cannot select clauses (its run() takes no 'clauses')")
        kwargs["clauses"] = list(args.clause)
    if args.tcp_component is not None:
        if "tcp" not in accepted:
            raise UsageError("this conformance suite cannot choose the TCP component (its run() takes no 'tcp')")
        kwargs["tcp"] = args.tcp_component
    if args.verbose and "output" in accepted:
        kwargs["output"] = sys.stderr

    try:
        table = run_suite(names, **kwargs)
    except nettls.RegistryError as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:
        raise CheckFailed(f"the conformance suite could not run: {type(exc).__name__}: {one_line(exc)}") from None
    if not table:
        raise CheckFailed("the conformance suite ran no test for " + ", ".join(names))
    lines, failures = render(table, names, {} if args.brief else _descriptions())
    lines.append("")
    lines.append("all clauses pass" if not failures else f"{failures} failing cell{'s' if failures != 1 else ''}")
    write_lines(lines)
    return EXIT_FAILED if failures else EXIT_OK
