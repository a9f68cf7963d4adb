"""The Dana net documentation's blocking TLS client, on nettls.

Connect, upgrade to TLS, verify the server's chain (when given ``--cafile``;
the Dana example leaves this commented out), send two 8-byte chunks with a
pause between, receive 4 bytes, close.

    python examples/tls_client.py 3000 [--host 127.0.0.1] [--cafile ca.crt] [--pause SECONDS]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
import time

import nettls
from nettls.interfaces import IVerifyOnConnect


class TLSClient:
    requires = ["net.TCPSocket", "net.TLS", "net.TLSContext", "net.TLSCertStore"]
    # Set by nettls.load() from the registry before __init__ runs (Dana's requires).
    TCPSocket: Any
    TLS: Any
    TLSContext: Any
    TLSCertStore: Any

    def main(self, argv: list[str]) -> int:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("port", type=int)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--cafile", help="PEM file of trusted CA certificates: verify the server against it")
        parser.add_argument("--pause", type=float, default=1.0, help="seconds between the two sends (default: 1)")
        args = parser.parse_args(argv)

        cert_store = self.TLSCertStore()
        if args.cafile and not cert_store.loadLocation(args.cafile):
            print(f"no certificate in {args.cafile}", file=sys.stderr)
            return 1

        socket = self.TCPSocket()
        try:
            socket.connect(args.host, args.port)
        except ConnectionError as exc:
            print(exc.strerror or exc, file=sys.stderr)
            return 1

        context = self.TLSContext(self.TLSContext.CLIENT)
        if args.cafile and IVerifyOnConnect.providedBy(context):
            # Also verify during the handshake where the context can: a
            # component whose client checks the server's handshake signature
            # only together with its chain (rustls) needs the store now, and
            # any other gains a check before a byte is sent (SPEC 6).
            context.setVerifyOnConnect(cert_store, checkHostName=False)
        ssl = self.TLS(context)
        try:
            ssl.connect(socket)
        except nettls.TLSHandshakeError as exc:
            print(exc, file=sys.stderr)
            socket.disconnect()
            return 1

        if args.cafile:
            chain = ssl.getPeerCertChain()
            status = ssl.verifyCertificate(cert_store, ssl.getPeerCertificate(), chain[1:])
            if not status.ok:
                print(f"verification failed: {status.failedReason}", file=sys.stderr)
                ssl.close()
                socket.disconnect()
                return 1
            print("verification: OK")

        ssl.send(b"hello...")
        time.sleep(args.pause)
        ssl.send(b" person!")
        buf = ssl.recv(4)

        ssl.close()
        socket.disconnect()
        print(f"buf: '{buf.decode(errors='replace')}'")
        return 0


if __name__ == "__main__":
    sys.exit(nettls.load(TLSClient).main(sys.argv[1:]))
