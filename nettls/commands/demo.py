"""``nettls demo``: every TLS component against every other, on loopback.

Theory of operation
-------------------
With no files and no setup, the demo makes a throwaway PKI in memory (root
CA, intermediate CA, server certificate; ``nettls.pki``) and, for every
available TLS component, starts two servers on 127.0.0.1 over the TCP
component: a blocking one (a thread that accepts and serves one connection
at a time) and a non-blocking one (a thread driving a ``TCPMonitor``: it
accepts on ``recvReady`` of the non-blocking server socket, arms send
notification on ``sendWait``, and reads until ``recv`` returns ``b""``, as
the Dana example server does).

Then, one cell at a time, a client of every component connects to the
server of every component in each mode (blocking, or non-blocking with its
own monitor) and checks, in order: the handshake; the peer chain (leaf and
intermediate, exactly as sent); ``verifyCertificate`` against the root CA
(OK) and against an unrelated CA (FAIL, so a verifier that accepts
anything is caught); and the echo of a message, framed as a 4-byte
big-endian length and that many random bytes. Each server reports its side
of every connection to the cell, so a failure names the side it happened
on. Socket timeouts (``ITimeout``) and deadlines bound every cell: a broken
cell fails, it never hangs.

The table has one row per cell; the exit status is 1 if any cell failed.
"""

from __future__ import annotations

import argparse
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from nettls.escape import escape_control

from . import _util

HELP = "try every TLS component against every other on loopback with a throwaway PKI (no setup, a few seconds)"

BLOCKING = "blocking"
NON_BLOCKING = "non-blocking"
_MODES = {"blocking": (BLOCKING,), "non-blocking": (NON_BLOCKING,), "both": (BLOCKING, NON_BLOCKING)}
#: Plaintext read at a time from a non-blocking session.
_READ_SIZE = 65536
#: Longest a monitor thread waits before it looks at its stop flag (ms).
_POLL_MS = 50


class _CellFailed(Exception):
    """One step of a cell failed; the message says which and why."""


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes") from None
    if not 1 <= value <= 64 * 1024 * 1024:
        raise argparse.ArgumentTypeError(f"{text!r}: give from 1 byte to 64 MiB")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _util.add_component_option(
        parser,
        multiple=True,
        help="run only this TLS component, as server and client (repeat for several; default: every available one)",
    )
    _util.add_tcp_component_option(parser)
    parser.add_argument("--mode", choices=tuple(_MODES), default="both", help="which modes to run (default: both)")
    parser.add_argument(
        "--size", metavar="BYTES", type=_size, default=65536, help="bytes each client sends and expects back (default: 65536)"
    )
    parser.add_argument(
        "--timeout", metavar="SECONDS", type=_util.seconds, default=3.0, help="bound on each cell (default: 3)"
    )
    parser.add_argument("--key", choices=("ec", "rsa"), default="ec", help="key type of the throwaway PKI (default: ec)")


