"""nettls.httpx: httpx's Client and AsyncClient over the rustls component.

A local HTTPS server (nettls's own, in a thread, with a throwaway
certificate) stands in for a web site; the transports verify its chain
and host name against that server's root, given as a trust store. For a
real site, leave ``trust`` out: ``verify=True`` uses the system's roots.

    python examples/async_httpx.py
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import anyio
import httpx

import nettls
import nettls.httpx
from nettls.server import Server


class HttpxOnRustls:
    requires = ["net.TLSCertStore"]
    # Set by nettls.load() from the registry before __init__ runs (Dana's requires).
    TLSCertStore: Any

    def main(self) -> int:
        server = Server("127.0.0.1", 0, http=True)  # a throwaway certificate for localhost
        server.start()
        serving = threading.Thread(target=server.serve)
        serving.start()
        assert server.endpoint is not None and server.ca_certificate is not None
        url = f"https://localhost:{server.endpoint.port}/"
        trust = self.TLSCertStore()
        trust.addCertificate(server.ca_certificate)
        try:
            transport = nettls.httpx.HTTPTransport(component="rustls", trust=trust)
            with httpx.Client(transport=transport) as client:
                response = client.get(url)
                print(response.status_code, "over rustls:", response.text.count("nettls"), "mentions of nettls")

            async def fetch() -> httpx.Response:
                transport = nettls.httpx.AsyncHTTPTransport(component="rustls", trust=trust)
                async with httpx.AsyncClient(transport=transport) as client:
                    return await client.get(url)

            print("async:", anyio.run(fetch).status_code, "over rustls")
        finally:
            server.stop()
            serving.join()
        return 0


if __name__ == "__main__":
    sys.exit(nettls.load(HttpxOnRustls).main())
