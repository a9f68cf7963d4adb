"""The Dana net documentation's blocking TCP server, on nettls.

For each client: receive two 8-byte chunks, print them, send "ABCD" back,
disconnect. Its classes come from the registry (``requires``, as in Dana),
so ``NETTLS_LINKS`` chooses the components.

    python examples/tcp_server.py 3000 [--bind ADDRESS] [--count N]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import nettls


class TCPServer:
    requires = ["net.TCPServerSocket", "net.TCPSocket"]
    # Set by nettls.load() from the registry before __init__ runs (Dana's requires).
    TCPServerSocket: Any
    TCPSocket: Any

    def main(self, argv: list[str]) -> int:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("port", type=int)
        parser.add_argument("--bind", default=self.TCPServerSocket.ANY_ADDRESS, help="address to listen on (default: any)")
        parser.add_argument("--count", type=int, default=None, help="exit after serving this many clients")
        args = parser.parse_args(argv)

        server = self.TCPServerSocket()
        try:
            server.bind(args.bind, args.port)
        except OSError as exc:
            print(f"failed to bind server socket: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"listening on {args.bind} port {args.port}", flush=True)

        served = 0
        while args.count is None or served < args.count:
            socket = self.TCPSocket()
            if socket.accept(server):
                buf = socket.recv(8)
                print(f"received: {buf.decode(errors='replace')}", flush=True)
                buf = socket.recv(8)
                print(f"received: {buf.decode(errors='replace')}", flush=True)
                socket.send(b"ABCD")
                socket.disconnect()
                served += 1
        server.unbind()
        return 0


if __name__ == "__main__":
    sys.exit(nettls.load(TCPServer).main(sys.argv[1:]))
