"""``nettls.aio`` on asyncio: ``TLSTransport``, ``create_connection``,
``open_connection`` and ``start_server`` on every component, against real
peers (``openssl s_server``, ``openssl s_client``, ``curl``, Python's
``ssl``), with flow control under a peer that stops reading, cancellation
in the middle of a handshake and of a write, and the ends of a stream
(close_notify, truncation, reset) giving asyncio's own errors.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

import pytest

import nettls
import nettls.aio
from nettls.conformance._openssl import OpenSSL, s_server
from nettls.interfaces import (
    IEndOfStream,
    INegotiatedProtocol,
    IProtocolNegotiation,
    IServerName,
    IVerifyOnConnect,
    RegistryError,
    TLSHandshakeError,
    TLSTimeoutError,
)
from nettls.pki import throwaway_pki

from _aio_support import (
    COMPONENTS,
    LOOPBACK,
    WAIT,
    PythonPeer,
    client_context,
    close_notify,
    descriptor,
    half_close_server,
    lacking,
    need,
    open_fds,
    pki,
    reset,
    server_context,
    still_open,
    truncate,
    write_files,
)

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")
KiB = 1024


def run(coro: Awaitable[T]) -> T:
    """Run ``coro`` in a fresh loop, bounded by WAIT seconds."""
    return asyncio.run(asyncio.wait_for(coro, WAIT))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_files(tmp_path_factory.mktemp("aio-pki"))


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Greet at once (data that arrives with the handshake's end), then echo."""
    writer.write(b"hi\n")
    try:
        while data := await reader.read(64 * KiB):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


# -- every pair of components ----------------------------------------------------------------


@pytest.mark.parametrize("client", COMPONENTS)
@pytest.mark.parametrize("server", COMPONENTS)
def test_streams_echo_between_every_pair_of_components(server: str, client: str) -> None:
    async def main() -> None:
        fds = open_fds()
        srv = await nettls.aio.start_server(echo, LOOPBACK, 0, context=server_context(server))
        async with srv:
            reader, writer = await nettls.aio.open_connection(LOOPBACK, srv.port, context=client_context(client))
            assert await reader.readline() == b"hi\n"
            payload = bytes(range(256)) * 1200  # 300 KiB: many records, several 64 KiB turns
            writer.write(payload)
            await writer.drain()
            assert await reader.readexactly(len(payload)) == payload
            leaf, chain = writer.get_extra_info("peercert"), writer.get_extra_info("peer_chain")
            assert leaf == pki().leaf.cert_pem and chain == [pki().leaf.cert_pem, pki().intermediate.cert_pem]
            assert writer.get_extra_info("version") in ("TLSv1.2", "TLSv1.3")
            assert writer.get_extra_info("cipher")[1] == writer.get_extra_info("version")
            assert writer.get_extra_info("peername") == (LOOPBACK, srv.port)
            assert writer.get_extra_info("component") == client
            assert writer.get_extra_info("socket").getRemoteEndpoint().port == srv.port
            assert writer.get_extra_info("sslcontext") is not None
            writer.close()
            await writer.wait_closed()
            srv.close()
            await srv.wait_closed()
        assert open_fds() == fds, "a descriptor was left open"

    run(main())


# -- real peers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_open_connection_to_openssl_s_server(component: str, files: dict[str, str]) -> None:
    """Verified (chain and host name) where the component can verify in the handshake."""
    verify = not lacking(component, TLSContext=[IVerifyOnConnect], TLS=[IServerName])
    proc, port = s_server(files)
    try:

        async def main() -> None:
            ctx = client_context(component, verify=verify)
            reader, writer = await nettls.aio.open_connection("localhost", port, context=ctx, component=component)
            writer.write(b"hello nettls\n")
            assert await reader.readline() == b"sltten olleh\n"
            writer.close()
            await writer.wait_closed()

        run(main())
    finally:
        proc.stop()


