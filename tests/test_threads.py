"""Threads: many client threads against one server, and the full-duplex
pattern (SPEC 4: one thread in ``recv()`` while another is in ``send()`` or
``sendBuffer()`` on the same session), on every TLS component.

Every byte is checked (SHA-256 of all that was sent against all that came
back, per connection), every thread is joined with a bound, and every
socket has a timeout: a deadlock fails the test as a timeout in the
stalled thread instead of hanging the suite.
"""

from __future__ import annotations

import hashlib
import os
import random
import select
import socket
import threading
from typing import Any, Callable

import pytest
from zope.interface import implementer

import nettls
from nettls.conformance import TCPKit, TLSKit, bind_server, make_pki
from nettls.interfaces import ISelectable, TLSError, VerifyStatus

from _edge import COMPONENTS, LOOPBACK, WAIT, InterfaceOnlySocket, client_context, port_of, serve_thread

pytestmark = pytest.mark.timeout(120)

#: Kernel send and receive buffer of the full-duplex tests' sockets.
SMALL_BUFFER = 16 * 1024


class Workers:
    """Threads that must all finish: ``join()`` re-raises the first error and
    fails naming any thread still running after the bound."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[tuple[str, BaseException]] = []

    def start(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # handed to join()
                self.errors.append((name, exc))

        thread = threading.Thread(target=run, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def join(self, timeout: float = 60.0) -> None:
        for thread in self.threads:
            thread.join(timeout)
        stuck = [t.name for t in self.threads if t.is_alive()]
        assert not stuck, f"deadlock? still running after {timeout} s: {stuck}"
        if self.errors:
            failures = "; ".join(f"{name}: {exc!r}" for name, exc in self.errors)
            raise AssertionError(f"{len(self.errors)} thread(s) failed: {failures}") from self.errors[0][1]


def _small_buffers(sock: Any) -> None:
    """Shrink the kernel's buffers of a connected nettls socket (through a
    duplicate of its descriptor), so that a writer blocks after a few
    kilobytes unless the other end reads: full duplex is then really tested,
    not absorbed by loopback's megabytes of buffer."""
    with socket.socket(fileno=os.dup(sock.fileno())) as dup:
        dup.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
        dup.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)


def _client(port: int, ctx: Any, TLS: Any, *, small: bool = False) -> Any:
    sock = nettls.resolve("net.TCPSocket")()
    sock.setTimeout(WAIT)
    sock.connect(LOOPBACK, port)
    if small:
        _small_buffers(sock)
    session = TLS(ctx)
    assert session.connect(sock) == session.OK
    return session


