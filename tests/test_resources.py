"""Resources: a long-running server and careless callers leak nothing.

- 10,000 sequential connections through one ``nettls serve`` server (the
  ``Server`` engine, in a thread of this process) leave the process's open
  file descriptors, its sockets, the live nettls objects and its memory
  flat. To keep this fast, most connections are plain TCP connections that
  the server accepts (making a TLS session for each, whose handshake then
  fails on the client's reset or FIN: the server's whole per-connection
  life); every 50th is a full TLS handshake with an echo and close_notify.
  Connections are opened one after another in batches of 25 (the batch is
  accepted, then closed, before the next begins), so at most 25 are alive.
  Memory is the resident set size from /proc/self/statm, measured after a
  warm-up, against a generous bound: it catches a session or buffer kept
  per connection (tens of kilobytes), not allocator noise. Leaks smaller
  than that are caught exactly instead, by counting the live session and
  socket objects (``gc.get_objects()``), which must return to zero.
- Sessions and sockets dropped without ``close()``/``disconnect()`` are
  freed by reference counting alone (no reference cycle keeps a socket
  open until the garbage collector happens to run), with their descriptors.

Every component is covered: the 10,000-connection run on the linked one, a
shorter churn on each of the others (same code path in the server, the
component's own session and engine).
"""

from __future__ import annotations

import gc
import socket
import threading
import weakref
from typing import Any

import pytest

import nettls
from nettls.conformance import BLOCKING, MODES, TCPKit, TLSKit, bind_server, make_pki

from _edge import (
    COMPONENTS,
    LINGER_RESET,
    WAIT,
    echo_once,
    open_fds,
    open_sockets,
    port_of,
    rss_bytes,
    serve_thread,
    wait_until,
)

pytestmark = [pytest.mark.timeout(180), pytest.mark.filterwarnings("ignore::ResourceWarning")]

#: Connections per batch: opened one after another, then closed.
BATCH = 25
#: One connection in this many is a full TLS exchange.
TLS_EVERY = 50
#: RSS may grow this much between the warm-up and the end: a session kept
#: per connection would cost hundreds of megabytes, while allocator
#: fragmentation (seen with python-mbedtls: its in-use heap stays flat) costs
#: ten or so.
RSS_BOUND = 32 * 1024 * 1024


def _live(kind: type) -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, kind))


def _churn(server: Any, component: str, connections: int, start: int) -> int:
    """Push ``connections`` connections through ``server`` in batches;
    returns the running count. Plain ones end in a reset (three in four) or
    a FIN; every ``TLS_EVERY``-th is a full echo exchange."""
    port = port_of(server)
    done = start
    while done < start + connections:
        batch = min(BATCH, start + connections - done)
        accepted_before = server.accepted
        raws = []
        tls_count = 0
        for i in range(done, done + batch):
            if i % TLS_EVERY == TLS_EVERY - 1:
                echo_once(port, component, b"ping %d" % i)
                tls_count += 1
            else:
                raws.append(socket.create_connection(("127.0.0.1", port), timeout=WAIT))
        wait_until(lambda: server.accepted >= accepted_before + batch, "the server to accept the batch", interval=0.0005)
        for j, raw in enumerate(raws):
            if j % 4:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            raw.close()
        wait_until(lambda: server.connections == 0, "the server to finish the batch", interval=0.0005)
        done += batch
    return done


def _measure() -> tuple[int, int, int]:
    gc.collect()
    return open_fds(), open_sockets(), rss_bytes()


