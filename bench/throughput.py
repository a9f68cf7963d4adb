"""Benchmark 1: bulk throughput over one loopback connection, TLS 1.3.

The client (this process) sends ``total`` bytes in sends of ``size`` bytes;
the server (a ``Peer`` process, the same contender) reads them in reads of
``min(size, 64 KiB)`` and answers one byte. The time runs from the first
send to that byte, so both ends count: a slow receiver holds the sender
back through TCP's window. The connection and handshake come before the
clock starts.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

from ._common import Result, make_pki, print_table, rounds
from ._contenders import CONTENDERS
from ._peer import Peer

__all__ = ["run", "SIZES"]

KiB = 1024
MiB = 1024 * KiB
#: Send sizes and the bytes sent per measurement (about 0.2-0.5 s each here).
SIZES: dict[str, tuple[int, int]] = {
    "1 KiB": (KiB, 24 * MiB),
    "16 KiB": (16 * KiB, 96 * MiB),
    "64 KiB": (64 * KiB, 128 * MiB),
    "1 MiB": (MiB, 128 * MiB),
}
READ_LIMIT = 64 * KiB


#: (contender, size) -> [(sender CPU s, receiver CPU s, bytes)], for --cpu.
CPU: dict[tuple[str, int], list[tuple[float, float, int]]] = {}


def measure(peer: Peer, name: str, size: int, total: int) -> float:
    """Bytes per second of one transfer of ``total`` bytes in sends of ``size``."""
    cls = CONTENDERS[name]
    port = peer.ask("throughput", name, total, min(size, READ_LIMIT))
    ep = cls.client(port)
    chunk = memoryview(bytes(size))
    count = total // size
    cpu = time.process_time()
    start = time.perf_counter()
    ep.send_all(chunk, count)
    ep.recv_total(1, 1)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    ep.drop()
    got, peer_cpu = peer.result()
    CPU.setdefault((name, size), []).append((cpu, peer_cpu, count * size))
    if got != count * size:
        raise RuntimeError(f"{name}: the server received {got} of {count * size} bytes")
    return count * size / elapsed


def run(
    repetitions: int = 5,
    contenders: list[str] | None = None,
    sizes: list[str] | None = None,
    scale: float = 1.0,
    progress: Callable[[str], None] | None = None,
    cpu_table: bool = False,
) -> list[str]:
    names = contenders or list(CONTENDERS)
    pki = make_pki("ec")
    for cls in CONTENDERS.values():
        cls.prepare(pki)
    cases: list[tuple[str, list[Result]]] = []
    with Peer(pki) as peer:
        for label in sizes or list(SIZES):
            size, total = SIZES[label]
            total = max(size, int(total * scale) // size * size)
            for name in names:  # warm up: first connections, allocator, caches
                measure(peer, name, size, min(total, 8 * MiB if size < MiB else 16 * MiB))
            if progress:
                progress(f"throughput, sends of {label}")
            res = rounds(names, lambda n: measure(peer, n, size, total), repetitions, names[0], progress)
            cases.append((f"sends of {label}", res))
    if cpu_table:
        cases_cpu = []
        for label in sizes or list(SIZES):
            size = SIZES[label][0]
            rows = []
            for name in names:
                runs = CPU.get((name, size), [])[1:]  # not the warm-up
                snd = statistics.median(c / b * 1e9 for c, _, b in runs)
                rcv = statistics.median(p / b * 1e9 for _, p, b in runs)
                rows.append(f"| {label} | {name} | {snd:.2f} | {rcv:.2f} |")
            cases_cpu += rows
        text = [
            "CPU time per byte (ns/B, median; process time of each end during the transfer):",
            "",
            "| case | contender | sender | receiver |",
            "| --- | --- | ---: | ---: |",
            *cases_cpu,
            "",
        ]
        print("\n".join(text), flush=True)
    return print_table("Bulk throughput, one connection, TLS 1.3 (MB/s = 10^6 bytes/s)", cases, "MB/s", names[0], repetitions)
