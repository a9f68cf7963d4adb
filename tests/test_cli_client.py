"""``nettls connect`` as a user runs it: mutual TLS, a server that refuses
the client after a TLS 1.3 handshake, escapes in --send, --crlf, and an
encrypted key with --key-password-file. Real peers: ``openssl s_server``
and ``nettls serve`` in a thread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nettls.conformance import make_pki
from nettls.conformance._openssl import s_server, write_identity
from nettls.conformance.pki import ENCRYPTED_KEY_PASSWORD

from _edge import port_of, serve_thread
from _serving import serve_process

pytestmark = pytest.mark.timeout(60)


def nettls_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "nettls.cli", *args], input=stdin, capture_output=True, timeout=30)


@pytest.mark.parametrize("quiet", [False, True])
def test_a_tls13_refusal_after_the_handshake_exits_1(tmp_path: Path, quiet: bool) -> None:
    """The server asks for a client certificate and requires one (s_server
    -Verify): in TLS 1.3 its certificate_required alert comes after the
    client's handshake is done. connect must still fail, saying so."""
    pki = make_pki()
    files = write_identity(tmp_path, pki.ec)
    proc, port = s_server(files, "-Verify", "1", "-CAfile", files["root"], "-tls1_3")
    with proc:
        args = ["connect", f"127.0.0.1:{port}", "--hostname", "localhost", "--cafile", files["root"], "--verify",
                "--send", "hi", "--timeout", "1"]  # fmt: skip
        done = nettls_cli(*args, *(["-q"] if quiet else []))
    assert done.returncode == 1, done
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "alert" in lines[0], lines


def test_mutual_tls_with_cert_and_key(tmp_path: Path) -> None:
    pki = make_pki()
    files = write_identity(tmp_path, pki.ec)
    client = tmp_path / "client.pem"
    client.write_text(pki.client.cert_pem + "".join(pki.client.chain_pems) + pki.client.key_pem())
    (tmp_path / "client-root.pem").write_text(pki.client.root.cert_pem)
    proc, port = s_server(files, "-Verify", "1", "-CAfile", str(tmp_path / "client-root.pem"), "-tls1_3")
    with proc:
        done = nettls_cli("connect", f"127.0.0.1:{port}", "--hostname", "localhost", "--cafile", files["root"],
                          "--verify", "--cert", str(client), "--send", "abc\\n", "--timeout", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"cba" in done.stdout, "s_server -rev echoes the line reversed"


def test_send_escapes_and_crlf_reach_the_peer_as_bytes() -> None:
    with serve_thread("stdlib") as server:
        port = str(port_of(server))
        done = nettls_cli("connect", f"127.0.0.1:{port}", "-q", "--send", "a\\x41\\tb\\r\\n\\\\", "--timeout", "0.5")
        assert done.returncode == 0, done.stderr
        assert done.stdout == b"aA\tb\r\n\\"
        done = nettls_cli("connect", f"127.0.0.1:{port}", "-q", "--crlf", "--timeout", "0.5", stdin=b"x\ny\r\n")
        assert done.stdout == b"x\r\ny\r\n"


def test_serve_and_connect_take_an_encrypted_key_with_its_password_file(tmp_path: Path) -> None:
    pki = make_pki()
    cert, key, password = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "password.txt"
    cert.write_text(pki.ec.cert_pem + "".join(pki.ec.chain_pems))
    key.write_text(pki.ec.key_pem("encrypted"))
    password.write_bytes(ENCRYPTED_KEY_PASSWORD + b"\n")
    no_password = nettls_cli("serve", "--port", "0", "--cert", str(cert), "--key", str(key))
    assert no_password.returncode == 2 and b"encrypted" in no_password.stderr, no_password.stderr
    wrong = tmp_path / "wrong.txt"
    wrong.write_bytes(b"not it\n")
    refused = nettls_cli("serve", "--port", "0", "--cert", str(cert), "--key", str(key), "--key-password-file", str(wrong))
    assert refused.returncode == 2 and b"password" in refused.stderr and b"not it" not in refused.stderr
    root = tmp_path / "root.pem"
    root.write_text(pki.ec.root.cert_pem)
    client = tmp_path / "client.pem"
    client.write_text(pki.client.cert_pem + pki.client.key_pem("encrypted"))
    with serve_process("--cert", str(cert), "--key", str(key), "--key-password-file", str(password)) as server:
        done = nettls_cli("connect", f"127.0.0.1:{server.port}", "--hostname", "localhost", "--cafile", str(root),
                          "--cert", str(client), "--key-password-file", str(password), "--send", "ping",
                          "--timeout", "0.5")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"ping" in done.stdout


def test_conformance_without_pytest_says_what_to_install() -> None:
    """Run where pytest cannot be imported."""
    code = (
        "import sys, importlib.util; sys.modules['pytest'] = None;"
        "from nettls.cli import main; sys.exit(main(['conformance', 'stdlib']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 2, done
    assert b"nettls[test]" in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr


def test_components_lists_the_deviations_on_request() -> None:
    import nettls

    done = nettls_cli("components", "--component", "pyopenssl", "--deviations")
    assert done.returncode == 0, done.stderr
    for case in nettls.registry.component("pyopenssl").deviations:
        assert case.encode() in done.stdout


def test_verify_checks_a_host_name_on_request(tmp_path: Path) -> None:
    pki = make_pki()
    leaf, root = tmp_path / "leaf.pem", tmp_path / "root.pem"
    leaf.write_text(pki.ec.cert_pem + "".join(pki.ec.chain_pems))
    root.write_text(pki.ec.root.cert_pem)
    good = nettls_cli("verify", str(leaf), "--cafile", str(root), "--hostname", "localhost")
    assert good.returncode == 0 and b"host name: localhost matches" in good.stdout, good
    bad = nettls_cli("verify", str(leaf), "--cafile", str(root), "--hostname", "www.example.com", "-q")
    assert bad.returncode == 1 and b"www.example.com" in bad.stdout, bad


@pytest.mark.parametrize("kind, needle", [("expired", "expired"), ("not_yet_valid", "not valid before"), ("rsa", "not valid for 127.0.0.2")])
def test_serve_warns_about_a_certificate_clients_will_refuse(tmp_path: Path, kind: str, needle: str) -> None:
    pki = make_pki()
    identity = getattr(pki, kind)
    cert = tmp_path / "cert.pem"
    cert.write_text(identity.cert_pem + "".join(identity.chain_pems) + identity.key_pem())
    host = "127.0.0.2" if kind == "rsa" else "127.0.0.1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nettls.cli", "serve", "--host", host, "--port", "0", "--cert", str(cert)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert any(proc.stdout.readline().startswith(b"listening on") for _ in range(5)), "serve still starts"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert needle.encode() in err, err
