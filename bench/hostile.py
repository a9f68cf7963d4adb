"""Benchmark 5: ``nettls serve`` beside hostile clients (issue 19, SPEC 14),
side by side with a plain Python ``ssl`` echo server (``_asyncio_echo``:
``asyncio.start_server(ssl=...)``) doing the same work.

Fairness. A well-behaved client echoes 64 bytes every 5 ms; its round
trips are timed while the server is quiet, then beside a client flooding
TLS 1.3 KeyUpdates (``tests/_keyupdate.py``: real OpenSSL, 2.1 MiB of records
of 27 bytes made before the flood starts, so that the flooder costs no CPU
while the round trips are timed), then beside the same flood with a byte
of application data after every 500 KeyUpdates (which no limit on input
without plaintext ends). Median and worst round trip of each; the
flooder's line says how its flood ended.

Memory. ``CLIENTS`` clients each send and never read (Python's
``SSLObject`` over a non-blocking socket, ``tests/_serving.MemoryClient``),
all at once, until the server stops taking their data (or ``FILL_SECONDS``
pass): once
in records of 16 KiB, once in records of 1 byte. Memory per connection is
the growth of the server's RSS (``/proc/PID/status``) over the clients
(the kernel's socket buffers are not in it).

``python -m bench hostile`` (``--servers`` picks servers; default every
TLS component plus ``asyncio``). About 12 s per server, a minute in all. Timings: never run in CI.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from ._common import make_pki, server_files
from .serve import _rss_kib, _start_server

__all__ = ["run"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
KEYUPDATE = os.path.join(TESTS, "_keyupdate.py")
#: Clients that never read, per memory measurement.
CLIENTS = 12
#: How long each such client may write before it is measured anyway.
FILL_SECONDS = 1.5
#: Seconds of round trips: quiet, then beside each flood.
QUIET_SECONDS, FLOOD_SECONDS = 0.5, 1.0
#: KeyUpdates the flooder makes before it starts (27 bytes each).
BACKLOG = 80_000


def _round_trips(sock: ssl.SSLSocket, seconds: float) -> list[float]:
    times: list[float] = []
    message = b"x" * 64
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        sock.sendall(message)
        got = 0
        while got < len(message):
            chunk = sock.recv(len(message) - got)
            if not chunk:
                raise RuntimeError("the server closed the well-behaved client")
            got += len(chunk)
        times.append(time.perf_counter() - started)
        time.sleep(0.005)
    return times


def _client(port: int) -> ssl.SSLSocket:
    ctx = ssl._create_unverified_context()
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="localhost")


def _beside_flood(port: int, normal: ssl.SSLSocket, *flood_args: str) -> tuple[list[float], str]:
    """Round trips beside a KeyUpdate flooder; and how the flood ended."""
    flooder = subprocess.Popen(
        [sys.executable, KEYUPDATE, str(port), "--seconds", "30", "--backlog", str(BACKLOG), *flood_args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert flooder.stdout is not None
        first = flooder.stdout.readline().strip()
        if first != "flooding":
            return [], first or "the flooder failed"
        times = _round_trips(normal, FLOOD_SECONDS)
        flooder.send_signal(signal.SIGTERM)
        ending = flooder.stdout.readline().strip()
        return times, ending
    finally:
        if flooder.poll() is None:
            flooder.kill()
        flooder.wait(10)


def _ms(times: list[float]) -> str:
    if not times:
        return "- | -"
    return f"{statistics.median(times) * 1e3:.2f} | {max(times) * 1e3:.1f}"


def _fairness(kind: str, files: dict[str, str]) -> str:
    server, port = _start_server(kind, files)
    try:
        with _client(port) as normal:
            quiet = _round_trips(normal, QUIET_SECONDS)
            flood, flood_end = _beside_flood(port, normal)
            if not flood:  # no TLS 1.3 (mbed TLS): no KeyUpdate
                return f"| {kind} | {_ms(quiet)} | {_ms(flood)} | {_ms(flood)} | {flood_end} |"
            mixed, mixed_end = _beside_flood(port, normal, "--data-every", "500")
        return f"| {kind} | {_ms(quiet)} | {_ms(flood)} | {_ms(mixed)} | {flood_end}; {mixed_end} |"
    finally:
        server.terminate()
        server.wait(10)


def _memory(kind: str, files: dict[str, str], record: int) -> tuple[float, int]:
    """KiB of server RSS per never-reading client, and how many pushed back."""
    sys.path.insert(0, TESTS)
    try:
        from _serving import MemoryClient
    finally:
        sys.path.remove(TESTS)
    server, port = _start_server(kind, files)
    clients: list[MemoryClient] = []
    try:
        time.sleep(0.3)
        before = _rss_kib(server.pid)
        clients = [MemoryClient(port, record=record) for _ in range(CLIENTS)]
        with ThreadPoolExecutor(CLIENTS) as pool:  # all at once, each until the server stops taking its data
            pushed_back = sum(pool.map(lambda client: client.fill(seconds=FILL_SECONDS), clients))
        time.sleep(0.3)
        return (_rss_kib(server.pid) - before) / CLIENTS, pushed_back
    finally:
        for client in clients:
            client.raw.close()
        server.terminate()
        server.wait(10)


def run(servers: list[str] | None = None, progress: Callable[[str], None] | None = None) -> list[str]:
    import nettls

    if servers is None:
        servers = [*nettls.registry.providers("net.TLS"), "asyncio"]
    pki = make_pki("ec")
    fair = [
        "### Hostile clients: a well-behaved client's round trips beside a KeyUpdate flooder",
        "",
        f"64-byte echoes every 5 ms: {QUIET_SECONDS:g} s quiet, then {FLOOD_SECONDS:g} s beside a client sending "
        f"{BACKLOG:,} KeyUpdates back to back, then beside the same with a byte of data after every 500. "
        "Median and worst round trip in ms.",
        "",
        "| server | quiet median | worst | flood median | worst | flood+data median | worst | how the floods ended |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    memory = [
        "### Hostile clients: server memory per connection that sends and never reads",
        "",
        f"{CLIENTS} clients at once, each writing until the server stops taking its data (at most {FILL_SECONDS:g} s); "
        "growth of the server's RSS per client, KiB (kernel socket buffers not included); "
        "pushed back = clients the server stopped reading.",
        "",
        "| server | 16 KiB records: KiB/conn | pushed back | 1-byte records: KiB/conn | pushed back |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    with server_files(pki) as files:
        for kind in servers:
            fair.append(_fairness(kind, files))
            if progress:
                progress(f"  {fair[-1]}")
            big, big_back = _memory(kind, files, 16384)
            tiny, tiny_back = _memory(kind, files, 1)
            memory.append(f"| {kind} | {big:.1f} | {big_back}/{CLIENTS} | {tiny:.1f} | {tiny_back}/{CLIENTS} |")
            if progress:
                progress(f"  {memory[-1]}")
    lines = fair + [""] + memory
    print("\n".join(lines), flush=True)
    print(flush=True)
    return lines
