"""Running ``nettls serve`` and talking to it, for ``test_serve``,
``test_serve_hostile`` and ``test_cli``.

``ServeProcess`` runs the command in a subprocess (``python -m nettls.cli
serve --port 0``, whose "listening on HOST:PORT" line gives the port);
``ssl_client`` is Python's ``ssl``; ``MemoryClient`` writes without reading.
Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator

LISTENING = re.compile(r"^listening on (\S+):(\d+)$")


class ServeProcess:
    """``nettls serve`` in a subprocess: its port, its CA file, its output."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nettls.cli", "--log-level", "info", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = 0
        self.ca: str | None = None
        deadline = time.monotonic() + 20
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                self.stop()
                raise AssertionError(f"no listening line within 20 s: {self.stdout}") from None
            if line is None:
                assert self.proc.stderr is not None
                raise AssertionError(f"serve exited early ({self.proc.wait()}): {self.stdout} {self.proc.stderr.read()}")
            if "CA certificate" in line:
                self.ca = line.rsplit(": ", 1)[1]
            match = LISTENING.match(line)
            if match:
                self.port = int(match.group(2))
                return

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("serve did not stop within the timeout") from None

    def stderr(self) -> str:
        assert self.proc.poll() is not None and self.proc.stderr is not None
        return self.proc.stderr.read()


@contextmanager
def serve_process(*args: str) -> Iterator[ServeProcess]:
    server = ServeProcess(*args)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop()


def ssl_client(port: int, ca: str | None = None) -> ssl.SSLSocket:
    """Python's ssl; an end of stream without close_notify raises SSLEOFError."""
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl._create_unverified_context()
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)


class MemoryClient:
    """Python's ``SSLObject`` over a non-blocking socket with a small receive
    buffer: it can write without reading, in one thread, in records of
    ``record`` bytes of plaintext (at most 16 KiB: TLS's largest)."""

    def __init__(self, port: int, record: int = 16384) -> None:
        self.record = record
        self.raw = socket.socket()
        self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        self.raw.settimeout(10)
        self.raw.connect(("127.0.0.1", port))
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ssl._create_unverified_context().wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.raw.sendall(self.outgoing.read())
                self.incoming.write(self.raw.recv(65536))
        self.raw.sendall(self.outgoing.read())
        self.raw.setblocking(False)
        self.pending = b""  # ciphertext the socket has not taken yet
        self.sent = self.got = 0
        self.sent_hash, self.got_hash = hashlib.sha256(), hashlib.sha256()

    def fill(self, limit: int = 64 << 20, seconds: float = 30) -> bool:
        """Write (never read) until the peer has taken nothing for 0.3 s (True),
        or it took ``limit`` bytes or ``seconds`` went by first (False)."""
        block = os.urandom(65536 if self.record > 1 else 4096)
        stalled_since = None
        deadline = time.monotonic() + seconds
        while self.sent < limit and time.monotonic() < deadline:
            if not self.pending:
                for i in range(0, len(block), self.record):
                    self.obj.write(block[i : i + self.record])
                self.sent_hash.update(block)
                self.sent += len(block)
                self.pending = self.outgoing.read()
            try:
                self.pending = self.pending[self.raw.send(self.pending) :]
                stalled_since = None
            except BlockingIOError:
                if stalled_since is None:
                    stalled_since = time.monotonic()
                elif time.monotonic() - stalled_since > 0.3:
                    return True
                select.select([], [self.raw], [], 0.05)
        return False

    def read_back(self, seconds: float = 30) -> None:
        """Finish writing and read the echo of everything sent."""
        deadline = time.monotonic() + seconds
        while self.got < self.sent:
            assert time.monotonic() < deadline
            readable, writable, _ = select.select([self.raw], [self.raw] if self.pending else [], [], 5)
            assert readable or writable, "stalled"
            if writable:
                self.pending = self.pending[self.raw.send(self.pending) :]
            if readable:
                data = self.raw.recv(1 << 20)
                assert data, "the server closed"
                self.incoming.write(data)
                while True:
                    try:
                        plain = self.obj.read(1 << 20)
                    except ssl.SSLWantReadError:
                        break
                    self.got_hash.update(plain)
                    self.got += len(plain)
        assert self.got == self.sent and self.got_hash.digest() == self.sent_hash.digest()
