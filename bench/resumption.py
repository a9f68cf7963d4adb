"""Benchmark: a resumed TLS handshake against a full one (``IResumption``).

Run by hand, never in CI: ``python -m bench.resumption [--count N] [--components a,b]``.

For each component and server key type (RSA 2048, EC P-256), a server
process of the same component accepts connections one after another on
loopback; this process connects ``count`` times with a full handshake and
``count`` times resuming the previous session (``setResumptionData``), in
alternation, so both kinds see the same machine. Per connection it records:

- the handshake time the client sees: from ``connect()`` to its return
  (TCP connect excluded), which includes the server's work (a full TLS 1.3
  handshake waits for the server's certificate signature);
- the server's CPU time in ``accept()`` (its thread's CPU clock);
- the bytes the client received from the server over the connection, up
  to the server's one-byte answer (session tickets included in both kinds;
  a resumed handshake sends no certificate chain and no signature).

Each connection exchanges one byte each way (so the client reads the
server's session tickets) and closes. Figures: medians, with the 10th-90th
percentiles of the times.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from typing import Any

from zope.interface import implementer

import nettls
from nettls.interfaces import ITCPSocket

__all__ = ["main"]


@implementer(ITCPSocket)
class CountingSocket:
    """An ``ITCPSocket`` that counts what it receives (and delegates the rest)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.received = 0
        self.sendWait = inner.sendWait

    def recv(self, n: int) -> bytes:
        data = self.inner.recv(n)
        self.received += len(data)
        return bytes(data)

    def send(self, data: Any) -> int:
        return int(self.inner.send(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def serve(component: str, kind: str, ports: Any, count: int) -> None:
    """The server process: ``count`` connections, one after another; puts the
    port, then the CPU seconds of each ``accept()``, on ``ports``."""
    from nettls.pki import throwaway_pki

    pki = throwaway_pki(("localhost", "127.0.0.1"), kind=kind)
    TLS = nettls.resolve("net.TLS", component=component)
    Context = nettls.resolve("net.TLSContext", component=component)
    TCPSocket = nettls.resolve("net.TCPSocket")
    ServerSocket = nettls.resolve("net.TCPServerSocket")
    ctx = Context(Context.SERVER)
    ctx.setCertificate(pki.leaf.cert_pem, pki.leaf.key_pem)
    ctx.setCertificateChain(pki.chain_pems)
    listener = ServerSocket()
    listener.bind("127.0.0.1", 0)
    ports.put(listener.getLocalEndpoint().port)
    cpu: list[float] = []
    for _ in range(count):
        sock = TCPSocket()
        sock.accept(listener)
        session = TLS(ctx)
        try:
            started = time.thread_time()
            session.accept(sock)
            cpu.append(time.thread_time() - started)
            session.recv(1)
            session.send(b"y")
            session.recv(1)  # the client's close_notify
            session.close()
        except nettls.TLSError:
            pass
        sock.disconnect()
    listener.unbind()
    ports.put(cpu)


def measure(component: str, kind: str, count: int) -> dict[str, list[tuple[float, float, int]]]:
    """``{"full": [(seconds, server CPU seconds, bytes)], "resumed": [...]}``
    for one component and key type."""
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(component, kind, ports, 2 * count), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    TLS = nettls.resolve("net.TLS", component=component)
    Context = nettls.resolve("net.TLSContext", component=component)
    TCPSocket = nettls.resolve("net.TCPSocket")
    ctx = Context(Context.CLIENT)
    samples: list[tuple[bool, float, int]] = []
    data = None
    for i in range(2 * count):
        resume = i % 2 == 1 and data is not None
        raw = TCPSocket()
        raw.connect("127.0.0.1", port)
        sock = CountingSocket(raw)
        session = TLS(ctx)
        if resume:
            session.setResumptionData(data)
        started = time.perf_counter()
        session.connect(sock)
        elapsed = time.perf_counter() - started
        if resume and not session.isResumed():
            raise SystemExit(f"{component}/{kind}: connection {i} did not resume")
        session.send(b"x")
        session.recv(1)  # TLS 1.3 tickets arrive before this
        received = sock.received
        data = session.getResumptionData()
        session.close()
        raw.disconnect()
        samples.append((resume, elapsed, received))
    cpu = ports.get(timeout=60)
    server.join(30)
    results: dict[str, list[tuple[float, float, int]]] = {"full": [], "resumed": []}
    for (resume, elapsed, received), server_cpu in zip(samples, cpu):
        results["resumed" if resume else "full"].append((elapsed, server_cpu, received))
    return results


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    deciles = statistics.quantiles(ordered, n=10)
    return f"{statistics.median(ordered) * 1e3:.2f} ({deciles[0] * 1e3:.2f}-{deciles[-1] * 1e3:.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resumption", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="handshakes of each kind per case (default 200)")
    parser.add_argument("--components", default="stdlib,pyopenssl", help="comma-separated TLS components")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, nettls {nettls.__version__}; {args.count} handshakes of each kind per row")
    print()
    print(
        "| component | server key | client-seen handshake, full / resumed (ms) | speed-up "
        "| server CPU per accept, full / resumed (ms) | bytes from the server, full / resumed |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for component in args.components.split(","):
        for kind in ("rsa", "ec"):
            results = measure(component, kind, args.count)
            full, resumed = results["full"], results["resumed"]

            def median(rows: list[tuple[float, float, int]], i: int) -> float:
                return float(statistics.median(r[i] for r in rows))

            print(
                f"| {component} | {kind.upper()} | {_ms([r[0] for r in full])} / {_ms([r[0] for r in resumed])} "
                f"| {median(full, 0) / median(resumed, 0):.1f}x "
                f"| {_ms([r[1] for r in full])} / {_ms([r[1] for r in resumed])} "
                f"| {median(full, 2):.0f} / {median(resumed, 2):.0f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
