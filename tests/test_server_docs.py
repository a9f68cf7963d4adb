"""docs/server.md's chat server runs as written, on every TLS component
(chosen with ``NETTLS_LINKS`` alone), against real clients (Python's
``ssl``, verifying the throwaway CA the program writes and the name
``localhost``): names, broadcast, ``/quit``, a line too long, and a clean
shutdown on SIGTERM (close_notify to the client still connected)."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from _edge import COMPONENTS, WAIT

DOC = Path(__file__).resolve().parent.parent / "docs" / "server.md"

pytestmark = pytest.mark.timeout(90)


def chat_program() -> str:
    """The doc's one ```python block that starts ``# chat.py:``."""
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S) if b.startswith("# chat.py:")]
    return block


class LineClient:
    """A TLS client that reads whole lines (each wait bounded)."""

    def __init__(self, port: int, ca: Path) -> None:
        ctx = ssl.create_default_context(cafile=str(ca))
        raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        self.buffer = b""

    def line(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, f"end of stream; so far {self.buffer!r}"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def send(self, line: bytes) -> None:
        self.sock.sendall(line + b"\n")

    def ends_cleanly(self) -> bool:
        """True once the server's close_notify arrives (SSLEOFError without it)."""
        return self.sock.recv(4096) == b"" and not self.buffer

    def join(self, name: bytes) -> None:
        assert self.line() == b"welcome: your name?"
        self.send(name)


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_chat_server_runs_as_written(component: str, tmp_path: Path) -> None:
    (tmp_path / "chat.py").write_text(chat_program())
    links = f"net.TLS={component},net.TLSContext={component},net.TLSCertStore={component}"
    proc = subprocess.Popen(
        [sys.executable, "chat.py"], cwd=tmp_path, env=dict(os.environ, NETTLS_LINKS=links),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    clients: list[LineClient] = []
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", first)
        assert match, f"chat.py said {first!r}: {proc.stderr.read() if proc.poll() is not None else ''}"
        port, ca = int(match.group(1)), tmp_path / "ca.pem"
        alice, bob, carol = (LineClient(port, ca) for _ in range(3))
        clients += [alice, bob, carol]
        alice.join(b"alice")
        assert alice.line() == b"hello alice, 1 here"
        bob.join(b"bob")
        assert bob.line() == b"hello bob, 2 here"
        assert alice.line() == b"* bob joined"
        alice.send(b"hi bob")
        assert bob.line() == b"alice: hi bob"
        carol.join(b"carol")
        assert carol.line() == b"hello carol, 3 here"
        assert alice.line() == b"* carol joined" and bob.line() == b"* carol joined"
        carol.sock.sendall(b"x" * 2000)  # no end of line within MAX_LINE: closed
        assert carol.ends_cleanly()
        assert alice.line() == b"* carol left" and bob.line() == b"* carol left"
        bob.send(b"/quit")
        assert bob.ends_cleanly()
        assert alice.line() == b"* bob left"
        proc.send_signal(signal.SIGTERM)
        assert alice.ends_cleanly(), "close_notify at shutdown"
        assert proc.wait(WAIT) == 0, proc.stderr.read()
        assert "Traceback" not in proc.stderr.read()
    finally:
        for client in clients:
            client.sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT)