@pytest.mark.parametrize("component", COMPONENTS)
def test_openssl_s_client_to_start_server(component: str, files: dict[str, str]) -> None:
    async def main() -> None:
        srv = await nettls.aio.start_server(echo, LOOPBACK, 0, context=server_context(component))
        client = OpenSSL(
            ["s_client", "-connect", f"{LOOPBACK}:{srv.port}", "-servername", "localhost",
             "-CAfile", files["root"], "-verify_return_error", "-brief"]  # fmt: skip
        )
        try:
            await asyncio.to_thread(client.wait_for, r"hi\n")
            client.write(b"ping from s_client\n")
            await asyncio.to_thread(client.wait_for, "ping from s_client")
            client.close_input()
            assert await asyncio.to_thread(client.wait) == 0, client.output
        finally:
            client.stop()
            srv.close()

    run(main())


async def http_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One HTTP/1.1 request, one response naming the negotiated protocol."""
    await reader.readuntil(b"\r\n\r\n")
    body = f"hello over {writer.get_extra_info('version')}\n".encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("component", COMPONENTS)
def test_curl_to_start_server(component: str, files: dict[str, str]) -> None:
    async def main() -> None:
        srv = await nettls.aio.start_server(http_handler, LOOPBACK, 0, context=server_context(component))
        async with srv:
            curl = await asyncio.create_subprocess_exec(
                "curl", "-sS", "--max-time", "5", "--cacert", files["root"], f"https://localhost:{srv.port}/",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await curl.communicate()
            assert curl.returncode == 0, err.decode()
            assert out.startswith(b"hello over TLSv1."), out
            srv.close()

    run(main())


@pytest.mark.parametrize("component", COMPONENTS)
def test_alpn_is_read_through_get_extra_info(component: str) -> None:
    need(component, TLSContext=[IProtocolNegotiation], TLS=[INegotiatedProtocol])

    async def main() -> None:
        seen: list[str | None] = []

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("selected_alpn_protocol"))
            writer.close()

        srv = await nettls.aio.start_server(handler, LOOPBACK, 0, context=server_context(component, alpn=["h2", "http/1.1"]))
        async with srv:
            ctx = client_context(component, alpn=["http/1.1"])
            reader, writer = await nettls.aio.open_connection(LOOPBACK, srv.port, context=ctx)
            assert writer.get_extra_info("selected_alpn_protocol") == "http/1.1"
            assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
            assert await reader.read() == b""
            writer.close()
            srv.close()
        assert seen == ["http/1.1"]

    run(main())


# -- flow control -------------------------------------------------------------------------------


class Recorder(asyncio.Protocol):
    """Counts what arrives and the flow-control calls."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.received = 0
        self.paused = 0
        self.resumed = 0
        self.eof = asyncio.Event()
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self.got_data = asyncio.Event()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        self.got_data.set()

    def eof_received(self) -> None:
        self.eof.set()

    def pause_writing(self) -> None:
        self.paused += 1

    def resume_writing(self) -> None:
        self.resumed += 1

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


