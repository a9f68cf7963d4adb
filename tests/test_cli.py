"""The command line, run as a user runs it: ``python -m nettls.cli`` in a subprocess.

Every run is bounded by a timeout; every error a user can make must come
back as one line on stderr (never a traceback) with the exit status of
SPEC section 12: 0 success, 1 the thing checked failed, 2 usage or input.
"""

from __future__ import annotations

import datetime
import os
import queue
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import nettls
from nettls.pki import issue, throwaway_pki

from _serving import serve_process

NETTLS = [sys.executable, "-m", "nettls.cli"]
TLS_COMPONENTS = nettls.registry.providers("net.TLS")
OPENSSL = shutil.which("openssl")


def nettls_run(*args: str, timeout: float = 30, input: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NETTLS, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def python_run(script: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nettls"), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- files a user would have --------------------------------------------------------------


class Files:
    def __init__(self, root: Path) -> None:
        pki = throwaway_pki()
        other = throwaway_pki()
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=10)
        expired = issue("expired.example", issuer=pki.intermediate, names=["expired.example"], not_before=past, not_after=past + datetime.timedelta(days=1))
        self.root = root
        self.leaf = self._write("leaf.pem", pki.leaf.cert_pem)
        self.key = self._write("key.pem", pki.leaf.key_pem)
        self.chain = self._write("chain.pem", pki.intermediate.cert_pem)
        self.fullchain = self._write("fullchain.pem", pki.leaf.cert_pem + pki.intermediate.cert_pem)
        self.ca = self._write("ca.pem", pki.root.cert_pem)
        self.wrong_ca = self._write("wrong-ca.pem", other.root.cert_pem)
        self.expired = self._write("expired.pem", expired.cert_pem)
        self.not_pem = self._write("notes.txt", "just some text\n")
        self.capath = root / "capath"
        self.capath.mkdir()
        (self.capath / "root.pem").write_text(pki.root.cert_pem)

    def _write(self, name: str, text: str) -> str:
        path = self.root / name
        path.write_text(text)
        return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("pki"))


# --- openssl s_server -----------------------------------------------------------------------


