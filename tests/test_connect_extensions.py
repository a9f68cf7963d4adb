"""``nettls connect --verify`` with the TLS extensions: SNI, the system's
trust store, the host-name check during the handshake, and ``--alpn``.

The peer is ``openssl s_server`` with two certificates: its default one
(for default.invalid) and, for clients that send the SNI name ``localhost``,
a certificate for localhost. So a client that sends no SNI gets the wrong
certificate and fails the host-name check: the tests see that the name went
out. The "system" trust store is the test CA, named by ``SSL_CERT_FILE``
(as OpenSSL itself reads it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

import nettls
from nettls.pki import issue

OPENSSL = shutil.which("openssl")
#: Components whose session, context and store have what --verify uses.
COMPONENTS = sorted(
    set(nettls.registry.providers("net.TLS", provides=["IServerName", "IVerifyResult"]))
    & set(nettls.registry.providers("net.TLSContext", provides=["IVerifyOnConnect", "IProtocolNegotiation"]))
    & set(nettls.registry.providers("net.TLSCertStore", provides=["ISystemTrust"]))
)
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command line")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Peer:
    def __init__(self, root: Path) -> None:
        ca = issue("nettls connect test CA", ca=True)
        default = issue("default.invalid", issuer=ca, names=["default.invalid"])
        named = issue("localhost", issuer=ca, names=["localhost"])
        self.ca = root / "ca.pem"
        self.ca.write_text(ca.cert_pem)
        files = {}
        for label, issued in (("default", default), ("named", named)):
            files[label] = (root / f"{label}.pem", root / f"{label}.key")
            files[label][0].write_text(issued.cert_pem)
            files[label][1].write_text(issued.key_pem)
        self.port = free_port()
        cmd = [
            str(OPENSSL), "s_server", "-accept", f"127.0.0.1:{self.port}", "-rev", "-alpn", "h2,http/1.1",
            "-cert", str(files["default"][0]), "-key", str(files["default"][1]),
            "-cert2", str(files["named"][0]), "-key2", str(files["named"][1]), "-servername", "localhost",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("openssl s_server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    server = Peer(tmp_path_factory.mktemp("sni"))
    try:
        yield server
    finally:
        server.stop()


def connect(peer: Peer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR", "NETTLS_LINKS")}
    env["SSL_CERT_FILE"] = str(peer.ca)  # the system's trust, as OpenSSL reads it
    return subprocess.run(
        [sys.executable, "-m", "nettls.cli", "connect", *args, "--timeout", "0.5"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize("component", COMPONENTS)
def test_verify_sends_sni_and_checks_in_the_handshake(peer: Peer, component: str) -> None:
    result = connect(peer, f"localhost:{peer.port}", "--verify", "--send", "hello\n", "--component", component)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Server name (SNI): localhost" in out
    assert "chain and host name verified during the handshake" in out
    assert "subject:  O=nettls, CN=localhost" in out, "the server chose its certificate by the name sent"
    assert f"against 1 certificate from the system trust store (SSL_CERT_FILE={peer.ca})" in out
    assert "Host name: OK (localhost)" in out
    assert "olleh" in out


@pytest.mark.parametrize("component", COMPONENTS)
def test_alpn(peer: Peer, component: str) -> None:
    # s_server negotiates ALPN on its default certificate's context only.
    result = connect(peer, f"127.0.0.1:{peer.port}", "--verify", "--hostname", "default.invalid", "--alpn", "spdy/1,h2", "--component", component)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Server name (SNI): default.invalid" in result.stdout
    assert "ALPN:     h2" in result.stdout


@pytest.mark.parametrize("component", COMPONENTS)
def test_verify_without_sni_gets_the_wrong_certificate_and_sends_nothing(peer: Peer, component: str) -> None:
    result = connect(peer, f"127.0.0.1:{peer.port}", "--verify", "--send", "SECRET\n", "--component", component)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "Server name: 127.0.0.1 (an address: no SNI sent)" in out
    assert "refused during the handshake" in out
    assert "Not sending anything" in out and "TERCES" not in out
    assert result.stderr.count("\n") == 1
    if nettls.registry.component(component).client_verifies_chain:
        # rustls refuses the name inside its own verifier and hands out no
        # certificate it refused (its deviation table says so): no chain to show.
        assert "127.0.0.1" in result.stderr
        return
    assert "subject:  O=nettls, CN=default.invalid" in out
    assert "Verification: OK" in out and "Host name: FAIL" in out
    assert "host name check failed" in result.stderr


def test_hostname_names_the_server(peer: Peer) -> None:
    result = connect(peer, f"127.0.0.1:{peer.port}", "--verify", "--hostname", "LOCALHOST", "--send", "abc\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Server name (SNI): localhost" in result.stdout and "cba" in result.stdout


def test_alpn_usage_errors(peer: Peer) -> None:
    result = connect(peer, f"127.0.0.1:{peer.port}", "--alpn", ",")
    assert result.returncode == 2 and "--alpn" in result.stderr
    result = connect(peer, f"127.0.0.1:{peer.port}", "--alpn", "x" * 300)
    assert result.returncode == 2 and "--alpn" in result.stderr and "Traceback" not in result.stderr
