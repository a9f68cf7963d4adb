"""Benchmark 3: ``nettls serve`` under C concurrent clients doing 64-byte echoes.

Each measurement starts a fresh server process (``nettls serve`` on a
component, or the asyncio echo server of ``_asyncio_echo``) and load
generator processes (``_loadgen``, ``LOADGEN_PROCS`` of them, C split
between them). Once every client has completed its handshake, the
server's RSS is read (``/proc/PID/status``); memory per connection is
(RSS now - RSS before any client) / C. Then the clients echo for SECONDS
and requests per second is the sum of their completed echoes over the
time. The server's CPU time in that window is read too, to tell a
saturated server (one core: 100 %) from a starved one. All on 127.0.0.1.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

from ._common import make_pki, server_files

__all__ = ["run"]

#: Load generator processes per measurement (the machine has 2 cores: the
#: server takes one, and more generators than this only share the other).
LOADGEN_PROCS = 1
#: Clients per load generator process at most (its own open-file limit).
MAX_CLIENTS_PER_PROC = 10000


@dataclass
class Sample:
    rps: float
    kib_per_conn: float
    server_cpu: float  # fraction of one core during the echo window
    connected: int
    failed: int

    @property
    def cpu_per_request(self) -> float:
        """Seconds of server CPU per request."""
        return self.server_cpu / max(self.rps, 1e-9)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_server(kind: str, files: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    if kind == "asyncio":
        cmd = [sys.executable, "-m", "bench._asyncio_echo", files["cert"], files["key"]]
    elif kind.startswith("aio-"):  # an echo server on nettls.aio.start_server over that component
        cmd = [sys.executable, "-m", "bench._aio_echo", files["cert"], files["key"], kind[4:]]
    else:
        cmd = [
            sys.executable, "-c", "import sys; from nettls.cli import main; sys.exit(main())",
            "--log-level", "warning", "serve", "--port", "0",
            "--cert", files["cert"], "--key", files["key"], "--component", kind, "--idle-timeout", "0",
            "--handshake-timeout", "120",
        ]  # fmt: skip
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=here)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("listening on "):
            return proc, int(line.rsplit(":", 1)[1])
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


def measure(kind: str, clients: int, seconds: float, files: dict[str, str]) -> Sample:
    server, port = _start_server(kind, files)
    gens: list[subprocess.Popen[str]] = []
    try:
        time.sleep(0.3)
        rss0 = _rss_kib(server.pid)
        procs = max(LOADGEN_PROCS, -(-clients // MAX_CLIENTS_PER_PROC))
        share = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        for n in share:
            gens.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench._loadgen", str(port), str(n), str(seconds)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=here,
                )  # fmt: skip
            )
        connected = failed = 0
        for g in gens:
            assert g.stdout is not None
            parts = g.stdout.readline().split()
            if not parts or parts[0] != "ready":
                raise RuntimeError(f"load generator failed to connect ({kind}, C={clients})")
            connected += int(parts[1])
            failed += int(parts[3])
        time.sleep(0.5)  # let the server finish writing session tickets
        rss1 = _rss_kib(server.pid)
        cpu0 = _cpu_seconds(server.pid)
        t0 = time.monotonic()
        for g in gens:
            assert g.stdin is not None
            g.stdin.write("go\n")
            g.stdin.flush()
        requests = 0
        elapsed = []
        for g in gens:
            assert g.stdout is not None
            parts = g.stdout.readline().split()
            if not parts or parts[0] != "done":
                raise RuntimeError(f"load generator failed ({kind}, C={clients})")
            requests += int(parts[1])
            elapsed.append(float(parts[2]))
            failed += int(parts[3])
        window = time.monotonic() - t0
        cpu = (_cpu_seconds(server.pid) - cpu0) / window
        return Sample(requests / max(elapsed), (rss1 - rss0) / max(connected, 1), cpu, connected, failed)
    finally:
        for g in gens:
            g.kill()
            g.wait()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run(
    repetitions: int = 5,
    clients: list[int] | None = None,
    servers: list[str] | None = None,
    seconds: float = 5.0,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    clients = clients or [100, 1000, 10000]
    servers = servers or ["stdlib", "pyopenssl", "asyncio"]
    baseline = "asyncio" if "asyncio" in servers else servers[-1]
    pki = make_pki("ec")
    lines = [
        "### nettls serve: 64-byte echoes, C concurrent clients",
        "",
        f"{repetitions} rounds of {seconds:g} s each; requests/s and memory per connection: median (min-max); "
        f"ratio = median of the per-round ratios of requests/s to `{baseline}`; "
        "server CPU = share of one core the server used during the echoes; "
        "CPU/request = the server's CPU time per request (server CPU / requests/s), "
        f"and its ratio the median per-round ratio of `{baseline}`'s CPU/request to this server's "
        "(how many times cheaper: the measure that holds when the load generator, not the server, "
        "is what runs out of CPU).",
        "",
        "| C | server | requests/s | min-max | ratio | CPU/request | CPU ratio | KiB/connection | min-max "
        "| server CPU | connected |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    with server_files(pki) as files:
        for c in clients:
            samples: dict[str, list[Sample]] = {s: [] for s in servers}
            for r in range(repetitions):
                turn = servers[r % len(servers):] + servers[: r % len(servers)]
                for s in turn:
                    sample = measure(s, c, seconds, files)
                    samples[s].append(sample)
                    if progress:
                        progress(
                            f"  C={c} round {r + 1}/{repetitions} {s}: {sample.rps:.0f} req/s, "
                            f"{sample.kib_per_conn:.1f} KiB/conn, cpu {sample.server_cpu:.0%}, "
                            f"connected {sample.connected}, failed {sample.failed}"
                        )
            for s in servers:
                ss = samples[s]
                rps = [x.rps for x in ss]
                mem = [x.kib_per_conn for x in ss]
                ratios = [a.rps / b.rps for a, b in zip(ss, samples[baseline])]
                cost = [x.cpu_per_request * 1e6 for x in ss]
                cheaper = [b.cpu_per_request / a.cpu_per_request for a, b in zip(ss, samples[baseline])]
                lines.append(
                    f"| {c:,} | {s} | {statistics.median(rps):,.0f} | {min(rps):,.0f}-{max(rps):,.0f} "
                    f"| {statistics.median(ratios):.2f}x | {statistics.median(cost):.1f} us "
                    f"| {statistics.median(cheaper):.2f}x | {statistics.median(mem):.1f} "
                    f"| {min(mem):.1f}-{max(mem):.1f} | {statistics.median(x.server_cpu for x in ss):.0%} "
                    f"| {min(x.connected for x in ss):,} |"
                )
    print("\n".join(lines), flush=True)
    print(flush=True)
    return lines
