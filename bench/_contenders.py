"""The contenders: each nettls component in each mode, and what a user would
use instead (raw ``ssl.SSLSocket``, raw pyOpenSSL over a socket, and the
pure-Python ``ssl.SSLObject`` over ``MemoryBIO`` loop as a reference); and
asyncio streams on ``nettls.aio`` (``aio``) against asyncio's own TLS
(``asyncio``).

Every contender is an ``Endpoint`` class with the same four operations, so
the benchmarks drive them all with the same code:

    client(port) / server(listener)   make a connection and do the handshake
    send_all(chunk, count)            send ``chunk`` ``count`` times
    recv_total(total, size)           receive ``total`` bytes in reads of ``size``
    drop()                            close the TCP connection (no close_notify)
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any, Awaitable, ClassVar, TypeVar

from OpenSSL import SSL, crypto

import nettls
import nettls.aio
from nettls.eventloop import EventLoop
from nettls.interfaces import TLSError

from ._common import Pki

__all__ = ["CONTENDERS", "Endpoint", "make_endpoint_class"]

HOST = "127.0.0.1"
T = TypeVar("T")


class Endpoint:
    """One side of one connection, for one contender."""

    name: ClassVar[str] = "?"

    @classmethod
    def prepare(cls, pki: Pki) -> None:
        """Build the contexts for ``pki`` (once per process and PKI)."""

    @classmethod
    def client(cls, port: int) -> "Endpoint":
        raise NotImplementedError

    @classmethod
    def server(cls, listener: socket.socket) -> "Endpoint":
        raise NotImplementedError

    def _on_event(self, event: Any) -> None:
        tls = self.tls
        if event.recvReady and self._sending:  # session tickets: read them so the socket stops being readable
            while tls.recv(65536):
                pass
        if event.sendReady:
            tls.sendBuffer()

    def send_all(self, chunk: memoryview, count: int) -> None:
        raise NotImplementedError

    def recv_total(self, total: int, size: int) -> int:
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError


# -- raw ssl.SSLSocket ---------------------------------------------------------------


def _ssl_contexts(pki: Pki) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    from nettls.components._common.pem import private_file

    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = ssl.TLSVersion.TLSv1_2
    with private_file([pki.key, pki.leaf, *pki.chain]) as path:
        server.load_cert_chain(path)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.minimum_version = ssl.TLSVersion.TLSv1_2
    return server, client


class RawSSL(Endpoint):
    """``ssl.SSLSocket``, blocking: what most Python code uses."""

    name = "ssl.SSLSocket"
    _server_ctx: ClassVar[ssl.SSLContext]
    _client_ctx: ClassVar[ssl.SSLContext]

    def __init__(self, s: ssl.SSLSocket) -> None:
        self.s = s

    @classmethod
    def prepare(cls, pki: Pki) -> None:
        cls._server_ctx, cls._client_ctx = _ssl_contexts(pki)

    @classmethod
    def client(cls, port: int) -> Endpoint:
        sock = socket.create_connection((HOST, port))
        return cls(cls._client_ctx.wrap_socket(sock))

    @classmethod
    def server(cls, listener: socket.socket) -> Endpoint:
        conn, _ = listener.accept()
        return cls(cls._server_ctx.wrap_socket(conn, server_side=True))

    def send_all(self, chunk: memoryview, count: int) -> None:
        sendall = self.s.sendall
        for _ in range(count):
            sendall(chunk)

    def recv_total(self, total: int, size: int) -> int:
        recv = self.s.recv
        got = 0
        while got < total:
            data = recv(size)
            if not data:
                break
            got += len(data)
        return got

    def drop(self) -> None:
        self.s.close()


# -- pure-Python SSLObject over MemoryBIO (reference) -----------------------------------


class MemoryBIO(Endpoint):
    """``ssl.SSLObject`` over two ``MemoryBIO`` driven by a 30-line blocking
    loop (as urllib3's SSLTransport): the reference for a binding's overhead."""

    name = "SSLObject+MemoryBIO loop"
    _server_ctx: ClassVar[ssl.SSLContext]
    _client_ctx: ClassVar[ssl.SSLContext]

    def __init__(self, sock: socket.socket, ctx: ssl.SSLContext, server: bool) -> None:
        self.sock = sock
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=server)
        self._retry(self.obj.do_handshake)

    def _retry(self, fn: Any, *args: Any) -> Any:
        while True:
            try:
                result = fn(*args)
            except ssl.SSLWantReadError:
                out = self.out.read()
                if out:
                    self.sock.sendall(out)
                data = self.sock.recv(65536)
                if not data:
                    self.inc.write_eof()
                else:
                    self.inc.write(data)
                continue
            out = self.out.read()
            if out:
                self.sock.sendall(out)
            return result

    @classmethod
    def prepare(cls, pki: Pki) -> None:
        cls._server_ctx, cls._client_ctx = _ssl_contexts(pki)

    @classmethod
    def client(cls, port: int) -> Endpoint:
        return cls(socket.create_connection((HOST, port)), cls._client_ctx, False)

    @classmethod
    def server(cls, listener: socket.socket) -> Endpoint:
        conn, _ = listener.accept()
        return cls(conn, cls._server_ctx, True)

    def send_all(self, chunk: memoryview, count: int) -> None:
        write, read, sendall = self.obj.write, self.out.read, self.sock.sendall
        for _ in range(count):
            write(chunk)
            sendall(read())

    def recv_total(self, total: int, size: int) -> int:
        got = 0
        while got < total:
            data = self._retry(self.obj.read, size)
            if not data:
                break
            got += len(data)
        return got

    def drop(self) -> None:
        self.sock.close()


# -- raw pyOpenSSL -----------------------------------------------------------------------


class RawPyOpenSSL(Endpoint):
    """``OpenSSL.SSL.Connection`` over a blocking socket."""

    name = "pyOpenSSL Connection"
    _server_ctx: ClassVar[SSL.Context]
    _client_ctx: ClassVar[SSL.Context]

    def __init__(self, conn: SSL.Connection, sock: socket.socket) -> None:
        self.c = conn
        self.sock = sock

    @classmethod
    def prepare(cls, pki: Pki) -> None:
        server = SSL.Context(SSL.TLS_METHOD)
        server.set_min_proto_version(SSL.TLS1_2_VERSION)
        server.set_options(SSL.OP_NO_COMPRESSION)
        server.use_certificate(crypto.load_certificate(crypto.FILETYPE_PEM, pki.leaf.encode()))
        server.use_privatekey(crypto.load_privatekey(crypto.FILETYPE_PEM, pki.key.encode()))
        for pem in pki.chain:
            server.add_extra_chain_cert(crypto.load_certificate(crypto.FILETYPE_PEM, pem.encode()))
        client = SSL.Context(SSL.TLS_METHOD)
        client.set_min_proto_version(SSL.TLS1_2_VERSION)
        client.set_options(SSL.OP_NO_COMPRESSION)
        cls._server_ctx, cls._client_ctx = server, client

    @classmethod
    def client(cls, port: int) -> Endpoint:
        sock = socket.create_connection((HOST, port))
        conn = SSL.Connection(cls._client_ctx, sock)
        conn.set_connect_state()
        conn.do_handshake()
        return cls(conn, sock)

    @classmethod
    def server(cls, listener: socket.socket) -> Endpoint:
        sock, _ = listener.accept()
        conn = SSL.Connection(cls._server_ctx, sock)
        conn.set_accept_state()
        conn.do_handshake()
        return cls(conn, sock)

    def send_all(self, chunk: memoryview, count: int) -> None:
        sendall = self.c.sendall
        for _ in range(count):
            sendall(chunk)

    def recv_total(self, total: int, size: int) -> int:
        recv = self.c.recv
        got = 0
        while got < total:
            try:
                data = recv(size)
            except (SSL.ZeroReturnError, SSL.SysCallError):
                break
            got += len(data)
        return got

    def drop(self) -> None:
        self.sock.close()


# -- nettls --------------------------------------------------------------------------------


_TCPSocket = nettls.resolve("net.TCPSocket", component="tcp")
_Monitor = nettls.resolve("net.TCPMonitor", component="tcp")
#: One event loop per process for the non-blocking contenders, as a server has
#: one for all its connections (made on first use; a connection watches its
#: socket and stops when dropped).
_EVENTS: EventLoop | None = None


def _shared_loop() -> EventLoop:
    global _EVENTS
    if _EVENTS is None:
        _EVENTS = EventLoop(_Monitor(), wakeable=False)
    return _EVENTS
_TLS = {name: nettls.resolve("net.TLS", component=name) for name in ("stdlib", "pyopenssl")}


class _Nettls(Endpoint):
    """A nettls session over the tcp component, blocking or non-blocking."""

    component: ClassVar[str]
    nonblocking: ClassVar[bool]
    #: Receive with recvInto() into one reused buffer (blocking only).
    into: ClassVar[bool] = False
    _server_ctx: ClassVar[Any]
    _client_ctx: ClassVar[Any]

    def __init__(self, tls: Any, sock: Any, server: bool) -> None:
        self.tls = tls
        self.sock = sock
        self.loop: EventLoop | None = None
        self._sending = False  # in send_all: read what arrives (session tickets)
        if not self.nonblocking:
            if (tls.accept(sock) if server else tls.connect(sock)) != tls.OK:
                raise TLSError("handshake failed")
            return
        sock.setNonBlocking()
        tls.setNonBlocking()
        self.loop = loop = _shared_loop()
        loop.watch(sock, self._on_event)
        try:
            while True:
                status = tls.accept(sock) if server else tls.connect(sock)
                if status == tls.OK:
                    return
                if status == tls.FAIL:
                    raise TLSError(f"handshake failed: {tls.getFailureReason()}")
                if status == tls.WAIT_WRITE:
                    loop.want_write(sock)
                loop.run_once(5.0)
        except BaseException:
            self.drop()
            raise

    @classmethod
    def prepare(cls, pki: Pki) -> None:
        Ctx = nettls.resolve("net.TLSContext", component=cls.component)
        server = Ctx(Ctx.SERVER)
        server.setCertificate(pki.leaf, pki.key)
        server.setCertificateChain(pki.chain)
        cls._server_ctx, cls._client_ctx = server, Ctx(Ctx.CLIENT)

    @classmethod
    def client(cls, port: int) -> Endpoint:
        sock = _TCPSocket()
        sock.connect(HOST, port)
        return cls(_TLS[cls.component](cls._client_ctx), sock, False)

    @classmethod
    def server(cls, listener: Any) -> Endpoint:
        sock = _TCPSocket()
        sock.accept(listener)
        return cls(_TLS[cls.component](cls._server_ctx), sock, True)

    def send_all(self, chunk: memoryview, count: int) -> None:
        tls = self.tls
        send = tls.send
        if not self.nonblocking:
            for _ in range(count):
                send(chunk)
            return
        unsent, loop, sock = tls.getBufferUnsent, self.loop, self.sock
        assert loop is not None
        self._sending = True
        try:
            for _ in range(count):
                send(chunk)
                while unsent():
                    loop.want_write(sock)
                    loop.run_once()
        finally:
            self._sending = False

    def recv_total(self, total: int, size: int) -> int:
        recv = self.tls.recv
        got = 0
        if self.into:
            buffer = memoryview(bytearray(size))
            into = self.tls.recvInto
            while got < total:
                count = into(buffer[: min(size, total - got)])
                if not count:
                    break
                got += count
            return got
        if not self.nonblocking:
            while got < total:
                data = recv(min(size, total - got))
                if not data:
                    break
                got += len(data)
            return got
        tls, loop, FAIL = self.tls, self.loop, self.tls.FAIL
        assert loop is not None
        while got < total:
            data = recv(size)
            if data:
                got += len(data)
                continue
            if tls.getStatus() == FAIL:
                break
            if tls.getBufferUnsent() or self.sock.getBufferUnsent():
                loop.want_write(self.sock)
            loop.run_once()
        return got

    def drop(self) -> None:
        if self.loop is not None:
            self.loop.unwatch(self.sock)
            self.loop = None
        self.sock.disconnect()


# -- asyncio streams: nettls.aio, and asyncio's own ssl ----------------------------------------

#: One event loop per process for the asyncio contenders (made on first use);
#: each operation runs it until that operation completes.
_LOOP: asyncio.AbstractEventLoop | None = None


def _run(coro: Awaitable[T]) -> T:
    global _LOOP
    if _LOOP is None:
        _LOOP = asyncio.new_event_loop()
    return _LOOP.run_until_complete(coro)


class _AsyncioStreams(Endpoint):
    """``asyncio`` streams over TLS: ``writer.write()`` then ``await
    writer.drain()`` per chunk, ``await reader.read(size)``, as an asyncio
    program does."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def _open(cls, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        raise NotImplementedError

    @classmethod
    async def _serve(cls, callback: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def _port(cls, server: Any) -> int:
        return int(server.port)

    @classmethod
    def listen(cls) -> tuple[Any, int]:
        """A listening server whose connections ``server()`` takes, and its port."""
        accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await accepted.put((reader, writer))

        server = _run(cls._serve(on_client))
        return (server, accepted), cls._port(server)

    @classmethod
    def client(cls, port: int) -> Endpoint:
        return cls(*_run(cls._open(port)))

    @classmethod
    def server(cls, listener: Any) -> Endpoint:
        return cls(*_run(listener[1].get()))

    def send_all(self, chunk: memoryview, count: int) -> None:
        async def send() -> None:
            write, drain = self.writer.write, self.writer.drain
            for _ in range(count):
                write(chunk)
                await drain()

        _run(send())

    def recv_total(self, total: int, size: int) -> int:
        async def receive() -> int:
            read, got = self.reader.read, 0
            while got < total:
                data = await read(size)
                if not data:
                    break
                got += len(data)
            return got

        return _run(receive())

    def drop(self) -> None:
        self.writer.transport.abort()
        _run(asyncio.sleep(0))  # let connection_lost run


class AioStreams(_AsyncioStreams):
    """``nettls.aio`` streams (``open_connection``/``start_server``) on the stdlib component."""

    name = "nettls.aio streams (stdlib)"
    _server_ctx: ClassVar[Any]
    _client_ctx: ClassVar[Any]

    @classmethod
    def prepare(cls, pki: Pki) -> None:
        Ctx = nettls.resolve("net.TLSContext", component="stdlib")
        server = Ctx(Ctx.SERVER)
        server.setCertificate(pki.leaf, pki.key)
        server.setCertificateChain(pki.chain)
        cls._server_ctx, cls._client_ctx = server, Ctx(Ctx.CLIENT)

    @classmethod
    async def _open(cls, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await nettls.aio.open_connection(HOST, port, context=cls._client_ctx)

    @classmethod
    async def _serve(cls, callback: Any) -> Any:
        return await nettls.aio.start_server(callback, HOST, 0, context=cls._server_ctx)


class AsyncioSSL(_AsyncioStreams):
    """asyncio's own TLS (``open_connection``/``start_server`` with ``ssl=``)."""

    name = "asyncio streams (ssl)"
    _server_ctx: ClassVar[ssl.SSLContext]
    _client_ctx: ClassVar[ssl.SSLContext]

    @classmethod
    def prepare(cls, pki: Pki) -> None:
        cls._server_ctx, cls._client_ctx = _ssl_contexts(pki)

    @classmethod
    async def _open(cls, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(HOST, port, ssl=cls._client_ctx)

    @classmethod
    async def _serve(cls, callback: Any) -> Any:
        return await asyncio.start_server(callback, HOST, 0, ssl=cls._server_ctx)

    @classmethod
    def _port(cls, server: Any) -> int:
        return int(server.sockets[0].getsockname()[1])


def make_endpoint_class(component: str, nonblocking: bool, into: bool = False) -> type[Endpoint]:
    mode = "non-blocking" if nonblocking else "blocking"
    reads = " recvInto" if into else ""
    return type(
        f"Nettls_{component}_{mode}{'_into' if into else ''}",
        (_Nettls,),
        {"component": component, "nonblocking": nonblocking, "into": into, "name": f"nettls {component} {mode}{reads}"},
    )


#: Short name -> endpoint class; the first is every table's baseline.
CONTENDERS: dict[str, type[Endpoint]] = {
    "ssl": RawSSL,
    "pyopenssl-raw": RawPyOpenSSL,
    "memorybio": MemoryBIO,
    "stdlib": make_endpoint_class("stdlib", False),
    "stdlib-nb": make_endpoint_class("stdlib", True),
    "pyopenssl": make_endpoint_class("pyopenssl", False),
    "pyopenssl-nb": make_endpoint_class("pyopenssl", True),
    "stdlib-into": make_endpoint_class("stdlib", False, into=True),
    "asyncio": AsyncioSSL,
    "aio": AioStreams,
}


def listener_for(name: str) -> tuple[Any, int]:
    """A listening socket for contender ``name`` (a nettls one for nettls) and its port."""
    cls = CONTENDERS[name]
    if issubclass(cls, _AsyncioStreams):
        return cls.listen()
    if issubclass(cls, _Nettls):
        server: Any = nettls.resolve("net.TCPServerSocket", component="tcp")()
        server.bind(HOST, 0, True)
        return server, server.getLocalEndpoint().port
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    return sock, sock.getsockname()[1]


def close_listener(listener: Any) -> None:
    if isinstance(listener, tuple):  # an asyncio contender's (server, queue)
        listener[0].close()
        _run(listener[0].wait_closed())
    elif isinstance(listener, socket.socket):
        listener.close()
    else:
        listener.unbind()

