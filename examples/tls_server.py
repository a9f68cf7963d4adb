"""The Dana net documentation's blocking TLS server, on nettls.

For each client: upgrade the connection to TLS, receive two 8-byte chunks,
print them, send "ABCD" back, close the session, disconnect. With no
``--cert``/``--key`` it makes a throwaway certificate in memory.

    python examples/tls_server.py 3000 --cert server.crt --key server.key [--chain intermediate.crt]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import nettls


class TLSServer:
    requires = ["net.TCPServerSocket", "net.TCPSocket", "net.TLS", "net.TLSContext"]
    # Set by nettls.load() from the registry before __init__ runs (Dana's requires).
    TCPServerSocket: Any
    TCPSocket: Any
    TLS: Any
    TLSContext: Any

    def load_context(self, certificate_path: str | None, key_path: str | None, chain_path: str | None) -> None:
        if certificate_path and key_path:
            with open(certificate_path, "rb") as f:
                certificate: bytes | str = f.read()
            with open(key_path, "rb") as f:
                private_key: bytes | str = f.read()
            chain: list[bytes] | list[str] = []
            if chain_path:
                with open(chain_path, "rb") as f:
                    chain = [f.read()]
        else:
            from nettls.pki import throwaway_pki

            pki = throwaway_pki()
            certificate, private_key, chain = pki.leaf.cert_pem, pki.leaf.key_pem, pki.chain_pems
        self.tls_context = self.TLSContext(self.TLSContext.SERVER)
        # self.tls_context.setCipherSet(self.TLSContext.CIPHER_ALL)
        self.tls_context.setCertificate(certificate, private_key)  # raises nettls.CertificateError
        if chain:
            self.tls_context.setCertificateChain(chain)

    def process_stream(self, client, ssl) -> None:
        if ssl.accept(client) == ssl.OK:
            buf = ssl.recv(8)
            print(f"buf: '{buf.decode(errors='replace')}'", flush=True)
            buf = ssl.recv(8)
            print(f"buf: '{buf.decode(errors='replace')}'", flush=True)
            ssl.send(b"ABCD")
            ssl.close()
            client.disconnect()

    def main(self, argv: list[str]) -> int:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("port", type=int)
        parser.add_argument("--cert", help="PEM certificate file")
        parser.add_argument("--key", help="PEM private key file")
        parser.add_argument("--chain", help="PEM file of the intermediate certificate to send")
        parser.add_argument("--bind", default=self.TCPServerSocket.ANY_ADDRESS, help="address to listen on (default: any)")
        parser.add_argument("--count", type=int, default=None, help="exit after serving this many clients")
        args = parser.parse_args(argv)

        try:
            self.load_context(args.cert, args.key, args.chain)
        except (OSError, nettls.CertificateError) as exc:
            print(f"certificate or private key is invalid: {exc}", file=sys.stderr)
            return 1
        server = self.TCPServerSocket()
        try:
            server.bind(args.bind, args.port)
        except OSError as exc:
            print(f"failed to bind server socket: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"listening on {args.bind} port {args.port}", flush=True)

        served = 0
        while args.count is None or served < args.count:
            client = self.TCPSocket()
            if client.accept(server):
                ssl = self.TLS(self.tls_context)
                try:
                    self.process_stream(client, ssl)
                except nettls.TLSError as exc:  # one bad client must not stop the server
                    print(f"client failed: {exc}", flush=True)
                finally:
                    client.disconnect()
                served += 1
        server.unbind()
        return 0


if __name__ == "__main__":
    sys.exit(nettls.load(TLSServer).main(sys.argv[1:]))
