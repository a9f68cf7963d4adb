"""The Dana net documentation's blocking TCP client, on nettls.

Connect, send two 8-byte chunks with a pause between, receive 4 bytes.

    python examples/tcp_client.py 3000 [--host 127.0.0.1] [--pause SECONDS]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
import time

import nettls


class TCPClient:
    requires = ["net.TCPSocket"]
    # Set by nettls.load() from the registry before __init__ runs (Dana's requires).
    TCPSocket: Any

    def main(self, argv: list[str]) -> int:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("port", type=int)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--pause", type=float, default=1.0, help="seconds between the two sends (default: 1)")
        args = parser.parse_args(argv)

        socket = self.TCPSocket()
        try:
            socket.connect(args.host, args.port)
        except ConnectionError as exc:
            print(exc.strerror or exc, file=sys.stderr)
            return 1
        socket.send(b"hello...")
        time.sleep(args.pause)
        socket.send(b" person!")
        buf = socket.recv(4)
        socket.disconnect()
        print(f"buf: {buf.decode(errors='replace')}")
        return 0


if __name__ == "__main__":
    sys.exit(nettls.load(TCPClient).main(sys.argv[1:]))
