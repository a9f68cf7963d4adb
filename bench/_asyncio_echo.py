"""The asyncio contender of the serve benchmark: a TLS echo server on
``asyncio.start_server(ssl=...)``, as a Python programmer would write one.

``python -m bench._asyncio_echo CERT KEY``: listens on 127.0.0.1 (a free
port), prints ``listening on 127.0.0.1:PORT`` and echoes until SIGTERM.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import ssl
import sys


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        writer.close()


async def _main(certfile: str, keyfile: str) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    server = await asyncio.start_server(_echo, "127.0.0.1", 0, ssl=ctx, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_main(sys.argv[1], sys.argv[2]))