def _recv_exactly(session: Any, n: int, chunk: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        data = session.recv(min(chunk, n - len(out)))
        if not data:
            raise AssertionError(f"the stream ended after {len(out)} of {n} bytes")
        out += data
    return bytes(out)


# -- many client threads, one server ---------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_many_client_threads_against_one_server(component: str) -> None:
    """Twelve threads, each three connections in turn, clients of every
    component (each thread's context shared by its connections, one
    context per component shared by the threads): each connection sends
    messages of 1 byte to 48 KiB and reads every one back intact."""
    threads, connections = 12, 3
    kits = [TLSKit.of(c) for c in COMPONENTS]
    start = threading.Barrier(threads)
    with serve_thread(component) as server:
        port = port_of(server)
        contexts = [client_context(port, kit.name) for kit in kits]

        def work(index: int) -> None:
            kit, ctx = kits[index % len(kits)], contexts[index % len(kits)]
            rng = random.Random(index)
            start.wait(WAIT)
            for n in range(connections):
                session = _client(port, ctx, kit.TLS)
                try:
                    for size in (1, rng.randrange(2, 2000), rng.randrange(2000, 48 * 1024)):
                        message = rng.randbytes(size)
                        assert session.send(message) == size
                        got = _recv_exactly(session, size, rng.choice((1 << 10, 1 << 14, 1 << 16)))
                        assert got == message, f"thread {index} connection {n}: {size} bytes came back changed"
                    assert session.close() == session.OK
                finally:
                    session.getSocket().disconnect()

        workers = Workers()
        for i in range(threads):
            workers.start(f"client-{i}", work, i)
        workers.join()
        assert server.accepted == threads * connections


# -- full duplex ------------------------------------------------------------------------------------------


def _pump(session: Any, total: int, seed: int, digest: Any) -> None:
    """Send ``total`` pseudo-random bytes in chunks of random size."""
    rng = random.Random(seed)
    sent = 0
    while sent < total:
        chunk = rng.randbytes(min(rng.randrange(1, 96 * 1024), total - sent))
        assert session.send(chunk) == len(chunk)
        digest.update(chunk)
        sent += len(chunk)


def _drain(session: Any, total: int, seed: int, digest: Any) -> None:
    """Receive exactly ``total`` bytes in reads of random size."""
    rng = random.Random(seed)
    got = 0
    while got < total:
        data = session.recv(min(rng.choice((100, 4096, 16384, 65536)), total - got))
        if not data:
            raise AssertionError(f"the stream ended after {got} of {total} bytes")
        digest.update(data)
        got += len(data)


@pytest.mark.parametrize("component", COMPONENTS)
def test_full_duplex_clients_against_the_echo_server(component: str) -> None:
    """Three connections, each with one thread sending 1 MiB while another
    reads the echo on the same session; every byte comes back in order.
    (Small socket buffers, where a writer really waits for the reader, are
    ``test_full_duplex_both_ends_at_once``'s case.)"""
    kit = TLSKit.of(component)
    total, connections = 1 << 20, 3
    with serve_thread(component) as server:
        port = port_of(server)
        sessions = [_client(port, client_context(port, component), kit.TLS) for _ in range(connections)]
        sent = [hashlib.sha256() for _ in sessions]
        echoed = [hashlib.sha256() for _ in sessions]
        try:
            workers = Workers()
            for i, session in enumerate(sessions):
                workers.start(f"reader-{i}", _drain, session, total, 100 + i, echoed[i])
                workers.start(f"writer-{i}", _pump, session, total, 200 + i, sent[i])
            workers.join()
            for i in range(connections):
                assert echoed[i].digest() == sent[i].digest(), f"connection {i}: the echo differs"
        finally:
            for session in sessions:
                session.getSocket().disconnect()


def _blocking_pair(server_kit: TLSKit, client_kit: TLSKit, timeout: float = WAIT) -> tuple[Any, Any, list[Any]]:
    tcp = TCPKit.of(None)
    listener, port = bind_server()
    client_sock, server_sock = tcp.TCPSocket(), tcp.TCPSocket()
    try:
        client_sock.setTimeout(WAIT)
        client_sock.connect(LOOPBACK, port)
        assert server_sock.accept(listener) is True
        server_sock.setTimeout(WAIT)
        for sock in (client_sock, server_sock):
            _small_buffers(sock)
    finally:
        listener.unbind()
    server = server_kit.TLS(server_kit.server_context(make_pki().ec))
    client = client_kit.TLS(client_kit.client_context())
    workers = Workers()
    workers.start("accept", lambda: server.accept(server_sock))
    assert client.connect(client_sock) == client.OK
    workers.join(WAIT)
    for sock in (client_sock, server_sock):
        sock.setTimeout(timeout)
    return server, client, [client_sock, server_sock]


@pytest.mark.parametrize("component", COMPONENTS)
def test_full_duplex_both_ends_at_once(component: str) -> None:
    """A session pair where both ends send 2 MiB and receive 2 MiB at the
    same time, four threads, small socket buffers: with both directions
    full, each end's reader is what lets the other end's writer go on (a
    reader that waits for the writer's lock, as the session once did, stalls
    both ends). A deadlock shows as a 5-second timeout in a stalled call."""
    kit = TLSKit.of(component)
    total = 2 << 20
    server, client, sockets = _blocking_pair(kit, kit, timeout=5.0)
    digests = {name: hashlib.sha256() for name in ("c>s sent", "c>s got", "s>c sent", "s>c got")}
    try:
        workers = Workers()
        workers.start("client writer", _pump, client, total, 1, digests["c>s sent"])
        workers.start("server writer", _pump, server, total, 2, digests["s>c sent"])
        workers.start("client reader", _drain, client, total, 3, digests["s>c got"])
        workers.start("server reader", _drain, server, total, 4, digests["c>s got"])
        workers.join()
        assert digests["c>s sent"].digest() == digests["c>s got"].digest()
        assert digests["s>c sent"].digest() == digests["s>c got"].digest()
    finally:
        for sock in sockets:
            sock.disconnect()


def _nonblocking_pump(session: Any, sock: Any, total: int, seed: int, digest: Any) -> None:
    """Non-blocking sender: ``send()``, then ``sendBuffer()`` whenever the
    socket is writable, until nothing is queued (SPEC 7)."""
    rng = random.Random(seed)
    sent = reported = 0
    fd = sock.fileno()
    while sent < total:
        chunk = rng.randbytes(min(rng.randrange(1, 96 * 1024), total - sent))
        reported += session.send(chunk)
        digest.update(chunk)
        sent += len(chunk)
        for _ in range(100_000):
            if not session.getBufferUnsent():
                break
            if not select.select([], [fd], [], WAIT)[1]:
                raise AssertionError("the socket never became writable")
            reported += session.sendBuffer()
        else:
            raise AssertionError("sendBuffer() never emptied the queue")
    assert reported == total, f"send() and sendBuffer() reported {reported} of {total} bytes (SPEC 7)"


def _nonblocking_drain(session: Any, sock: Any, total: int, digest: Any) -> None:
    """Non-blocking reader: wait until readable, ``recv()`` until ``b""``."""
    got = 0
    fd = sock.fileno()
    while got < total:
        data = session.recv(65536)
        if data:
            digest.update(data)
            got += len(data)
            continue
        if session.getStatus() == session.FAIL:
            raise AssertionError(f"the stream ended after {got} of {total} bytes: {session.getFailureReason()}")
        select.select([fd], [], [], 0.05)


@pytest.mark.parametrize("component", COMPONENTS)
def test_full_duplex_in_non_blocking_mode(component: str) -> None:
    """A non-blocking client against the echo server: one thread loops on
    ``recv()`` while another calls ``send()`` and ``sendBuffer()`` on the
    same session, over small socket buffers; every byte comes back."""
    kit = TLSKit.of(component)
    total = 256 << 10
    with serve_thread(component) as server:
        client = _client(port_of(server), client_context(port_of(server), component), kit.TLS, small=True)
        sock = client.getSocket()
        try:
            assert client.setNonBlocking("client") is True
            sent, echoed = hashlib.sha256(), hashlib.sha256()
            workers = Workers()
            workers.start("reader", _nonblocking_drain, client, sock, total, echoed)
            workers.start("writer", _nonblocking_pump, client, sock, total, 5, sent)
            workers.join()
            assert echoed.digest() == sent.digest()
        finally:
            sock.disconnect()


# -- shared configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_one_store_verifies_from_many_threads(component: str) -> None:
    """Contexts and stores are configuration, shared by the sessions made
    from them: eight threads verifying good and bad chains against one
    store (each with its own session) always get the same answers."""
    kit = TLSKit.of(component)
    pki = make_pki()
    store = kit.store(pki.ec.root.cert_pem, pki.rsa.root.cert_pem)
    cases = [(pki.ec, VerifyStatus.OK), (pki.rsa, VerifyStatus.OK), (pki.expired, VerifyStatus.FAIL), (pki.untrusted, VerifyStatus.FAIL)]
    start = threading.Barrier(8)

    def work(index: int) -> None:
        session = kit.TLS(kit.client_context())
        rng = random.Random(index)
        start.wait(WAIT)
        for _ in range(40):
            identity, expected = rng.choice(cases)
            result = session.verifyCertificate(store, identity.cert_pem, identity.chain_pems)
            assert result.status == expected, f"{identity.cert.subject.rfc4514_string()}: {result}"

    workers = Workers()
    for i in range(8):
        workers.start(f"verifier-{i}", work, i)
    workers.join()



# -- a socket disconnected under a blocked call ---------------------------------------------------------------


@pytest.mark.parametrize("call", ["connect", "recv"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_disconnect_from_another_thread_ends_a_blocked_call_cleanly(component: str, call: str) -> None:
    """A thread blocked in a session's ``connect()`` (the peer says nothing)
    or ``recv()`` (nothing arrives) while another thread disconnects the
    socket, the way a watchdog aborts a connection: the blocked call ends
    at once, ``connect()`` with a ``TLSError``, ``recv()`` with ``b""``
    (SPEC 4), never with another exception."""
    kit = TLSKit.of(component)
    tcp = TCPKit.of(None)
    listener, port = bind_server()
    sock, peer_sock = tcp.TCPSocket(), tcp.TCPSocket()
    try:
        sock.setTimeout(WAIT)
        sock.connect(LOOPBACK, port)
        assert peer_sock.accept(listener) is True
        peer_sock.setTimeout(WAIT)
    finally:
        listener.unbind()
    session = kit.TLS(kit.client_context())
    outcome: list[Any] = []
    try:
        if call == "recv":
            peer = kit.TLS(kit.server_context(make_pki().ec))
            acceptor = Workers()
            acceptor.start("accept", lambda: outcome.append(peer.accept(peer_sock)))
            assert session.connect(sock) == session.OK
            acceptor.join(WAIT)
            outcome.clear()
        started = threading.Event()

        def blocked() -> None:
            started.set()
            try:
                outcome.append(session.connect(sock) if call == "connect" else session.recv(10))
            except Exception as exc:
                outcome.append(exc)

        worker = threading.Thread(target=blocked, daemon=True)
        worker.start()
        started.wait(WAIT)
        threading.Event().wait(0.1)  # let it block (if it has not yet, the call meets a closed socket: same answer)
        sock.disconnect()
        worker.join(WAIT)
        assert not worker.is_alive(), f"{call}() still blocked after disconnect()"
        (result,) = outcome
        if call == "connect":
            assert isinstance(result, TLSError), f"connect() ended with {result!r}"
        else:
            assert result == b"", f"recv() ended with {result!r}"
    finally:
        sock.disconnect()
        peer_sock.disconnect()


@implementer(ISelectable)
class _ClosesAfterFirstSend(InterfaceOnlySocket):
    """A selectable socket that is disconnected (as by another thread) right
    after the session's first write: the handshake's first read then meets
    a closed descriptor."""

    def send(self, data: Any) -> int:
        sent = int(self.inner.send(data))
        self.inner.disconnect()
        return sent

    def fileno(self) -> int:
        return int(self.inner.fileno())

    def isNonBlocking(self) -> bool:
        return bool(self.inner.isNonBlocking())


@pytest.mark.parametrize("component", COMPONENTS)
def test_socket_closed_before_the_first_read_fails_the_handshake_cleanly(component: str) -> None:
    """The deterministic form of the race above: the socket is closed between
    the ClientHello and the first read. ``connect()`` fails as a ``TLSError``."""
    kit = TLSKit.of(component)
    tcp = TCPKit.of(None)
    listener, port = bind_server()
    sock, peer_sock = tcp.TCPSocket(), tcp.TCPSocket()
    try:
        sock.setTimeout(WAIT)
        sock.connect(LOOPBACK, port)
        assert peer_sock.accept(listener) is True
    finally:
        listener.unbind()
    try:
        with pytest.raises(TLSError):
            kit.TLS(kit.client_context()).connect(_ClosesAfterFirstSend(sock))
    finally:
        sock.disconnect()
        peer_sock.disconnect()
