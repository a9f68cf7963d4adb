"""The ``aio-COMPONENT`` contender of the serve benchmark: the same echo
server as ``_asyncio_echo`` (``asyncio`` streams, one coroutine per
connection), on ``nettls.aio.start_server`` with a TLS component of nettls
instead of asyncio's own ``ssl``.

``python -m bench._aio_echo CERT KEY COMPONENT``: listens on 127.0.0.1 (a
free port), prints ``listening on 127.0.0.1:PORT`` and echoes until SIGTERM.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import sys

import nettls
import nettls.aio
from nettls.components.kit import certificate_pem, parse_certificates

from ._asyncio_echo import _echo


def _context(certfile: str, keyfile: str, component: str) -> object:
    """A SERVER context of ``component``: the leaf and chain of CERT, the key of KEY."""
    with open(certfile) as f:
        certs = [certificate_pem(cert) for cert in parse_certificates(f.read(), certfile)]
    with open(keyfile) as f:
        key = f.read()
    Context = nettls.resolve("net.TLSContext", component=component)
    ctx = Context(Context.SERVER)
    ctx.setCertificate(certs[0], key)
    if certs[1:]:
        ctx.setCertificateChain(certs[1:])
    return ctx


async def _main(certfile: str, keyfile: str, component: str) -> None:
    server = await nettls.aio.start_server(_echo, "127.0.0.1", 0, context=_context(certfile, keyfile, component))
    print(f"listening on 127.0.0.1:{server.port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_main(sys.argv[1], sys.argv[2], sys.argv[3]))