class SServer:
    """``openssl s_server`` on 127.0.0.1, its stdout collected line by line."""

    def __init__(self, files: Files, *extra: str) -> None:
        self.port = free_port()
        cmd = [
            str(OPENSSL), "s_server", "-accept", f"127.0.0.1:{self.port}",
            "-cert", files.leaf, "-key", files.key, "-cert_chain", files.chain, *extra,
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.output = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"openssl s_server did not start: {bytes(self.output)!r}") from None
            if line.startswith(b"ACCEPT"):
                break

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.output += line
            self.lines.put(line)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def received(self, settle: float = 0.3) -> bytes:
        time.sleep(settle)
        return bytes(self.output)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        self.reader.join(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


@pytest.fixture(scope="module")
def rev_server(files: Files) -> Iterator[SServer]:
    """Answers every line with the line reversed (``-rev``)."""
    if OPENSSL is None:
        pytest.skip("the openssl command is not installed")
    server = SServer(files, "-rev")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def plain_server(files: Files) -> Iterator[SServer]:
    """Prints on its stdout whatever the client sends."""
    if OPENSSL is None:
        pytest.skip("the openssl command is not installed")
    server = SServer(files)
    try:
        yield server
    finally:
        server.stop()


# --- the front ----------------------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = nettls_run("--help")
    assert result.returncode == 0, result.stderr
    for command in ("demo", "connect", "verify", "components", "conformance", "serve"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["demo", "connect", "verify", "components", "conformance", "serve"])
def test_help_on_every_command(command: str) -> None:
    result = nettls_run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: nettls " + command)
    assert result.stderr == ""


def test_no_command_is_a_usage_error() -> None:
    result = nettls_run()
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["verify", "x.pem", "--bogus"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
        (["connect"], "HOST:PORT"),
        (["demo", "--size", "lots"], "--size"),
        (["--log-level", "chatty", "components"], "--log-level"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], needle: str) -> None:
    assert_one_line_error(nettls_run(*args), 2, needle)


def test_log_level_is_accepted_before_and_after_the_command() -> None:
    assert nettls_run("--log-level", "debug", "components").returncode == 0
    assert nettls_run("components", "--log-level", "error").returncode == 0


def test_serve_is_registered() -> None:
    result = nettls_run("serve", "--help")
    assert result.returncode == 0
    try:
        import nettls.commands.serve  # noqa: F401
    except ImportError:
        assert_one_line_error(nettls_run("serve"), 2, "serve")


# --- components ---------------------------------------------------------------------------------


def test_components_lists_interfaces_components_and_links() -> None:
    result = nettls_run("components")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in ("net.TLS", "net.TLSContext", "net.TLSCertStore", "net.TCPSocket", "net.TCPServerSocket", "net.TCPMonitor"):
        assert name in out
    assert "net.Stream" in out and "abstract" in out
    for component in ("tcp", "stdlib", "pyopenssl"):
        assert f"  {component}: available" in out or f"  {component}: unavailable: " in out, component
    assert "  net.TLS -> " in out
    assert "ISessionInfo" in out


def test_components_shows_an_unavailable_component_with_its_reason() -> None:
    result = python_run(
        """
        import sys, nettls
        from nettls.registry import ComponentStatus
        nettls.registry.components()  # discovery first
        nettls.registry._status["ghost"] = ComponentStatus("ghost", False, "ModuleNotFoundError: No module named 'ghostlib'")
        from nettls.cli import main
        sys.exit(main(["components"]))
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ghost: unavailable: ModuleNotFoundError: No module named 'ghostlib'" in result.stdout


def test_demo_lists_an_unavailable_component_and_goes_on() -> None:
    result = python_run(
        """
        import sys, nettls
        from nettls.registry import ComponentStatus
        nettls.registry.components()
        nettls.registry._status["ghost"] = ComponentStatus("ghost", False, "ModuleNotFoundError: No module named 'ghostlib'")
        from nettls.cli import main
        sys.exit(main(["demo", "--mode", "blocking"]))
        """
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(component ghost is unavailable: ModuleNotFoundError: No module named 'ghostlib')" in result.stdout


def test_components_follows_nettls_links() -> None:
    other = [c for c in TLS_COMPONENTS if c != nettls.registry.linked("net.TLS")]
    if not other:
        pytest.skip("only one TLS component is available")
    env = dict(os.environ, NETTLS_LINKS=f"net.TLS={other[0]}")
    result = nettls_run("components", env=env)
    assert result.returncode == 0, result.stderr
    assert f"net.TLS -> {other[0]}" in result.stdout


def test_a_bad_nettls_links_is_one_line() -> None:
    env = dict(os.environ, NETTLS_LINKS="net.TLS=nosuchcomponent")
    assert_one_line_error(nettls_run("components", env=env), 2, "NETTLS_LINKS")


def test_unknown_component_is_a_usage_error(files: Files) -> None:
    assert_one_line_error(nettls_run("verify", files.leaf, "--cafile", files.ca, "--component", "nosuch"), 2, "nosuch")
    assert_one_line_error(nettls_run("verify", files.leaf, "--cafile", files.ca, "--component", "tcp"), 2, "tcp")


# --- verify -------------------------------------------------------------------------------------


@pytest.mark.parametrize("component", TLS_COMPONENTS)
def test_verify_ok(files: Files, component: str) -> None:
    result = nettls_run("verify", files.leaf, "--chain", files.chain, "--cafile", files.ca, "--component", component)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"{files.leaf}: OK")
    assert "CN=localhost" in result.stdout
    assert "EC P-256" in result.stdout
    assert f"component: {component}" in result.stdout
    assert result.stderr == ""


def test_verify_reads_the_chain_from_the_certificate_file_and_a_capath(files: Files) -> None:
    result = nettls_run("verify", files.fullchain, "--capath", str(files.capath))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 untrusted certificate" in result.stdout


@pytest.mark.parametrize("component", TLS_COMPONENTS)
def test_verify_fail(files: Files, component: str) -> None:
    result = nettls_run("verify", files.leaf, "--chain", files.chain, "--cafile", files.wrong_ca, "--component", component)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"{files.leaf}: FAIL: ")
    assert "failed certificate:" in result.stdout
    assert result.stderr == ""


def test_verify_fail_expired(files: Files) -> None:
    result = nettls_run("verify", files.expired, "--chain", files.chain, "--cafile", files.ca, "-q")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"{files.expired}: FAIL: ")
    assert len(result.stdout.splitlines()) == 1


def test_verify_without_the_intermediate_fails(files: Files) -> None:
    result = nettls_run("verify", files.leaf, "--cafile", files.ca)
    assert result.returncode == 1


@pytest.mark.parametrize(
    "args, needle",
    [
        (["missing.pem", "--cafile", "{ca}"], "no such file"),
        (["{leaf}", "--cafile", "missing.pem"], "no such file"),
        (["{leaf}", "--chain", "missing.pem", "--cafile", "{ca}"], "no such file"),
        (["{notes}", "--cafile", "{ca}"], "not a certificate"),
        (["{key}", "--cafile", "{ca}"], "holds no certificate"),
        (["{leaf}", "--cafile", "{key}"], "holds no PEM certificate"),
        (["{leaf}", "--cafile", "{ca}", "--capath", "{capath}"], "not allowed with"),
        (["{leaf}", "--capath", "{ca}"], "not a directory"),
        (["{capath}", "--cafile", "{ca}"], "is a directory"),
        ([], "CERT"),
    ],
)
def test_verify_usage_errors(files: Files, args: list[str], needle: str) -> None:
    mapping = {"ca": files.ca, "leaf": files.leaf, "notes": files.not_pem, "key": files.key, "capath": str(files.capath)}
    result = nettls_run("verify", *(a.format(**mapping) for a in args))
    assert_one_line_error(result, 2, needle)


# --- demo ---------------------------------------------------------------------------------------


def test_demo_passes_for_every_component_pair_and_mode() -> None:
    started = time.monotonic()
    result = nettls_run("demo", timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["server", "client"])
    for column in ("client", "mode", "protocol", "cipher", "handshake", "verify", "echoed", "result"):
        assert column in lines[header]
    rows = [line.split() for line in lines[header + 2 :] if line.strip() and not line.startswith(("(", " "))]
    rows = [r for r in rows if r[0] in TLS_COMPONENTS]
    n = len(TLS_COMPONENTS)
    assert len(rows) == n * n * 2
    assert {(r[0], r[1], r[2]) for r in rows} == {
        (s, c, m) for s in TLS_COMPONENTS for c in TLS_COMPONENTS for m in ("blocking", "non-blocking")
    }
    for row in rows:
        assert row[-1] == "ok" and "OK" in row, row
    assert "all passed" in lines[-1]
    assert elapsed < 20


def test_demo_one_component_one_mode() -> None:
    result = nettls_run("demo", "--component", "stdlib", "--mode", "non-blocking", "--size", "300000", "--key", "rsa")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stdlib  stdlib  non-blocking" in result.stdout
    assert "300000 B" in result.stdout
    assert "1 cells" in result.stdout


def test_demo_fails_a_component_that_verifies_anything() -> None:
    result = python_run(
        """
        import sys, nettls
        from nettls.interfaces import VerifyStatus

        base = nettls.resolve("net.TLS", component="stdlib")

        class Gullible(base):
            def verifyCertificate(self, store, certificate, chain):
                return VerifyStatus(VerifyStatus.OK)

        nettls.registry.register(nettls.Component(name="gullible", provides={
            "net.TLS": Gullible,
            "net.TLSContext": nettls.resolve("net.TLSContext", component="stdlib"),
            "net.TLSCertStore": nettls.resolve("net.TLSCertStore", component="stdlib"),
        }))
        from nettls.cli import main
        sys.exit(main(["demo", "--component", "gullible", "--component", "stdlib", "--mode", "blocking"]))
        """
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Failures:" in result.stdout
    failures = [line for line in result.stdout.splitlines() if "verifyCertificate said OK against an unrelated CA" in line]
    assert len(failures) == 2  # the gullible client, against either server
    assert all("gullible client" in line for line in failures)
    assert "2 passed, 2 FAILED" in result.stdout


def test_demo_bounds_a_cell_whose_server_hangs() -> None:
    started = time.monotonic()
    result = python_run(
        """
        import sys, time, nettls

        base = nettls.resolve("net.TLS", component="stdlib")

        class Stuck(base):
            def accept(self, socket):
                time.sleep(30)

        nettls.registry.register(nettls.Component(name="stuck", provides={
            "net.TLS": Stuck,
            "net.TLSContext": nettls.resolve("net.TLSContext", component="stdlib"),
            "net.TLSCertStore": nettls.resolve("net.TLSCertStore", component="stdlib"),
        }))
        from nettls.cli import main
        sys.exit(main(["demo", "--component", "stuck", "--mode", "blocking", "--timeout", "0.5"]))
        """,
        timeout=20,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout
    assert "timed out" in result.stdout
    assert time.monotonic() - started < 10


# --- connect ------------------------------------------------------------------------------------


@needs_openssl
@pytest.mark.parametrize("component", TLS_COMPONENTS)
def test_connect_verifies_and_exchanges_data(files: Files, rev_server: SServer, component: str) -> None:
    result = nettls_run(
        "connect", rev_server.endpoint, "--cafile", files.ca, "--send", "hello nettls\n", "--timeout", "0.5", "--component", component
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"(component {component})" in out
    assert "Protocol: TLSv1." in out
    assert "Cipher:" in out
    assert "Peer certificate chain (2 certificates):" in out
    assert "subject:  O=nettls, CN=localhost" in out
    assert "issuer:   O=nettls, CN=nettls throwaway intermediate CA" in out
    assert "key:      EC P-256" in out
    assert "validity:" in out
    assert "Verification: OK" in out
    assert "Host name: OK (127.0.0.1)" in out
    assert "sltten olleh" in out  # s_server -rev answers each line reversed
    assert result.stderr == ""


@needs_openssl
def test_connect_with_the_wrong_ca_says_fail_and_exits_1(files: Files, rev_server: SServer) -> None:
    result = nettls_run("connect", rev_server.endpoint, "--cafile", files.wrong_ca, "--send", "abc\n", "--timeout", "0.3")
    assert "Verification: FAIL" in result.stdout
    assert "cba" in result.stdout  # without --verify the data still goes
    assert_one_line_error(result, 1, "verification failed")


@needs_openssl
def test_connect_verify_sends_nothing_when_the_chain_fails(files: Files, plain_server: SServer) -> None:
    result = nettls_run(
        "connect", plain_server.endpoint, "--cafile", files.wrong_ca, "--verify", "--send", "SECRET-MARKER", "--timeout", "0.3"
    )
    assert "Verification: FAIL" in result.stdout
    assert "Not sending anything" in result.stdout
    assert_one_line_error(result, 1, "verification failed")
    # The same server does get data from a client that verifies.
    ok = nettls_run("connect", plain_server.endpoint, "--cafile", files.ca, "--verify", "--send", "PUBLIC-MARKER", "--timeout", "0.3")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    received = plain_server.received()
    assert b"PUBLIC-MARKER" in received
    assert b"SECRET-MARKER" not in received


@needs_openssl
def test_connect_verify_checks_the_host_name(files: Files, rev_server: SServer) -> None:
    result = nettls_run("connect", rev_server.endpoint, "--cafile", files.ca, "--verify", "--hostname", "www.example.com", "--timeout", "0.3")
    assert "Verification: OK" in result.stdout
    assert "Host name: FAIL" in result.stdout
    assert_one_line_error(result, 1, "www.example.com")


@needs_openssl
def test_connect_without_a_ca_says_not_checked_and_sends_stdin(rev_server: SServer) -> None:
    result = nettls_run("connect", rev_server.endpoint, "--timeout", "0.3", input="ping\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification: not checked" in result.stdout
    assert "sent 5 bytes" in result.stdout
    assert "gnip" in result.stdout


@needs_openssl
def test_connect_quiet_prints_only_the_data(rev_server: SServer) -> None:
    result = nettls_run("connect", rev_server.endpoint, "--timeout", "0.3", "-q", "--send", "abc\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cba"


def _unsafe(text: str) -> list[str]:
    """The control characters a terminal would act on, as found in ``text``."""
    return [repr(c) for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F]


@pytest.mark.parametrize("component", TLS_COMPONENTS)
def test_connect_escapes_what_the_peer_chose(tmp_path: Path, component: str) -> None:
    """A certificate whose names hold ESC, BEL, CSI and OSC sequences, served
    by ``nettls serve``: every line ``connect`` prints about it (subject,
    issuer, names, the verification reason, the failed certificate, the
    host-name check) and its one-line error come out escaped, as
    ``openssl x509 -nameopt esc_ctrl`` prints them; the application data
    the server echoes stays raw."""
    ca = issue("Evil\x07CA\x1b[2J", ca=True)
    leaf = issue("\x1b]0;owned\x07\x1b[31mred\x9b", issuer=ca, names=["\x1b[1mbold.example", "ok.example"])
    (tmp_path / "cert.pem").write_text(leaf.cert_pem + ca.cert_pem)
    (tmp_path / "key.pem").write_text(leaf.key_pem)
    (tmp_path / "other-ca.pem").write_text(issue("another CA", ca=True).cert_pem)
    with serve_process("--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem")) as server:
        result = nettls_run(
            "connect", f"127.0.0.1:{server.port}", "--cafile", str(tmp_path / "other-ca.pem"), "--hostname",
            "www.example", "--send", "data \x1b[0m stays raw", "--timeout", "0.5", "--component", component,
        )  # fmt: skip
    if nettls.registry.component(component).client_verifies_chain:  # rustls: refused in the handshake
        assert_one_line_error(result, 1, "handshake")
        assert not _unsafe(result.stdout + result.stderr), result.stdout + result.stderr
        return
    report, _, rest = result.stdout.partition("--- sent")
    data, _, tail = rest.partition("\n--- ")
    assert "data \x1b[0m stays raw" in data, result.stdout
    assert "subject:  O=nettls, CN=\\x1b]0\\;owned\\x07\\x1b[31mred\\x9b" in report, report
    assert "issuer:   O=nettls, CN=Evil\\x07CA\\x1b[2J" in report, report
    assert "names:    \\x1b[1mbold.example, ok.example" in report, report
    assert "failed certificate: O=nettls, CN=Evil\\x07CA\\x1b[2J" in report, report
    assert "Host name: FAIL:" in report and "\\x1b[1mbold.example" in report, report
    assert not _unsafe(report + tail), (_unsafe(report + tail), report + tail)
    assert_one_line_error(result, 1, "\\x1b[2J")
    assert not _unsafe(result.stderr), result.stderr


@pytest.fixture
def not_tls_server() -> Iterator[int]:
    """A TCP server that answers in plain text and hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nthis is not TLS\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()
        thread.join(timeout=5)


def test_connect_to_a_server_that_is_not_tls_fails_the_handshake(not_tls_server: int) -> None:
    result = nettls_run("connect", f"127.0.0.1:{not_tls_server}", "--timeout", "0.3", "--connect-timeout", "5")
    assert_one_line_error(result, 1, "handshake")


def test_connect_to_a_closed_port_is_one_line() -> None:
    result = nettls_run("connect", f"127.0.0.1:{free_port()}")
    assert_one_line_error(result, 1, "cannot connect")


def test_connect_to_an_unknown_host_is_one_line() -> None:
    result = nettls_run("connect", "no-such-host.invalid:443", "--connect-timeout", "5")
    assert_one_line_error(result, 1, "no-such-host.invalid")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["127.0.0.1"], "no port"),
        (["127.0.0.1:http"], "not a number"),
        (["127.0.0.1:70000"], "1 to 65535"),
        (["::1:443"], "brackets"),
        (["127.0.0.1:443", "--cafile", "missing.pem"], "no such file"),
        (["127.0.0.1:443", "--timeout", "0"], "positive"),
        (["127.0.0.1:443", "--component", "nosuch"], "nosuch"),
    ],
)
def test_connect_usage_errors(args: list[str], needle: str) -> None:
    assert_one_line_error(nettls_run("connect", *args), 2, needle)


