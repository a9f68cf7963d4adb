"""Shared by ``test_aio``, ``test_anyio`` and ``test_httpx``: certificates,
contexts for every component, files for openssl and curl, and peers built
from Python's ``ssl`` whose every move the test decides.

Every wait is bounded; traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
import struct
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

import nettls
from nettls.pki import ThrowawayPKI, issue, throwaway_pki

#: Every available TLS component: the layers run on each.
COMPONENTS = tuple(nettls.registry.providers("net.TLS"))
LOOPBACK = "127.0.0.1"
#: The bound of any single wait in these tests.
WAIT = 10.0
#: SO_LINGER on, zero seconds: close() sends a reset instead of a FIN.
LINGER_RESET = struct.pack("ii", 1, 0)


@functools.lru_cache(maxsize=None)
def pki() -> ThrowawayPKI:
    """One throwaway PKI (EC keys: fast) for the whole run."""
    return throwaway_pki()


@functools.lru_cache(maxsize=None)
def client_identity() -> Any:
    """A client certificate under the PKI's intermediate, for mutual TLS."""
    return issue("nettls aio client", issuer=pki().intermediate, server_auth=False, client_auth=True)


def lacking(component: str, **needs: list[Any]) -> list[str]:
    """The extension interfaces ``component`` lacks, by spec interface:
    ``lacking("mbedtls", TLS=[IServerName], TLSContext=[IVerifyOnConnect])``."""
    missing = []
    for name, extensions in needs.items():
        cls = nettls.resolve(f"net.{name}", component=component)
        missing += [e.__name__ for e in extensions if not e.implementedBy(cls)]
    return missing


def need(component: str, **needs: list[Any]) -> None:
    """Skip, saying it is not applicable and why, where ``component`` lacks an extension."""
    missing = lacking(component, **needs)
    if missing:
        pytest.skip(f"n/a: the {component} component does not provide {', '.join(missing)}")


def store(component: str, *pems: str) -> Any:
    s = nettls.resolve("net.TLSCertStore", component=component)()
    for pem in pems:
        s.addCertificate(pem)
    return s


#: Components whose server cannot write once the client has sent close_notify
#: (TLS 1.2 lets a library refuse it, RFC 5246 7.2.1: mbed TLS 2.28 resets
#: the connection). Half-close tests run their client on these against a
#: stdlib server.
NO_WRITE_AFTER_PEER_CLOSE = {"mbedtls"}


def half_close_server(component: str) -> str:
    """The server component for a test that writes after the client's close_notify."""
    return "stdlib" if component in NO_WRITE_AFTER_PEER_CLOSE else component


def server_context(component: str, *, alpn: list[str] | None = None, client_ca: str | None = None) -> Any:
    Context: Any = nettls.resolve("net.TLSContext", component=component)
    ctx = Context(Context.SERVER)
    ctx.setCertificate(pki().leaf.cert_pem, pki().leaf.key_pem)
    ctx.setCertificateChain(pki().chain_pems)
    if alpn:
        ctx.setApplicationProtocols(alpn)
    if client_ca:
        ctx.setClientCertificatePolicy(ctx.CLIENT_CERT_REQUIRE, store(component, client_ca))
    return ctx


def client_context(component: str, *, verify: bool = False, root: str | None = None, alpn: list[str] | None = None) -> Any:
    """A CLIENT context: with ``verify``, verifying chain and host name against
    ``root`` (default: the PKI's root); without, verifying nothing, except
    that a client which always verifies the chain (SPEC 6, the rustls
    plugin) verifies it against the PKI's root."""
    Context: Any = nettls.resolve("net.TLSContext", component=component)
    ctx = Context(Context.CLIENT)
    if verify or nettls.registry.component(component).client_verifies_chain:
        ctx.setVerifyOnConnect(store(component, root or pki().root.cert_pem), checkHostName=verify)
    if alpn:
        ctx.setApplicationProtocols(alpn)
    return ctx


def write_files(directory: Path) -> dict[str, str]:
    """The PKI as files (for openssl, curl and httpx): paths by role."""
    p, client = pki(), client_identity()
    texts = {
        "cert": p.leaf.cert_pem,
        "key": p.leaf.key_pem,
        "chain": p.intermediate.cert_pem,
        "root": p.root.cert_pem,
        "full": p.leaf.cert_pem + p.intermediate.cert_pem,
        "client_cert": client.cert_pem + p.intermediate.cert_pem,
        "client_key": client.key_pem,
    }
    paths = {}
    for role, text in texts.items():
        path = directory / f"{role}.pem"
        path.write_text(text)
        paths[role] = str(path)
    return paths


def open_fds() -> int:
    """Descriptors this process holds (Linux)."""
    return len(os.listdir("/proc/self/fd"))


def descriptor(sock: Any) -> tuple[int, str]:
    """A nettls socket's descriptor and what it refers to (Linux)."""
    fd = sock.fileno()
    return fd, os.readlink(f"/proc/self/fd/{fd}")


def still_open(fd: int, target: str) -> bool:
    """Whether the descriptor ``descriptor()`` saw still refers to the same socket."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == target
    except OSError:
        return False


def python_server_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(_pem_file("server"))
    return ctx


@functools.lru_cache(maxsize=None)
def _pem_file(kind: str) -> str:
    """A file of the server's chain and key for Python's ssl, removed at exit."""
    import atexit
    import tempfile

    p = pki()
    fd, path = tempfile.mkstemp(prefix=f"nettls-aio-{kind}-", suffix=".pem")
    with os.fdopen(fd, "w") as f:
        f.write(p.leaf.cert_pem + p.intermediate.cert_pem + p.leaf.key_pem)
    atexit.register(os.unlink, path)
    return path


class PythonPeer:
    """A TLS server on Python's ``ssl`` in a thread, for one connection: it
    completes the handshake, then runs ``script(tls_socket)``, which decides
    every later move (send, stop reading, truncate, reset). Its exceptions
    are kept in ``errors``."""

    def __init__(self, script: Callable[[ssl.SSLSocket], None]) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(WAIT)
        self.port: int = self._listener.getsockname()[1]
        self.errors: list[BaseException] = []
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(script,), daemon=True)
        self._thread.start()

    def _run(self, script: Callable[[ssl.SSLSocket], None]) -> None:
        try:
            raw, _ = self._listener.accept()
            raw.settimeout(WAIT)
            with python_server_context().wrap_socket(raw, server_side=True) as tls:
                script(tls)
        except BaseException as exc:  # handed to the test
            self.errors.append(exc)
        finally:
            self._listener.close()
            self.done.set()

    def join(self) -> None:
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "the peer thread did not finish"


def truncate(tls: ssl.SSLSocket) -> None:
    """End TCP without close_notify."""
    tls.close()


def reset(tls: ssl.SSLSocket) -> None:
    """End TCP with a reset."""
    tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    tls.close()


def close_notify(tls: ssl.SSLSocket) -> None:
    """Send close_notify, then end TCP (not waiting for the peer's)."""
    tls.setblocking(False)
    try:
        tls.unwrap()
    except (ssl.SSLWantReadError, ssl.SSLError, OSError):  # (sent; the peer's is not awaited)
        pass
    tls.close()