def _run(component: str, total: int) -> None:
    TLS: Any = nettls.resolve("net.TLS", component=component)
    TCPSocket: Any = nettls.resolve("net.TCPSocket")
    gc.collect()
    # Other tests' objects may still be alive (or die meanwhile): compare with what was there.
    sessions_before, sockets_before = _live(TLS), _live(TCPSocket)
    with serve_thread(component) as server:
        warm_up = min(1000, total // 5)
        count = _churn(server, component, warm_up, 0)
        fds0, sockets0, rss0 = _measure()
        count = _churn(server, component, total - warm_up, count)
        fds1, sockets1, rss1 = _measure()
        assert server.accepted == total
        assert server.connections == 0
        # Server bookkeeping is the size of its live connections, not of its history.
        loop = server.loop
        assert loop is not None
        assert len(loop._timers) <= 1024 + 2 * server.connections + 1, len(loop._timers)
        assert not server._hub.polled and not loop._soon
    # No session or socket object outlives its connection (counted once the
    # server thread has stopped: a connection it is finishing is not a leak).
    gc.collect()
    sessions, sockets = _live(TLS) - sessions_before, _live(TCPSocket) - sockets_before
    assert sessions <= 0, f"{sessions} {component} sessions still alive after {total} connections"
    assert sockets <= 0, f"{sockets} TCP sockets still alive after {total} connections"
    # "At most": a leftover of an earlier test may close a descriptor meanwhile, never open one.
    assert sockets1 <= sockets0, f"open sockets went from {sockets0} to {sockets1} over {total - warm_up} connections"
    assert fds1 <= fds0, f"open file descriptors went from {fds0} to {fds1}"
    growth = rss1 - rss0
    assert growth < RSS_BOUND, f"RSS grew {growth / 2**20:.1f} MiB over {total - warm_up} connections"


def test_ten_thousand_sequential_connections_leave_the_process_flat() -> None:
    component = nettls.registry.linked("net.TLS") or COMPONENTS[0]
    _run(component, 10_000)


@pytest.mark.parametrize("component", [c for c in COMPONENTS if c != nettls.registry.linked("net.TLS")])
def test_connection_churn_leaves_the_process_flat_on_every_component(component: str) -> None:
    _run(component, 2_500)


# -- dropped without close() -----------------------------------------------------------------------------


def _pair(kit: TLSKit, mode: str, stage: str) -> list[weakref.ref[Any]]:
    """Two sessions over a loopback TCP pair, taken to ``stage`` ("made",
    "handshaking", "open" with data in flight), then let go of; returns weak
    references to all four objects."""
    tcp = TCPKit.of(None)
    listener, port = bind_server()
    client_sock, server_sock = tcp.TCPSocket(), tcp.TCPSocket()
    try:
        client_sock.setTimeout(WAIT)
        client_sock.connect("127.0.0.1", port)
        assert server_sock.accept(listener) is True
        server_sock.setTimeout(WAIT)
    finally:
        listener.unbind()
    server = kit.TLS(kit.server_context(make_pki().ec))
    client = kit.TLS(kit.client_context())
    if stage != "made":
        if mode == BLOCKING and stage == "open":
            worker = threading.Thread(target=server.accept, args=(server_sock,))
            worker.start()
            assert client.connect(client_sock) == client.OK
            worker.join(WAIT)
            assert client.send(b"in flight" * 100) == 900
        else:
            server.setNonBlocking("server")
            client.setNonBlocking("client")
            server.sendWait.subscribe(_ignore)
            client.sendWait.subscribe(_ignore)
            results = {"client": client.connect(client_sock), "server": server.accept(server_sock)}
            if stage == "open":
                _finish_handshake(server, client, server_sock, client_sock, results)
                client.send(b"in flight" * 100)
            else:
                assert results["server"] in (server.WAIT_READ, server.WAIT_WRITE)
    return [weakref.ref(obj) for obj in (client_sock, server_sock, client, server)]


def _ignore(event: Any) -> None:
    pass


def _finish_handshake(server: Any, client: Any, server_sock: Any, client_sock: Any, results: dict[str, int]) -> None:
    """Drive two non-blocking handshakes to OK with a monitor (no harness
    objects: they would hold references of their own)."""
    monitor: Any = nettls.resolve("net.TCPMonitor")()
    monitor.addSocket(server_sock, "server")
    monitor.addSocket(client_sock, "client")
    try:
        for _ in range(1000):
            if results == {"client": client.OK, "server": server.OK}:
                return
            for side in ("server", "client"):
                if results[side] == client.WAIT_WRITE:
                    monitor.armSendNotify(server_sock if side == "server" else client_sock)
            monitor.wait(50)
            if results["server"] != server.OK:
                results["server"] = server.accept(server_sock)
            if results["client"] != client.OK:
                results["client"] = client.connect(client_sock)
            assert server.FAIL not in results.values(), results
        raise AssertionError(f"no handshake: {results}")
    finally:
        monitor.remSocket(server_sock)
        monitor.remSocket(client_sock)
        close = getattr(monitor, "close", None)
        if callable(close):
            close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("component", COMPONENTS)
def test_sessions_and_sockets_dropped_without_close_are_freed(component: str, mode: str) -> None:
    """Drop connected, half-handshaken and fresh sessions and their sockets
    without ``close()`` or ``disconnect()``: reference counting alone frees
    every object and closes every descriptor."""
    kit = TLSKit.of(component)
    gc.collect()
    fds_before, sockets_before = open_fds(), open_sockets()
    gc.disable()  # prove that no reference cycle holds them: only reference counting may free them
    try:
        refs: list[weakref.ref[Any]] = []
        for stage in ("made", "handshaking", "open"):
            for _ in range(3):
                refs += _pair(kit, mode, stage)
        alive = [type(r()).__name__ for r in refs if r() is not None]
        assert not alive, f"still alive without the garbage collector: {alive}"
        assert open_sockets() <= sockets_before, "a dropped socket kept its descriptor"
        assert open_fds() <= fds_before
    finally:
        gc.enable()


@pytest.mark.parametrize("component", ["stdlib", "pyopenssl"])
def test_a_large_blocking_send_holds_no_copy_of_it(component: str) -> None:
    """send() of 16 MiB on a blocking session encrypts and sends it a piece
    at a time: the Python heap never holds the ciphertext of the whole
    (tracemalloc's peak; the payload itself is allocated before the start)."""
    import tracemalloc

    from nettls.conformance import Harness

    size = 16 << 20
    payload = bytes(size)
    with Harness(component) as h:
        pair = h.tls_pair()
        received: list[int] = []

        def read_all() -> None:
            got = 0
            while got < size:
                got += len(pair.server.recv(min(65536, size - got)))
            received.append(got)

        reader = threading.Thread(target=read_all, daemon=True)
        tracemalloc.start()
        try:
            reader.start()
            tracemalloc.reset_peak()
            assert pair.client.send(payload) == size
            reader.join(WAIT)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert received == [size]
    assert peak < 2 << 20, f"peak {peak / 2**20:.1f} MiB of Python memory during a 16 MiB send"