# --- conformance --------------------------------------------------------------------------------

_STUB = """
import sys
import nettls.conformance as suite

def run(components, clauses=(), tcp=None, pytest_args=(), output=None):
    table = {{
        "6.handshake": {{c: "pass" for c in components}},
        "6.verify-fail": {{c: ("deviation" if c == "pyopenssl" else "pass") for c in components}},
        "11.timeout": {{c: "skip" for c in components}},
        "7.send-wait": {{c: {outcome!r} for c in components}},
    }}
    return table

suite.run = run
from nettls.cli import main
sys.exit(main(["conformance", *{args!r}]))
"""


def test_conformance_prints_one_row_per_clause_and_one_column_per_component() -> None:
    result = python_run(_STUB.format(outcome="pass", args=["stdlib", "tcp"]))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["clause", "stdlib", "tcp"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[2:6]}
    assert rows == {
        "6.handshake": ["pass", "pass"],
        "6.verify-fail": ["pass", "pass"],
        "11.timeout": ["skip", "skip"],
        "7.send-wait": ["pass", "pass"],
    }
    assert "all clauses pass" in result.stdout


def test_conformance_exits_1_when_a_clause_fails() -> None:
    result = python_run(_STUB.format(outcome="fail", args=["--component", "stdlib", "--brief"]))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "7.send-wait fail".split() in [line.split() for line in result.stdout.splitlines()]
    assert "1 failing cell" in result.stdout


def test_conformance_unknown_component_is_a_usage_error() -> None:
    assert_one_line_error(nettls_run("conformance", "nosuch"), 2, "nosuch")


def test_conformance_runs_the_real_suite_without_a_traceback() -> None:
    result = nettls_run("conformance", "stdlib", "--clause", "3.", timeout=120)
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1), result.stdout + result.stderr
    if result.returncode == 1 and "clause" not in result.stdout:
        assert_one_line_error(result, 1)
