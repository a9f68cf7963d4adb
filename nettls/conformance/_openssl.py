"""The ``openssl`` command line as a reference peer (s_client, s_server).

Every process is bounded: a reader thread collects its output, every wait
has a timeout, and ``stop()`` kills it (the tests call it in ``finally``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Sequence

import pytest

from .makers import DEFAULT_TIMEOUT, LOOPBACK
from .pki import Identity


def openssl_binary() -> str:
    """The path of ``openssl``, or skip the test."""
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("the openssl command line is not installed")
    return path


def write_identity(directory: Path, identity: Identity) -> dict[str, str]:
    """Write the identity's files for openssl; returns their paths by role."""
    files = {
        "cert": identity.cert_pem,
        "key": identity.key_pem(),
        "chain": "".join(identity.chain_pems),
        "root": identity.root.cert_pem,
    }
    paths = {}
    for role, text in files.items():
        path = directory / f"{role}.pem"
        path.write_text(text)
        paths[role] = str(path)
    return paths


class OpenSSL:
    """One ``openssl`` process with its combined output collected."""

    def __init__(self, args: Sequence[str]) -> None:
        self.args = [openssl_binary(), *args]
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="openssl output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in iter(self.proc.stdout.readline, b""):
                with self._lock:
                    self._chunks.append(line)
        except (ValueError, OSError):  # the pipe was closed under us: nothing more to read
            pass

    @property
    def output(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> re.Match[str]:
        """Wait until the output matches ``pattern``; AssertionError on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            finished = self.proc.poll() is not None and not self._reader.is_alive()
            found = re.search(pattern, self.output)  # after the exit check: the output is complete
            if found:
                return found
            if finished:
                raise AssertionError(f"openssl exited before printing {pattern!r}:\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"openssl did not print {pattern!r} in {timeout} s:\n{self.output[-3000:]}")
            time.sleep(0.01)

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_input(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait for the exit; returns the exit status (AssertionError on timeout)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"openssl still running after {timeout} s:\n{self.output[-3000:]}") from None
        self._reader.join(timeout)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._reader.join(5)  # the pipe ends with the process: let the reader see it first
        self.close_input()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> "OpenSSL":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def s_server(files: dict[str, str], *extra: str) -> tuple[OpenSSL, int]:
    """``openssl s_server -rev`` (echoes each line reversed) on loopback, one
    connection; returns the process and its port."""
    proc = OpenSSL(
        ["s_server", "-accept", f"{LOOPBACK}:0", "-naccept", "1", "-rev",
         "-cert", files["cert"], "-key", files["key"], "-cert_chain", files["chain"], *extra]
    )
    try:
        port = int(proc.wait_for(r"ACCEPT \S+:(\d+)").group(1))
    except BaseException:
        proc.stop()
        raise
    return proc, port


def s_client(port: int, files: dict[str, str], *extra: str) -> OpenSSL:
    """``openssl s_client`` to loopback ``port``, trusting the identity's root."""
    return OpenSSL(
        ["s_client", "-connect", f"{LOOPBACK}:{port}", "-servername", "localhost", "-CAfile", files["root"], *extra]
    )
