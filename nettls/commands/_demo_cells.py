"""The demo's cells: what one cell found, and its clients.

A cell is one client component against one server component in one mode.
Its client connects, then checks in order: the handshake; the peer chain
(leaf and intermediate, exactly as sent); ``verifyCertificate`` against
the root CA (OK) and against an unrelated CA (FAIL, so a verifier that
accepts anything is caught); and the echo of a message, framed as a 4-byte
big-endian length and that many bytes. Socket timeouts (``ITimeout``) and
deadlines bound every step: a broken cell fails, it never hangs.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from nettls.components.kit import pem_to_der
from nettls.escape import escape_control

from ._certs import describe_certificate
from ._classes import TCPClasses, TLSClasses, client_verifies_chain
from ._errors import error_text, one_line
from ._sessions import SessionWaiter, available, failure_reason, session_info

__all__ = [
    "BLOCKING",
    "NON_BLOCKING",
    "Cell",
    "CellFailed",
    "Material",
    "server_context",
    "run_client",
]

BLOCKING = "blocking"
NON_BLOCKING = "non-blocking"


class CellFailed(Exception):
    """One step of a cell failed; the message says which and why."""


@dataclass
class Cell:
    server: str
    client: str
    mode: str
    protocol: str = "-"
    cipher: str = "-"
    handshake_ms: float | None = None
    verify: str = "-"
    echoed: int | None = None
    error: str | None = None
    #: The client's TCP connect succeeded, so the server has a report to make.
    reached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def row(self) -> tuple[str, ...]:
        handshake = "-" if self.handshake_ms is None else f"{self.handshake_ms:.1f} ms"
        echoed = "-" if self.echoed is None else f"{self.echoed} B"
        return (
            self.server,
            self.client,
            self.mode,
            self.protocol,
            self.cipher,
            handshake,
            self.verify,
            echoed,
            "ok" if self.ok else "FAIL",
        )


@dataclass(frozen=True)
class Material:
    """The throwaway PKI, as the servers and clients need it."""

    leaf_pem: str
    key_pem: str
    intermediate_pem: str
    root_pem: str
    untrusted_root_pem: str
    names: tuple[str, ...]


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def server_context(tls_c: TLSClasses, material: Material) -> Any:
    """A SERVER context presenting the demo's leaf and intermediate."""
    ctx = tls_c.TLSContext(tls_c.TLSContext.SERVER)
    ctx.setCertificate(material.leaf_pem, material.key_pem)
    ctx.setCertificateChain([material.intermediate_pem])
    return ctx


def _client_context(tls_c: TLSClasses, material: Material) -> Any:
    """A CLIENT context as Dana makes it; for a component whose client
    verifies the chain in the handshake (rustls: SPEC 6), one that trusts
    the demo's root, host name unchecked, so it can reach the demo server."""
    from nettls.interfaces import IVerifyOnConnect

    ctx = tls_c.TLSContext(tls_c.TLSContext.CLIENT)
    if client_verifies_chain(tls_c) and IVerifyOnConnect.providedBy(ctx):
        store = tls_c.TLSCertStore()
        store.addCertificate(material.root_pem)
        ctx.setVerifyOnConnect(store, checkHostName=False)
    return ctx


def _check_peer(cell: Cell, session: Any, tls_c: TLSClasses, material: Material) -> None:
    """The chain as sent, then verifyCertificate: OK against the root, FAIL against another CA."""
    chain = session.getPeerCertChain()
    expected = [material.leaf_pem, material.intermediate_pem]
    try:
        got = [pem_to_der(pem) for pem in chain]
    except ValueError as exc:
        raise CellFailed(f"peer chain: a certificate does not parse: {one_line(exc)}") from None
    if got != [pem_to_der(pem) for pem in expected]:
        subjects = "; ".join(escape_control(describe_certificate(pem).subject) for pem in chain) or "none"
        raise CellFailed(f"peer chain: expected the leaf and the intermediate, got {len(chain)} ({subjects})")
    leaf = session.getPeerCertificate()
    if leaf is None or pem_to_der(leaf) != got[0]:
        raise CellFailed("peer chain: getPeerCertificate() is not getPeerCertChain()[0]")
    trusted = tls_c.TLSCertStore()
    trusted.addCertificate(material.root_pem)
    status = session.verifyCertificate(trusted, chain[0], chain[1:])
    if status.status != status.OK:
        cell.verify = "FAIL"
        raise CellFailed(f"verifyCertificate against the CA: {one_line(status.failedReason)}")
    other = tls_c.TLSCertStore()
    other.addCertificate(material.untrusted_root_pem)
    status = session.verifyCertificate(other, chain[0], chain[1:])
    if status.status == status.OK:
        cell.verify = "WRONG"
        raise CellFailed("verifyCertificate said OK against an unrelated CA")
    cell.verify = "OK"