# --- what a cell found --------------------------------------------------------------------


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
class _Material:
    """The throwaway PKI, as the servers and clients need it."""

    leaf_pem: str
    key_pem: str
    intermediate_pem: str
    root_pem: str
    untrusted_root_pem: str
    names: tuple[str, ...]


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def _der(pem: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return bytes(_util.parse_certificate(pem).public_bytes(Encoding.DER))


def _server_context(tls_c: _util.TLSClasses, material: _Material) -> Any:
    ctx = tls_c.TLSContext(tls_c.TLSContext.SERVER)
    ctx.setCertificate(material.leaf_pem, material.key_pem)
    ctx.setCertificateChain([material.intermediate_pem])
    return ctx


def _client_context(tls_c: _util.TLSClasses, material: _Material) -> Any:
    """A CLIENT context as Dana makes it; for a component whose client
    verifies the chain in the handshake (rustls: SPEC 6), one that trusts
    the demo's root, host name unchecked, so it can reach the demo server."""
    from nettls.interfaces import IVerifyOnConnect

    ctx = tls_c.TLSContext(tls_c.TLSContext.CLIENT)
    if _util.client_verifies_chain(tls_c) and IVerifyOnConnect.providedBy(ctx):
        store = tls_c.TLSCertStore()
        store.addCertificate(material.root_pem)
        ctx.setVerifyOnConnect(store, checkHostName=False)
    return ctx


def _local_port(listener: Any) -> int:
    from nettls.interfaces import IServerSocketOptions

    if not IServerSocketOptions.providedBy(listener):
        raise _CellFailed("the TCP component's server socket cannot tell its port (no IServerSocketOptions)")
    return int(listener.getLocalEndpoint().port)


def _close_monitor(monitor: Any) -> None:
    close = getattr(monitor, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            pass


# --- servers ----------------------------------------------------------------------------------


class _Server:
    """A server thread; ``outcomes`` gets one entry per connection: None or its error."""

    def __init__(self, tls_c: _util.TLSClasses, tcp_c: _util.TCPClasses, ctx: Any, timeout: float) -> None:
        self.tls_c = tls_c
        self.tcp_c = tcp_c
        self.ctx = ctx
        self.timeout = timeout
        self.outcomes: queue.Queue[str | None] = queue.Queue()
        self.stopping = threading.Event()
        self.listener = tcp_c.TCPServerSocket()
        self.port = 0
        self.thread = threading.Thread(target=self._run, name=f"nettls-demo-{type(self).__name__}-{tls_c.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def drain(self) -> None:
        while True:
            try:
                self.outcomes.get_nowait()
            except queue.Empty:
                return

    def outcome(self, wait: float) -> str | None:
        try:
            return self.outcomes.get(timeout=wait)
        except queue.Empty:
            return f"the {self.tls_c.name} server reported nothing within {wait:g} s"

    def _run(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()
        try:
            self.listener.unbind()  # wakes a thread blocked in accept()
        except Exception:
            pass
        self.thread.join(0.5)  # a thread stuck in a component is a daemon: it is left behind


class _BlockingServer(_Server):
    """Accepts and serves one connection at a time, in blocking mode."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.listener.bind("127.0.0.1", 0)
        self.port = _local_port(self.listener)

    def _run(self) -> None:
        while not self.stopping.is_set():
            sock = self.tcp_c.TCPSocket()
            try:
                if not sock.accept(self.listener):
                    return  # unbound: stopping
            except Exception:
                return
            if self.stopping.is_set():
                sock.disconnect()
                return
            self.outcomes.put(self._serve(sock))

    def _serve(self, sock: Any) -> str | None:
        from nettls.interfaces import ITimeout

        step = "handshake"
        try:
            if ITimeout.providedBy(sock):
                sock.setTimeout(self.timeout)
            session = self.tls_c.TLS(self.ctx)
            status = session.accept(sock)
            if status != session.OK:
                return f"server handshake: {_util.failure_reason(session, f'accept() returned {status}')}"
            step = "receive"
            header = session.recv(4)
            size = int.from_bytes(header, "big") if len(header) == 4 else -1
            payload = session.recv(size) if size > 0 else b""
            if size < 0 or len(payload) < size:
                got = len(header) + len(payload)
                return f"server receive: the stream ended after {got} bytes ({_util.failure_reason(session, 'no reason given')})"
            step = "echo"
            session.send(payload)
            step = "close"
            extra = session.recv(1)  # until the client's close_notify
            session.close()
            if extra:
                return "server: unexpected data after the message"
            return None
        except Exception as exc:
            return f"server {step}: {_util.error_text(exc)}"
        finally:
            sock.disconnect()


@dataclass
class _Conn:
    sock: Any
    session: Any
    open: bool = False
    replied: bool = False
    finished: bool = False
    data: bytearray = field(default_factory=bytearray)


class _MonitorServer(_Server):
    """One thread, one ``TCPMonitor``, non-blocking everything (the Dana example's shape)."""

    def __init__(self, *args: Any) -> None:
        from nettls.interfaces import IServerSocketOptions

        super().__init__(*args)
        if not IServerSocketOptions.providedBy(self.listener):
            raise _CellFailed("the TCP component's server socket cannot be non-blocking (no IServerSocketOptions)")
        self.listener.setNonBlocking()
        self.listener.bind("127.0.0.1", 0)
        self.port = _local_port(self.listener)
        self.monitor = self.tcp_c.TCPMonitor()
        self.monitor.addSocket(self.listener)
        self.conns: list[_Conn] = []

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                for event in self.monitor.wait(_POLL_MS):
                    if event.socket is self.listener:
                        if event.recvReady:
                            self._accept()
                        continue
                    conn = event.userData
                    if isinstance(conn, _Conn) and not conn.finished:
                        self._step(conn, send_ready=event.sendReady, closed=event.close)
        except Exception as exc:  # the monitor itself broke: every later cell reports it
            self.outcomes.put(f"server monitor loop: {_util.error_text(exc)}")
        finally:
            for conn in self.conns:
                if not conn.finished:
                    conn.sock.disconnect()
            _close_monitor(self.monitor)

    def _accept(self) -> None:
        while True:
            sock = self.tcp_c.TCPSocket()
            if not sock.accept(self.listener):
                return
            session = self.tls_c.TLS(self.ctx)
            conn = _Conn(sock, session)
            sock.setNonBlocking(conn)
            monitor = self.monitor
            session.sendWait.subscribe(lambda event, s=sock: monitor.armSendNotify(s))
            monitor.addSocket(sock, conn)
            self.conns.append(conn)
            self._step(conn)  # the ClientHello may be waiting already

    def _step(self, conn: Any, send_ready: bool = False, closed: bool = False) -> None:
        session, sock = conn.session, conn.sock
        try:
            if not conn.open:
                status = session.accept(sock)
                if status == session.WAIT_WRITE:
                    self.monitor.armSendNotify(sock)
                if status in (session.WAIT_READ, session.WAIT_WRITE):
                    if closed:
                        self._finish(conn, f"server handshake: {_util.failure_reason(session, 'the client closed')}")
                    return
                if status != session.OK:
                    self._finish(conn, f"server handshake: {_util.failure_reason(session, f'accept() returned {status}')}")
                    return
                conn.open = True
            if send_ready:
                session.sendBuffer()
            while True:  # decrypted data can wait inside the session: read until b""
                chunk = session.recv(_READ_SIZE)
                if not chunk:
                    break
                conn.data += chunk
                if not conn.replied and len(conn.data) >= 4:
                    size = int.from_bytes(conn.data[:4], "big")
                    if len(conn.data) >= 4 + size:
                        conn.replied = True
                        session.send(bytes(conn.data[4 : 4 + size]))
            status = session.getStatus()
            if status == session.FAIL or not sock.connected() or closed:
                if conn.replied:
                    self._finish(conn, None)
                else:
                    reason = _util.failure_reason(session, "the client closed")
                    self._finish(conn, f"server receive: the stream ended after {len(conn.data)} bytes ({reason})")
                return
            if status == session.WAIT_WRITE:
                self.monitor.armSendNotify(sock)
        except Exception as exc:
            self._finish(conn, f"server: {_util.error_text(exc)}")

    def _finish(self, conn: Any, error: str | None) -> None:
        conn.finished = True
        self.monitor.remSocket(conn.sock)
        try:
            conn.session.close()
        except Exception:
            pass
        conn.sock.disconnect()
        self.conns.remove(conn)
        self.outcomes.put(error)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(1.0)
        try:
            self.listener.unbind()
        except Exception:
            pass


# --- clients ------------------------------------------------------------------------------------


def _check_peer(cell: Cell, session: Any, tls_c: _util.TLSClasses, material: _Material) -> None:
    """The chain as sent, then verifyCertificate: OK against the root, FAIL against another CA."""
    chain = session.getPeerCertChain()
    expected = [material.leaf_pem, material.intermediate_pem]
    try:
        got = [_der(pem) for pem in chain]
    except ValueError as exc:
        raise _CellFailed(f"peer chain: a certificate does not parse: {_util.one_line(exc)}") from None
    if got != [_der(pem) for pem in expected]:
        subjects = "; ".join(escape_control(_util.describe_certificate(pem).subject) for pem in chain) or "none"
        raise _CellFailed(f"peer chain: expected the leaf and the intermediate, got {len(chain)} ({subjects})")
    leaf = session.getPeerCertificate()
    if leaf is None or _der(leaf) != got[0]:
        raise _CellFailed("peer chain: getPeerCertificate() is not getPeerCertChain()[0]")
    trusted = tls_c.TLSCertStore()
    trusted.addCertificate(material.root_pem)
    status = session.verifyCertificate(trusted, chain[0], chain[1:])
    if status.status != status.OK:
        cell.verify = "FAIL"
        raise _CellFailed(f"verifyCertificate against the CA: {_util.one_line(status.failedReason)}")
    other = tls_c.TLSCertStore()
    other.addCertificate(material.untrusted_root_pem)
    status = session.verifyCertificate(other, chain[0], chain[1:])
    if status.status == status.OK:
        cell.verify = "WRONG"
        raise _CellFailed("verifyCertificate said OK against an unrelated CA")
    cell.verify = "OK"


def _client_blocking(cell: Cell, tls_c: _util.TLSClasses, tcp_c: _util.TCPClasses, port: int, material: _Material, payload: bytes, timeout: float) -> None:
    from nettls.interfaces import ITimeout

    sock = tcp_c.TCPSocket()
    step = "connect"
    try:
        if ITimeout.providedBy(sock):
            sock.setTimeout(timeout)
        sock.connect("127.0.0.1", port)
        cell.reached = True
        step = "handshake"
        session = tls_c.TLS(_client_context(tls_c, material))
        started = time.perf_counter()
        status = session.connect(sock)
        if status != session.OK:
            raise _CellFailed(f"handshake: {_util.failure_reason(session, f'connect() returned {status}')}")
        cell.handshake_ms = (time.perf_counter() - started) * 1000
        cell.protocol, cell.cipher = _util.session_info(session)
        step = "peer chain"
        _check_peer(cell, session, tls_c, material)
        step = "echo"
        session.send(_frame(payload))
        echoed = session.recv(len(payload))
        _check_echo(cell, echoed, payload, session)
        step = "close"
        status = session.close()
        if status != session.OK:
            raise _CellFailed(f"close() returned {status}")
    except _CellFailed:
        raise
    except Exception as exc:
        raise _CellFailed(f"{step}: {_util.error_text(exc)}") from None
    finally:
        sock.disconnect()


def _check_echo(cell: Cell, echoed: bytes | bytearray, payload: bytes, session: Any) -> None:
    if len(echoed) < len(payload):
        reason = _util.failure_reason(session, "no reason given")
        raise _CellFailed(f"echo: the stream ended after {len(echoed)} of {len(payload)} bytes ({reason})")
    if bytes(echoed[: len(payload)]) != payload:
        raise _CellFailed("echo: the bytes that came back differ from those sent")
    cell.echoed = len(payload)


def _client_nonblocking(cell: Cell, tls_c: _util.TLSClasses, tcp_c: _util.TCPClasses, port: int, material: _Material, payload: bytes, timeout: float) -> None:
    from nettls.interfaces import ITimeout

    sock = tcp_c.TCPSocket()
    monitor = None
    step = "connect"
    deadline = time.monotonic() + timeout

    def wait() -> list[Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _CellFailed(f"{step}: timed out after {timeout:g} s")
        assert monitor is not None
        return list(monitor.wait(min(remaining, 0.5) * 1000.0))

    try:
        if ITimeout.providedBy(sock):
            sock.setTimeout(timeout)
        sock.connect("127.0.0.1", port)
        cell.reached = True
        sock.setNonBlocking()
        monitor = tcp_c.TCPMonitor()
        monitor.addSocket(sock)
        step = "handshake"
        session = tls_c.TLS(_client_context(tls_c, material))
        session.sendWait.subscribe(lambda event: monitor.armSendNotify(sock))
        started = time.perf_counter()
        status = session.connect(sock)
        while status in (session.WAIT_READ, session.WAIT_WRITE):
            if status == session.WAIT_WRITE:
                monitor.armSendNotify(sock)
            wait()
            status = session.connect(sock)
        if status != session.OK:
            raise _CellFailed(f"handshake: {_util.failure_reason(session, f'connect() returned {status}')}")
        cell.handshake_ms = (time.perf_counter() - started) * 1000
        cell.protocol, cell.cipher = _util.session_info(session)
        step = "peer chain"
        _check_peer(cell, session, tls_c, material)
        step = "echo"
        session.send(_frame(payload))
        echoed = bytearray()
        while True:
            while True:  # read until b""
                chunk = session.recv(_READ_SIZE)
                if not chunk:
                    break
                echoed += chunk
            if len(echoed) >= len(payload) and not session.getBufferUnsent():
                break
            status = session.getStatus()
            if status == session.FAIL:
                break
            if status == session.WAIT_WRITE:
                monitor.armSendNotify(sock)
            for event in wait():
                if event.sendReady:
                    session.sendBuffer()
        _check_echo(cell, echoed, payload, session)
        step = "close"
        status = session.close()
        while status == session.WAIT_WRITE:
            monitor.armSendNotify(sock)
            wait()
            status = session.close()
        if status != session.OK:
            raise _CellFailed(f"close() returned {status}")
    except _CellFailed:
        raise
    except Exception as exc:
        raise _CellFailed(f"{step}: {_util.error_text(exc)}") from None
    finally:
        sock.disconnect()
        if monitor is not None:
            _close_monitor(monitor)


# --- the command -----------------------------------------------------------------------------------


def _material(kind: str) -> _Material:
    from nettls.pki import issue, new_key, throwaway_pki

    pki = throwaway_pki(kind=kind)
    stranger = issue("nettls demo: an unrelated CA", ca=True, key=new_key(kind))
    return _Material(
        leaf_pem=pki.leaf.cert_pem,
        key_pem=pki.leaf.key_pem,
        intermediate_pem=pki.intermediate.cert_pem,
        root_pem=pki.root.cert_pem,
        untrusted_root_pem=stranger.cert_pem,
        names=pki.names,
    )


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    names = list(dict.fromkeys(args.component or _util.tls_component_names()))
    components = [_util.tls_classes(name) for name in names]  # UsageError for an unknown one
    unavailable = _util.unavailable_components()
    if not components:
        why = "; ".join(f"{n}: {r}" for n, r in unavailable) or "none is installed"
        raise _util.CheckFailed(f"no TLS component is available ({why})")
    tcp_c = _util.tcp_classes(args.tcp_component)
    modes = _MODES[args.mode]
    material = _material(args.key)
    payload = os.urandom(args.size)

    servers: dict[tuple[str, str], _Server | str] = {}
    try:
        for tls_c in components:
            try:
                ctx = _server_context(tls_c, material)
            except Exception as exc:
                for mode in modes:
                    servers[(tls_c.name, mode)] = f"server setup: {_util.error_text(exc)}"
                continue
            for mode in modes:
                kind = _BlockingServer if mode == BLOCKING else _MonitorServer
                try:
                    started_server = kind(tls_c, tcp_c, ctx, args.timeout)
                    started_server.start()
                    servers[(tls_c.name, mode)] = started_server
                except Exception as exc:
                    servers[(tls_c.name, mode)] = f"{mode} server setup: {_util.error_text(exc)}"

        cells = []
        for server_c in components:
            for client_c in components:
                for mode in modes:
                    cells.append(_run_cell(server_c, client_c, mode, servers[(server_c.name, mode)], tcp_c, material, payload, args.timeout))
    finally:
        for server in servers.values():
            if isinstance(server, _Server):
                server.stop()

    failed = [c for c in cells if not c.ok]
    elapsed = time.monotonic() - started
    out = [
        f"nettls demo: a throwaway PKI in memory (root CA > intermediate CA > server certificate for "
        f"{', '.join(material.names)}; {args.key.upper()} keys)",
        f"servers on 127.0.0.1 over TCP component {tcp_c.name}; each client checks the handshake, the peer chain, "
        f"verifyCertificate, and the echo of {args.size} random bytes",
        "",
    ]
    headers = ("server", "client", "mode", "protocol", "cipher", "handshake", "verify", "echoed", "result")
    out += _util.format_table(headers, [c.row() for c in cells])
    if failed:
        out.append("")
        out.append("Failures:")
        out += [f"  {c.server} server, {c.client} client, {c.mode}: {_util.one_line(c.error)}" for c in failed]
    for name, reason in unavailable:
        out.append(f"(component {name} is unavailable: {_util.one_line(reason)})")
    out.append("")
    verdict = "all passed" if not failed else f"{len(cells) - len(failed)} passed, {len(failed)} FAILED"
    out.append(
        f"{len(cells)} cells ({len(components)} server x {len(components)} client components x {len(modes)} "
        f"mode{'s' if len(modes) != 1 else ''}): {verdict} in {elapsed:.1f} s"
    )
    _util.write_lines(out)
    return _util.EXIT_FAILED if failed else _util.EXIT_OK


def _run_cell(
    server_c: _util.TLSClasses,
    client_c: _util.TLSClasses,
    mode: str,
    server: _Server | str,
    tcp_c: _util.TCPClasses,
    material: _Material,
    payload: bytes,
    timeout: float,
) -> Cell:
    cell = Cell(server_c.name, client_c.name, mode)
    if isinstance(server, str):
        cell.error = server
        return cell
    server.drain()
    client = _client_blocking if mode == BLOCKING else _client_nonblocking
    client_error = None
    try:
        client(cell, client_c, tcp_c, server.port, material, payload, timeout)
    except _CellFailed as exc:
        client_error = f"client {exc}"
    # The server's side of this connection; a client that never connected leaves none.
    # A server still busy when the client has given up has no longer than its
    # own socket timeout left; one that is merely slower than the client gets a second more.
    server_error = server.outcome(timeout + (0.0 if client_error else 1.0)) if cell.reached else None
    if client_error and server_error:
        cell.error = f"{client_error}; {server_error}"
    else:
        cell.error = client_error or server_error
    return cell
