"""nettls.aio on asyncio: an echo server (start_server) and two clients,
one on streams (open_connection), one on a protocol (create_connection).

A throwaway certificate authority is made in memory; the clients verify
the server's chain and host name against it. Any TLS component works:
choose one with NETTLS_LINKS="net.TLS=rustls,net.TLSContext=rustls,net.TLSCertStore=rustls".

    python examples/async_echo.py
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import nettls
import nettls.aio
from nettls.pki import throwaway_pki


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One connection of the server: send back what arrives, until the client's end."""
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


class Greeter(asyncio.Protocol):
    """A protocol client: sends one line, waits for it to come back."""

    def __init__(self) -> None:
        self.done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        print("protocol client:", transport.get_extra_info("version"), transport.get_extra_info("cipher")[0])
        transport.write(b"hello from a protocol\n")

    def data_received(self, data: bytes) -> None:
        if not self.done.done():
            self.done.set_result(data)


class AsyncEcho:
    requires = ["net.TLSContext", "net.TLSCertStore"]
    # Set by nettls.load() from the registry before __init__ runs (Dana's requires).
    TLSContext: Any
    TLSCertStore: Any

    async def main(self) -> int:
        pki = throwaway_pki()
        server_context = self.TLSContext(self.TLSContext.SERVER)
        server_context.setCertificate(pki.leaf.cert_pem, pki.leaf.key_pem)
        server_context.setCertificateChain(pki.chain_pems)

        trust = self.TLSCertStore()
        trust.addCertificate(pki.root.cert_pem)
        client_context = self.TLSContext(self.TLSContext.CLIENT)
        client_context.setVerifyOnConnect(trust)  # chain and host name, in the handshake

        server = await nettls.aio.start_server(echo, "127.0.0.1", 0, context=server_context)
        async with server:
            reader, writer = await nettls.aio.open_connection("localhost", server.port, context=client_context)
            writer.write(b"hello over nettls.aio")
            await writer.drain()
            print("echoed:", await reader.readexactly(21))
            print("server certificate:", writer.get_extra_info("peercert").splitlines()[0])
            writer.close()
            await writer.wait_closed()

            transport, protocol = await nettls.aio.create_connection(
                Greeter, "localhost", server.port, context=client_context
            )
            print("protocol got:", await protocol.done)
            transport.close()
            server.close()
        return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(nettls.load(AsyncEcho).main()))