def _check_echo(cell: Cell, echoed: bytes | bytearray, payload: bytes, session: Any) -> None:
    if len(echoed) < len(payload):
        reason = failure_reason(session, "no reason given")
        raise CellFailed(f"echo: the stream ended after {len(echoed)} of {len(payload)} bytes ({reason})")
    if bytes(echoed[: len(payload)]) != payload:
        raise CellFailed("echo: the bytes that came back differ from those sent")
    cell.echoed = len(payload)


class _Blocking:
    """The steps of a blocking client: each call blocks (bounded by ``ITimeout``)
    and returns what the component returned, for the caller to check."""

    def __init__(self, session: Any, sock: Any) -> None:
        self.session = session
        self.sock = sock

    def handshake(self) -> Any:
        return self.session.connect(self.sock)

    def receive(self, size: int) -> Any:
        return self.session.recv(size)

    def close(self) -> Any:
        return self.session.close()


class _NonBlocking(_Blocking):
    """The steps of a non-blocking client, waiting on a ``SessionWaiter`` until
    the cell's deadline (TimeoutError past it)."""

    def __init__(self, session: Any, sock: Any, waiter: SessionWaiter, deadline: float, timeout: float) -> None:
        super().__init__(session, sock)
        self.waiter = waiter
        self.deadline = deadline
        self.late = f"timed out after {timeout:g} s"

    def handshake(self) -> int:
        session = self.session
        status = self.waiter.complete(lambda: session.connect(self.sock), self.deadline)
        if status in (session.WAIT_READ, session.WAIT_WRITE):
            raise TimeoutError(self.late)
        return status

    def receive(self, size: int) -> bytes | bytearray:
        """What arrives until ``size`` bytes did and all that was sent is
        written, or until the stream ended."""
        session = self.session
        got = bytearray()
        while True:
            for chunk in available(session):
                got += chunk
            if len(got) >= size and not session.getBufferUnsent():
                return got
            status = session.getStatus()
            if status == session.FAIL:
                return got
            if not self.waiter.wait(self.deadline, write=status == session.WAIT_WRITE, flush=True):
                raise TimeoutError(self.late)

    def close(self) -> int:
        status = self.waiter.complete(self.session.close, self.deadline, read=False)
        if status == self.session.WAIT_WRITE:
            raise TimeoutError(self.late)
        return status


def run_client(cell: Cell, tls_c: TLSClasses, tcp_c: TCPClasses, port: int, material: Material, payload: bytes, timeout: float) -> None:
    """The cell's client, in the cell's mode (non-blocking: on a
    ``SessionWaiter``); CellFailed names the step that failed."""
    from nettls.interfaces import ITimeout

    sock = tcp_c.TCPSocket()
    step = "connect"
    deadline = time.monotonic() + timeout
    try:
        if ITimeout.providedBy(sock):
            sock.setTimeout(timeout)
        sock.connect("127.0.0.1", port)
        cell.reached = True
        step = "handshake"
        session = tls_c.TLS(_client_context(tls_c, material))
        with contextlib.ExitStack() as stack:
            steps = _Blocking(session, sock)
            if cell.mode == NON_BLOCKING:
                sock.setNonBlocking()
                waiter = stack.enter_context(SessionWaiter(tcp_c, sock, session))
                steps = _NonBlocking(session, sock, waiter, deadline, timeout)
            started = time.perf_counter()
            status = steps.handshake()
            if status != session.OK:
                raise CellFailed(f"handshake: {failure_reason(session, f'connect() returned {status}')}")
            cell.handshake_ms = (time.perf_counter() - started) * 1000
            cell.protocol, cell.cipher = session_info(session)
            step = "peer chain"
            _check_peer(cell, session, tls_c, material)
            step = "echo"
            session.send(_frame(payload))
            _check_echo(cell, steps.receive(len(payload)), payload, session)
            step = "close"
            status = steps.close()
            if status != session.OK:
                raise CellFailed(f"close() returned {status}")
    except CellFailed:
        raise
    except Exception as exc:
        raise CellFailed(f"{step}: {error_text(exc)}") from None
    finally:
        sock.disconnect()