def reader_that_waits(go: threading.Event, counted: list[int]) -> Callable[[ssl.SSLSocket], None]:
    """A peer script: read nothing until ``go``, then everything until EOF."""

    def script(tls: ssl.SSLSocket) -> None:
        go.wait(WAIT)
        total = 0
        while True:
            try:
                data = tls.recv(256 * KiB)
            except (ssl.SSLError, OSError):
                break
            if not data:
                break
            total += len(data)
        counted.append(total)

    return script


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_peer_that_stops_reading_pauses_the_writer_and_memory_stays_bounded(component: str) -> None:
    go, counted = threading.Event(), list[int]()
    peer = PythonPeer(reader_that_waits(go, counted))
    chunk = bytes(64 * KiB)

    async def main() -> int:
        transport, proto = await nettls.aio.create_connection(Recorder, LOOPBACK, peer.port, context=client_context(component))
        assert isinstance(proto, Recorder)
        low, high = transport.get_write_buffer_limits()
        assert (low, high) == (16 * KiB, 64 * KiB)
        written = 0
        for _ in range(2000):  # at most 125 MiB: the kernel's buffers take a few MiB
            transport.write(chunk)
            written += len(chunk)
            assert transport.get_write_buffer_size() <= high + len(chunk), "queued past the high-water mark"
            if proto.paused:
                break
            await asyncio.sleep(0)  # let the loop write what the kernel takes
        assert proto.paused == 1, "pause_writing() was never called"
        await asyncio.sleep(0.2)
        assert transport.get_write_buffer_size() > 0 and proto.resumed == 0
        go.set()
        while proto.resumed == 0:
            await asyncio.sleep(0.01)
        while transport.get_write_buffer_size():
            await asyncio.sleep(0.01)
        transport.close()
        await proto.lost
        return written

    written = run(main())
    peer.join()
    assert counted == [written], "the peer did not get every byte exactly once"


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_client_that_sends_without_reading_stops_the_servers_reading(component: str) -> None:
    """An echo server facing a client that floods and never reads: the
    handler's drain() waits, its StreamReader fills and pauses the
    transport, and what the server holds for the connection stays bounded."""
    transports: list[Any] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transports.append(writer.transport)
        await echo(reader, writer)

    def flood(port: int, sent: list[int]) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=pki().root.cert_pem)
        with ctx.wrap_socket(socket.create_connection((LOOPBACK, port), timeout=WAIT), server_hostname="localhost") as tls:
            tls.settimeout(0.5)
            try:
                for _ in range(2000):  # at most 125 MiB; the buffers on the way take a few MiB
                    tls.sendall(bytes(64 * KiB))
                    sent[0] += 64 * KiB
            except (TimeoutError, OSError):  # everyone's buffers are full: the server stopped reading
                pass

    async def main() -> None:
        srv = await nettls.aio.start_server(handler, LOOPBACK, 0, context=server_context(component))
        async with srv:
            sent = [0]
            await asyncio.to_thread(flood, srv.port, sent)
            assert sent[0] < 2000 * 64 * KiB, "the server never stopped reading"
            (transport,) = transports
            assert not transport.is_reading()
            assert transport.get_write_buffer_size() <= 2 * transport.get_write_buffer_limits()[1]
            srv.close()
            srv.abort_clients()

    run(main())


@pytest.mark.parametrize("component", COMPONENTS)
def test_pause_reading_stops_delivery_and_resume_delivers_the_rest(component: str) -> None:
    size = 1024 * KiB

    def script(tls: ssl.SSLSocket) -> None:
        tls.sendall(bytes(size))  # one burst: far more than one session call's 64 KiB
        close_notify(tls)

    peer = PythonPeer(script)

    async def main() -> None:
        transport, proto = await nettls.aio.create_connection(Recorder, LOOPBACK, peer.port, context=client_context(component))
        assert isinstance(proto, Recorder)
        await proto.got_data.wait()
        transport.pause_reading()
        assert not transport.is_reading()
        frozen = proto.received
        await asyncio.sleep(0.2)
        assert proto.received == frozen, "data arrived while reading was paused"
        transport.resume_reading()
        await asyncio.wait_for(proto.eof.wait(), WAIT)
        assert proto.received == size
        assert await proto.lost is None

    run(main())
    peer.join()


@pytest.mark.parametrize("component", COMPONENTS)
def test_records_left_in_the_session_after_a_read_turn_are_delivered(component: str) -> None:
    """200 small records in one TCP segment: one socket read takes them all,
    a read turn delivers 16, and the rest wait inside the session, where the
    descriptor no longer shows them: the transport must come back by itself."""

    def script(tls: ssl.SSLSocket) -> None:
        tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)  # one segment for all the records
        for i in range(200):
            tls.send(b"%03d" % i + b"." * 97)  # one record each
        tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        tls.recv(1)  # until the client is done

    peer = PythonPeer(script)

    async def main() -> bytes:
        reader, writer = await nettls.aio.open_connection(LOOPBACK, peer.port, context=client_context(component))
        data = await reader.readexactly(200 * 100)
        writer.close()
        return data

    data = run(main())
    peer.join()
    assert data == b"".join(b"%03d" % i + b"." * 97 for i in range(200))


