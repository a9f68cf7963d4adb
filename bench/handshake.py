"""Benchmark 2: full handshakes per second, a new TCP connection each.

The client (this process) connects, completes a TLS 1.3 handshake (no
resumption: every connection is a new session) and closes the TCP
connection; the server (a ``Peer`` process, the same contender) accepts,
completes its side and closes. Server keys: RSA-2048 and ECDSA P-256,
each with a chain of one intermediate. Non-blocking contenders drive
the handshake from a ``TCPMonitor`` (WAIT_READ/WAIT_WRITE), as a server
would.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

from ._common import Result, make_pki, print_table, rounds
from ._contenders import CONTENDERS
from ._peer import Peer

__all__ = ["run"]

#: Handshakes per measurement, per key kind (about 0.3 s each here).
COUNT = {"ec": 200, "rsa": 100}
KINDS = {"ec": "ECDSA P-256", "rsa": "RSA-2048"}


#: (contender, count) -> [(client CPU s, server CPU s) per handshake], for --cpu.
CPU: dict[tuple[str, int], list[tuple[float, float]]] = {}


def measure(peer: Peer, name: str, count: int) -> float:
    """Handshakes per second over ``count`` connections."""
    cls = CONTENDERS[name]
    port = peer.ask("handshake", name, count)
    cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(count):
        cls.client(port).drop()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    done, peer_cpu = peer.result()
    CPU.setdefault((name, count), []).append((cpu / count, peer_cpu / count))
    if done != count:
        raise RuntimeError(f"{name}: the server completed {done} of {count} handshakes")
    return count / elapsed


def run(
    repetitions: int = 5,
    contenders: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    cpu_table: bool = False,
) -> list[str]:
    names = contenders or list(CONTENDERS)
    cases: list[tuple[str, list[Result]]] = []
    for kind, label in KINDS.items():
        pki = make_pki(kind)
        for cls in CONTENDERS.values():
            cls.prepare(pki)
        with Peer(pki) as peer:
            for name in names:  # warm up
                measure(peer, name, 10)
            if progress:
                progress(f"handshakes, {label}")
            count = COUNT[kind]
            res = rounds(names, lambda n: measure(peer, n, count), repetitions, names[0], progress)
            cases.append((label, res))
            if cpu_table:
                print(f"CPU per handshake, {label} (us, median): client / server")
                for name in names:
                    runs = CPU[(name, count)]
                    c = statistics.median(r[0] for r in runs) * 1e6
                    s = statistics.median(r[1] for r in runs) * 1e6
                    print(f"  {name:14s} {c:8.0f} / {s:8.0f}")
    return print_table("Full handshakes per second, TLS 1.3, new TCP connection each", cases, "handshakes/s", names[0], repetitions)
