"""The demo's servers: one blocking, one on an ``EventLoop``, per TLS component.

Each runs in a thread of its own on 127.0.0.1 and reports its side of
every connection to ``outcomes`` (None, or the error), so a cell can say
which side failed. A connection is one message, framed as a 4-byte
big-endian length and that many bytes, echoed back; then the client's
close_notify (blocking) or the end of its stream (non-blocking).
"""

from __future__ import annotations

import functools
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from nettls.eventloop import EventLoop

from ._classes import TCPClasses, TLSClasses
from ._errors import error_text
from ._sessions import available, failure_reason

__all__ = ["ServerSetupFailed", "Server", "BlockingServer", "LoopServer"]


class ServerSetupFailed(Exception):
    """The TCP component cannot run this kind of server; the message says why."""


def _local_port(listener: Any) -> int:
    from nettls.interfaces import IServerSocketOptions

    if not IServerSocketOptions.providedBy(listener):
        raise ServerSetupFailed("the TCP component's server socket cannot tell its port (no IServerSocketOptions)")
    return int(listener.getLocalEndpoint().port)


class Server:
    """A server thread; ``outcomes`` gets one entry per connection: None or its error."""

    def __init__(self, tls_c: TLSClasses, tcp_c: TCPClasses, ctx: Any, timeout: float) -> None:
        self.tls_c = tls_c
        self.tcp_c = tcp_c
        self.ctx = ctx
        self.timeout = timeout
        self.outcomes: queue.Queue[str | None] = queue.Queue()
        self.listener = tcp_c.TCPServerSocket()
        self.port = 0
        self.thread = threading.Thread(target=self._run, name=f"nettls-demo-{type(self).__name__}-{tls_c.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def drain(self) -> None:
        """Forget the outcomes of earlier cells."""
        while True:
            try:
                self.outcomes.get_nowait()
            except queue.Empty:
                return

    def outcome(self, wait: float) -> str | None:
        """The next connection's outcome, waiting up to ``wait`` seconds for it."""
        try:
            return self.outcomes.get(timeout=wait)
        except queue.Empty:
            return f"the {self.tls_c.name} server reported nothing within {wait:g} s"

    def _run(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class BlockingServer(Server):
    """Accepts and serves one connection at a time, in blocking mode."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.stopping = threading.Event()
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
                return f"server handshake: {failure_reason(session, f'accept() returned {status}')}"
            step = "receive"
            header = session.recv(4)
            size = int.from_bytes(header, "big") if len(header) == 4 else -1
            payload = session.recv(size) if size > 0 else b""
            if size < 0 or len(payload) < size:
                got = len(header) + len(payload)
                return f"server receive: the stream ended after {got} bytes ({failure_reason(session, 'no reason given')})"
            step = "echo"
            session.send(payload)
            step = "close"
            extra = session.recv(1)  # until the client's close_notify
            session.close()
            if extra:
                return "server: unexpected data after the message"
            return None
        except Exception as exc:
            return f"server {step}: {error_text(exc)}"
        finally:
            sock.disconnect()

    def stop(self) -> None:
        self.stopping.set()
        try:
            self.listener.unbind()  # wakes a thread blocked in accept()
        except Exception:
            pass
        self.thread.join(0.5)  # a thread stuck in a component is a daemon: it is left behind


@dataclass
class _Conn:
    sock: Any
    session: Any
    open: bool = False
    replied: bool = False
    finished: bool = False
    data: bytearray = field(default_factory=bytearray)


class LoopServer(Server):
    """One thread, one ``EventLoop``, non-blocking everything (the Dana example's
    shape): it accepts on ``recvReady`` of the non-blocking server socket,
    arms send notification on ``sendWait``, and reads until ``recv`` returns
    ``b""``."""

    def __init__(self, *args: Any) -> None:
        from nettls.interfaces import IServerSocketOptions

        super().__init__(*args)
        has_options = IServerSocketOptions.providedBy(self.listener)  # a plain bool: no narrowing for mypy
        if not has_options:
            raise ServerSetupFailed("the TCP component's server socket cannot be non-blocking (no IServerSocketOptions)")
        self.listener.setNonBlocking()
        self.listener.bind("127.0.0.1", 0)
        self.port = _local_port(self.listener)
        self.loop = EventLoop(self.tcp_c.TCPMonitor())  # wakeable: stop() comes from another thread
        self.loop.watch(self.listener, self._on_listener)
        self.conns: list[_Conn] = []

    def _run(self) -> None:
        try:
            self.loop.run()
        except Exception as exc:  # the loop itself broke: every later cell reports it
            self.outcomes.put(f"server monitor loop: {error_text(exc)}")
        finally:
            for conn in self.conns:
                if not conn.finished:
                    conn.sock.disconnect()
            self.loop.close()

    def _on_listener(self, event: Any) -> None:
        if event.recvReady:
            self._accept()

    def _accept(self) -> None:
        while True:
            sock = self.tcp_c.TCPSocket()
            if not sock.accept(self.listener):
                return
            session = self.tls_c.TLS(self.ctx)
            conn = _Conn(sock, session)
            sock.setNonBlocking(conn)
            session.sendWait.subscribe(functools.partial(self.loop.want_write, sock))
            self.loop.watch(sock, functools.partial(self._on_conn, conn))
            self.conns.append(conn)
            self._step(conn)  # the ClientHello may be waiting already

    def _on_conn(self, conn: _Conn, event: Any) -> None:
        if not conn.finished:
            self._step(conn, send_ready=event.sendReady, closed=event.close)

    def _step(self, conn: _Conn, send_ready: bool = False, closed: bool = False) -> None:
        session, sock = conn.session, conn.sock
        try:
            if not conn.open:
                status = session.accept(sock)
                if status == session.WAIT_WRITE:
                    self.loop.want_write(sock)
                if status in (session.WAIT_READ, session.WAIT_WRITE):
                    if closed:
                        self._finish(conn, f"server handshake: {failure_reason(session, 'the client closed')}")
                    return
                if status != session.OK:
                    self._finish(conn, f"server handshake: {failure_reason(session, f'accept() returned {status}')}")
                    return
                conn.open = True
            if send_ready:
                session.sendBuffer()
            for chunk in available(session):
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
                    reason = failure_reason(session, "the client closed")
                    self._finish(conn, f"server receive: the stream ended after {len(conn.data)} bytes ({reason})")
                return
            if status == session.WAIT_WRITE:
                self.loop.want_write(sock)
        except Exception as exc:
            self._finish(conn, f"server: {error_text(exc)}")

    def _finish(self, conn: _Conn, error: str | None) -> None:
        conn.finished = True
        self.loop.unwatch(conn.sock)
        try:
            conn.session.close()
        except Exception:
            pass
        conn.sock.disconnect()
        self.conns.remove(conn)
        self.outcomes.put(error)

    def stop(self) -> None:
        self.loop.stop()
        self.thread.join(1.0)
        try:
            self.listener.unbind()
        except Exception:
            pass
