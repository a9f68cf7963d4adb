"""The other end of the throughput and handshake benchmarks, in its own process.

The benchmark process is the client; a ``Peer`` is a child process (spawned,
so it imports nothing it did not ask for) serving one command at a time
over a pipe: it opens a listener for the contender, answers with the port,
serves the connection(s) with the same contender and reports back. Two
processes, so the two ends of a connection run on two cores and never
share a GIL.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from typing import Any

from ._common import Pki

__all__ = ["Peer"]


def _serve(conn: Any, pki: Pki) -> None:
    from ._contenders import CONTENDERS, close_listener, listener_for

    for cls in CONTENDERS.values():
        cls.prepare(pki)
    listeners: dict[str, tuple[Any, int]] = {}
    conn.send("ready")
    while True:
        try:
            command = conn.recv()
        except EOFError:
            break
        if command[0] == "quit":
            break
        kind, name = command[0], command[1]
        if name not in listeners:
            listeners[name] = listener_for(name)
        listener, port = listeners[name]
        cls = CONTENDERS[name]
        conn.send(port)
        if kind == "throughput":
            total, size = command[2], command[3]
            ep = cls.server(listener)
            cpu = time.process_time()
            got = ep.recv_total(total, size)
            cpu = time.process_time() - cpu
            ep.send_all(memoryview(b"!"), 1)
            ep.drop()
            conn.send((got, cpu))
        elif kind == "handshake":
            count, done = command[2], 0
            cpu = time.process_time()
            for _ in range(count):
                try:
                    ep = cls.server(listener)
                except Exception:  # the client may be gone before our last flight
                    continue
                done += 1
                ep.drop()
            conn.send((done, time.process_time() - cpu))
    for listener, _ in listeners.values():
        close_listener(listener)


def _main(conn: Any, pki: Pki, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        _serve(conn, pki)
    except BaseException as exc:  # tell the parent instead of hanging it
        print(f"bench peer {os.getpid()}: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise


class Peer:
    """A child process serving benchmark commands (see the module docstring)."""

    def __init__(self, pki: Pki, cpu: int | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_main, args=(child, pki, cpu), daemon=True)
        self._proc.start()
        child.close()
        if self._recv(60) != "ready":
            raise RuntimeError("bench peer did not start")

    def _recv(self, timeout: float) -> Any:
        if not self._conn.poll(timeout):
            raise RuntimeError(f"bench peer silent for {timeout} s (exit code {self._proc.exitcode})")
        return self._conn.recv()

    def ask(self, *command: Any) -> int:
        """Send ``command``; returns the port to connect to."""
        self._conn.send(command)
        port: int = self._recv(30)
        return port

    def result(self, timeout: float = 120) -> Any:
        return self._recv(timeout)

    def close(self) -> None:
        try:
            self._conn.send(("quit",))
        except OSError:
            pass
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