def memory_bio_client(port: int, first: bytes) -> bytes:
    """A Python ``ssl`` client over memory buffers that sends ``first`` in
    the same TCP segment as its handshake's last flight, then reads a line."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=pki().root.cert_pem)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection((LOOPBACK, port), timeout=WAIT) as sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        tls.write(first)
        sock.sendall(outgoing.read())  # Finished and the data: one segment
        line = b""
        while not line.endswith(b"\n"):
            try:
                line += tls.read(65536)
            except ssl.SSLWantReadError:
                incoming.write(sock.recv(65536))
        return line


@pytest.mark.parametrize("component", COMPONENTS)
def test_data_that_comes_with_the_handshakes_end_is_delivered(component: str) -> None:
    async def greet_back(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"you said " + await reader.readline())
        writer.close()

    async def main() -> bytes:
        srv = await nettls.aio.start_server(greet_back, LOOPBACK, 0, context=server_context(component))
        async with srv:
            line = await asyncio.to_thread(memory_bio_client, srv.port, b"early\n")
            srv.close()
            return line

    assert run(main()) == b"you said early\n"


# -- cancellation --------------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_cancel_in_the_middle_of_a_handshake_closes_the_socket(component: str) -> None:
    with socket.create_server((LOOPBACK, 0)) as silent:  # accepts (in the kernel) and never answers
        port = silent.getsockname()[1]

        async def main() -> None:
            fds = open_fds()
            task = asyncio.ensure_future(nettls.aio.open_connection(LOOPBACK, port, context=client_context(component)))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert open_fds() == fds, "the cancelled handshake left a descriptor open"
            with pytest.raises(TLSTimeoutError, match="did not complete within 0.2 s"):
                await nettls.aio.open_connection(LOOPBACK, port, context=client_context(component), ssl_handshake_timeout=0.2)
            assert open_fds() == fds, "the timed-out handshake left a descriptor open"

        run(main())
        silent.settimeout(WAIT)
        for _ in range(2):  # both connections were closed by the client
            conn, _ = silent.accept()
            with conn:
                conn.settimeout(WAIT)
                while conn.recv(65536):  # the ClientHello, then end of stream
                    pass


@pytest.mark.parametrize("component", COMPONENTS)
def test_cancel_in_the_middle_of_a_write_closes_the_socket(component: str) -> None:
    go, counted = threading.Event(), list[int]()
    peer = PythonPeer(reader_that_waits(go, counted))

    async def main() -> None:
        reader, writer = await nettls.aio.open_connection(
            LOOPBACK, peer.port, context=client_context(component), ssl_shutdown_timeout=0.3
        )
        sock = writer.get_extra_info("socket")
        fd = descriptor(sock)

        async def write_forever() -> None:
            for _ in range(2000):
                writer.write(bytes(64 * KiB))
                await writer.drain()

        task = asyncio.ensure_future(write_forever())
        await asyncio.sleep(0.3)
        assert not task.done(), "drain() did not wait for a peer that does not read"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        writer.close()  # close_notify cannot be written: the shutdown timeout aborts
        await writer.wait_closed()
        assert sock.fileno() == -1 and not still_open(*fd), "the socket was left open"

    run(main())
    go.set()
    peer.join()
    assert counted and counted[0] > 0


# -- ends of stream ------------------------------------------------------------------------------


def hello_then(end: Callable[[ssl.SSLSocket], None]) -> Callable[[ssl.SSLSocket], None]:
    def script(tls: ssl.SSLSocket) -> None:
        tls.sendall(b"hello")
        threading.Event().wait(0.1)
        end(tls)

    return script


async def read_ten(reader: asyncio.StreamReader) -> tuple[str, bytes | None]:
    try:
        return "data", await reader.readexactly(10)
    except asyncio.IncompleteReadError as exc:
        return "IncompleteReadError", exc.partial
    except ConnectionResetError:
        return "ConnectionResetError", None


def asyncio_own(end: Callable[[ssl.SSLSocket], None]) -> tuple[str, bytes | None]:
    """What asyncio's own TLS gives for the same peer."""
    peer = PythonPeer(hello_then(end))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=pki().root.cert_pem)

    async def main() -> tuple[str, bytes | None]:
        reader, writer = await asyncio.open_connection(LOOPBACK, peer.port, ssl=ctx, server_hostname="localhost")
        outcome = await read_ten(reader)
        writer.close()
        return outcome

    try:
        return run(main())
    finally:
        peer.join()


