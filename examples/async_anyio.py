"""nettls.aio on anyio: a TLSListener echo server and a connect_tls client,
on the asyncio backend or on trio.

    python examples/async_anyio.py [asyncio|trio]
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
from anyio.streams.tls import TLSAttribute

import nettls
import nettls.aio
from nettls.pki import throwaway_pki


async def echo(stream: nettls.aio.TLSStream) -> None:
    """One connection of the listener: send back what arrives, until the client's end."""
    async with stream:
        try:
            while True:
                await stream.send(await stream.receive())
        except anyio.EndOfStream:
            pass


class AnyioEcho:
    requires = ["net.TLSContext", "net.TLSCertStore"]
    # Set by nettls.load() from the registry before __init__ runs (Dana's requires).
    TLSContext: Any
    TLSCertStore: Any

    async def main(self, backend: str) -> int:
        pki = throwaway_pki()
        server_context = self.TLSContext(self.TLSContext.SERVER)
        server_context.setCertificate(pki.leaf.cert_pem, pki.leaf.key_pem)
        server_context.setCertificateChain(pki.chain_pems)
        trust = self.TLSCertStore()
        trust.addCertificate(pki.root.cert_pem)
        client_context = self.TLSContext(self.TLSContext.CLIENT)
        client_context.setVerifyOnConnect(trust)

        listener = nettls.aio.TLSListener("127.0.0.1", 0, context=server_context)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(listener.serve, echo)
            async with await nettls.aio.connect_tls("localhost", listener.port, context=client_context) as stream:
                await stream.send(b"hello")
                print(f"echoed over anyio on {backend}:", await stream.receive())
                print("protocol:", stream.extra(TLSAttribute.tls_version))
            tasks.cancel_scope.cancel()
        await listener.aclose()
        return 0


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    sys.exit(anyio.run(nettls.load(AnyioEcho).main, backend, backend=backend))
