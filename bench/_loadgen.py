"""The load generator of the serve benchmark, a process of its own.

``python -m bench._loadgen PORT CLIENTS SECONDS``: opens CLIENTS TLS
connections to 127.0.0.1:PORT (``ssl.SSLObject`` over ``MemoryBIO`` on
non-blocking sockets and one ``epoll``: the cheapest client Python has),
at most ``CONNECT_BATCH`` handshakes in flight at a time. Then it prints
``ready N`` and waits for a line on standard input; then every connection
sends 64 bytes and waits for their echo, again and again, for SECONDS
(one request in flight per connection, so CLIENTS in all), and it prints
``done REQUESTS SECONDS FAILED`` and exits. Traffic goes to 127.0.0.1 only;
every loop is bounded in time.
"""

from __future__ import annotations

import resource
import select
import socket
import ssl
import sys
import time

PAYLOAD = b"x" * 64
CONNECT_BATCH = 256
CONNECT_TIMEOUT = 120.0


class Conn:
    __slots__ = ("sock", "fd", "inc", "out", "obj", "done", "got")

    def __init__(self, ctx: ssl.SSLContext, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setblocking(False)
        self.fd = self.sock.fileno()
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out)
        self.done = False  # handshake complete
        self.got = 0
        try:
            self.sock.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass

    def flush(self) -> None:
        data = self.out.read()
        while data:
            try:
                n = self.sock.send(data)
            except BlockingIOError:
                select.select([], [self.sock], [], 1.0)
                continue
            data = data[n:]

    def step_handshake(self) -> bool:
        try:
            self.obj.do_handshake()
            self.done = True
        except ssl.SSLWantReadError:
            pass
        self.flush()
        return self.done

    def feed(self) -> bool:
        """Read what the socket has into the engine; False at end of stream."""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        self.inc.write(data)
        return True


def main() -> int:
    port, clients, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ep = select.epoll()
    by_fd: dict[int, Conn] = {}
    pending = 0
    made = 0
    failed = 0
    deadline = time.monotonic() + CONNECT_TIMEOUT
    # Connect and handshake, CONNECT_BATCH at a time.
    while (made < clients or pending) and time.monotonic() < deadline:
        while made < clients and pending < CONNECT_BATCH:
            c = Conn(ctx, port)
            by_fd[c.fd] = c
            ep.register(c.fd, select.EPOLLIN | select.EPOLLOUT)
            made += 1
            pending += 1
        for fd, mask in ep.poll(1.0):
            c = by_fd[fd]
            if c.done:
                continue
            if mask & select.EPOLLOUT:  # connected: from now on only input matters
                ep.modify(fd, select.EPOLLIN)
            if mask & (select.EPOLLERR | select.EPOLLHUP) or (mask & select.EPOLLIN and not c.feed()):
                failed += 1
                pending -= 1
                ep.unregister(fd)
                del by_fd[fd]
                c.sock.close()
                continue
            if c.step_handshake():
                pending -= 1
    print(f"ready {len([c for c in by_fd.values() if c.done])} failed {failed}", flush=True)
    sys.stdin.readline()
    # The echo loop.
    for c in by_fd.values():
        c.obj.write(PAYLOAD)
        c.flush()
    requests = 0
    start = time.monotonic()
    end = start + seconds
    poll = ep.poll
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for fd, _mask in poll(end - now):
            c = by_fd[fd]
            if not c.feed():
                failed += 1
                ep.unregister(fd)
                continue
            try:
                while True:
                    c.got += len(c.obj.read(65536))
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                failed += 1
                ep.unregister(fd)
                continue
            while c.got >= len(PAYLOAD):
                c.got -= len(PAYLOAD)
                requests += 1
                c.obj.write(PAYLOAD)
            c.flush()
    elapsed = time.monotonic() - start
    print(f"done {requests} {elapsed:.3f} {failed}", flush=True)
    for c in by_fd.values():
        c.sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