@pytest.mark.parametrize("end", [truncate, reset, close_notify], ids=["truncation", "reset", "close_notify"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_ends_of_stream_give_asyncios_own_errors(component: str, end: Callable[[ssl.SSLSocket], None]) -> None:
    peer = PythonPeer(hello_then(end))

    async def main() -> tuple[tuple[str, bytes | None], bool | None]:
        reader, writer = await nettls.aio.open_connection(LOOPBACK, peer.port, context=client_context(component))
        outcome = await read_ten(reader)
        ended_cleanly = writer.get_extra_info("ended_cleanly")
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionResetError:  # as asyncio: the reset is the connection's outcome
            pass
        return outcome, ended_cleanly

    outcome, ended_cleanly = run(main())
    peer.join()
    assert outcome == asyncio_own(end)
    expected = {"reset": ("ConnectionResetError", None)}.get(end.__name__, ("IncompleteReadError", b"hello"))
    assert outcome == expected
    if IEndOfStream.implementedBy(nettls.resolve("net.TLS", component=component)) and end is not reset:
        assert ended_cleanly is (end is close_notify), "ended_cleanly does not tell close_notify from a truncation"


@pytest.mark.parametrize("component", COMPONENTS)
def test_write_eof_sends_close_notify_and_keeps_reading(component: str) -> None:
    class HalfCloseServer(asyncio.Protocol):
        """Reads until the client's end, then answers and closes."""

        def connection_made(self, transport: Any) -> None:
            self.transport, self.got = transport, 0

        def data_received(self, data: bytes) -> None:
            self.got += len(data)

        def eof_received(self) -> bool:
            self.transport.write(b"got %d" % self.got)
            self.transport.close()
            return True  # keep the transport open for the answer

    server_component = half_close_server(component)  # it writes after the client's close_notify

    async def main() -> None:
        srv = await nettls.aio.create_server(HalfCloseServer, LOOPBACK, 0, context=server_context(server_component))
        async with srv:
            reader, writer = await nettls.aio.open_connection(LOOPBACK, srv.port, context=client_context(component))
            if not writer.can_write_eof():
                with pytest.raises(NotImplementedError, match="IHalfClose|IEndOfStream"):
                    writer.write_eof()
                writer.close()
                srv.close()
                pytest.skip(f"n/a: the {component} component does not provide {', '.join(lacking(component, TLS=[IEndOfStream]))}")
            writer.write(b"x" * 1000)
            writer.write_eof()
            assert await reader.read() == b"got 1000"
            writer.close()
            srv.close()

    run(main())


# -- refusals and failures --------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_server_hostname_needs_IServerName(component: str) -> None:
    async def main() -> None:
        srv = await nettls.aio.start_server(echo, LOOPBACK, 0, context=server_context("stdlib"))
        async with srv:
            ctx = client_context(component)
            if lacking(component, TLS=[IServerName]):
                with pytest.raises(RegistryError, match=f"{component}.*IServerName.*server_hostname"):
                    await nettls.aio.open_connection(LOOPBACK, srv.port, context=ctx, server_hostname="localhost")
            else:
                reader, writer = await nettls.aio.open_connection(LOOPBACK, srv.port, context=ctx, server_hostname="localhost")
                assert writer.get_extra_info("server_hostname") == "localhost"
                writer.close()
            srv.close()

    run(main())


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_failed_handshake_is_reported_and_the_server_goes_on(component: str) -> None:
    need(component, TLSContext=[IVerifyOnConnect], TLS=[IServerName])
    stranger = throwaway_pki().root.cert_pem

    async def main() -> None:
        srv = await nettls.aio.start_server(echo, LOOPBACK, 0, context=server_context(component))
        async with srv:
            with pytest.raises(TLSHandshakeError, match=component):
                await nettls.aio.open_connection("localhost", srv.port, context=client_context(component, verify=True, root=stranger))
            reader, writer = await nettls.aio.open_connection("localhost", srv.port, context=client_context(component, verify=True))
            assert await reader.readline() == b"hi\n"
            writer.close()
            srv.close()

    run(main())


def test_contexts_of_the_wrong_mode_are_refused() -> None:
    async def main() -> None:
        with pytest.raises(nettls.TLSModeError, match="CLIENT context") as refused:
            await nettls.aio.open_connection(LOOPBACK, 1, context=server_context("stdlib"))
        assert isinstance(refused.value, ValueError)  # what this layer raised before TLSModeError
        with pytest.raises(nettls.TLSModeError, match="SERVER context"):
            await nettls.aio.start_server(echo, LOOPBACK, 0, context=client_context("stdlib"))
        with pytest.raises(TypeError, match="TLSContext"):
            await nettls.aio.open_connection(LOOPBACK, 1, context=ssl.create_default_context())

    run(main())


# -- the server object ---------------------------------------------------------------------------


def test_server_close_clients_wait_closed_and_serve_forever() -> None:
    async def main() -> None:
        srv = await nettls.aio.start_server(echo, LOOPBACK, 0, context=server_context("stdlib"), start_serving=False)
        assert not srv.is_serving() and srv.sockets
        forever = asyncio.ensure_future(srv.serve_forever())
        await asyncio.sleep(0)
        assert srv.is_serving()
        reader, writer = await nettls.aio.open_connection(LOOPBACK, srv.port, context=client_context("stdlib"))
        assert await reader.readline() == b"hi\n"
        srv.close()
        assert srv.sockets == ()
        srv.close_clients()  # close_notify to the client: its reader ends cleanly
        assert await reader.read() == b""
        writer.close()
        await asyncio.wait_for(srv.wait_closed(), WAIT)
        with pytest.raises(asyncio.CancelledError):
            await forever

    run(main())


def test_buffered_protocols_get_the_data() -> None:
    class Buffered(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buf = bytearray(1000)  # smaller than a record: filled in pieces
            self.data = bytearray()
            self.done = asyncio.get_running_loop().create_future()

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buf

        def buffer_updated(self, nbytes: int) -> None:
            self.data += self.buf[:nbytes]

        def eof_received(self) -> None:
            self.done.set_result(bytes(self.data))

    payload = bytes(range(256)) * 100

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(payload)
        writer.close()

    async def main() -> None:
        srv = await nettls.aio.start_server(handler, LOOPBACK, 0, context=server_context("stdlib"))
        async with srv:
            transport, proto = await nettls.aio.create_connection(Buffered, LOOPBACK, srv.port, context=client_context("stdlib"))
            assert isinstance(proto, Buffered)
            assert await proto.done == payload
            transport.close()
            srv.close()

    run(main())


def test_the_examples_in_docs_async_md_run() -> None:
    """docs/async.md shows each example program whole, and each runs and
    prints what it says (the httpx one: test_httpx)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    examples, doc = root / "examples", (root / "docs" / "async.md").read_text()
    for name in ("async_echo.py", "async_anyio.py", "async_httpx.py"):
        assert (examples / name).read_text().rstrip() in doc, f"docs/async.md does not show {name} as it is"
    for name, args, expected in [
        ("async_echo.py", [], "echoed: b'hello over nettls.aio'"),
        ("async_anyio.py", ["asyncio"], "echoed over anyio on asyncio: b'hello'"),
        ("async_anyio.py", ["trio"], "echoed over anyio on trio: b'hello'"),
    ]:
        proc = subprocess.run([sys.executable, str(examples / name), *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert expected in proc.stdout, proc.stdout
