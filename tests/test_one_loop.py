"""One event loop: only ``nettls/eventloop.py`` waits on an ``ITCPMonitor``.

The server, the demo, ``nettls connect``, the conformance driver and the
benchmarks run their non-blocking sockets on ``nettls.eventloop.EventLoop``
(issue 15), so the monitor's rules (one-shot send-ready, read until
``b""``, bounded waits) are followed in one place. This test reads the
source (no import, nothing runs) and finds every ``X.wait(...)`` call whose
receiver is named as a monitor is (``monitor``, ``self.monitor``, ``mon``,
``_MONITOR``): a monitor loop written again outside the loop shows up here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Where a monitor loop could be written again.
SCANNED = ("nettls", "bench", "plugins")
#: How a monitor is named in this code base (a receiver of ``.wait()``).
MONITOR_NAME = re.compile(r"(^|[._])(monitor|mon)$", re.IGNORECASE)
#: Allowed to wait on a monitor: the loop itself, and the conformance tests
#: of the monitor as such (test_tcp*.py, with their helper in _support.py).
ALLOWED = ("nettls/eventloop.py", "nettls/conformance/test_tcp*.py", "nettls/conformance/_support.py")
pytestmark = pytest.mark.skipif(not (ROOT / "nettls" / "eventloop.py").is_file(), reason="needs the source tree")


def _monitor_waits(source: str) -> list[int]:
    """Line numbers of the ``<monitor>.wait(...)`` calls in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "wait":
            if MONITOR_NAME.search(ast.unparse(node.func.value)):
                lines.append(node.lineno)
    return sorted(lines)


def _offenders() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if "/." in f"/{name}" or any(Path(name).match(pattern) for pattern in ALLOWED):
                continue
            lines = _monitor_waits(path.read_text(encoding="utf-8"))
            if lines:
                found[name] = lines
    return found


def test_the_scan_sees_monitor_loops() -> None:
    """The check would be blind without this: each way the code names a monitor is found."""
    source = (
        "for e in self.monitor.wait(50): pass\n"
        "events = monitor.wait(ms)\n"
        "mon.wait(5000)\n"
        "stop.wait()\n"
        "proc.wait(10)\n"
        "self._MONITOR.wait()\n"
    )
    assert _monitor_waits(source) == [1, 2, 3, 6]


def test_only_the_event_loop_waits_on_a_monitor() -> None:
    offenders = _offenders()
    assert offenders == {}, f"wait on nettls.eventloop.EventLoop instead of a monitor of your own: {offenders}"
