"""The Dana net documentation's non-blocking TLS server, on nettls.

One thread drives everything from a ``TCPMonitor``: a ``recvReady`` on the
(non-blocking) server socket means clients wait to be accepted; each client
socket is made non-blocking and watched, its TLS ``accept`` is called again
on every event until the handshake is done, ``sendWait`` arms a send-ready
notification, and a readable session is read until ``recv`` returns
``b""``. A message ending in "!" is answered with "ABCD".

    python examples/tls_server_nonblocking.py 3000 --cert server.crt --key server.key [--chain intermediate.crt]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import nettls


class TLSInfo:
    """Per-client state (the Dana example's ``data TLSInfo``)."""

    S_PRE_ACCEPT = 1
    S_ACCEPT_WAIT_READ = 2
    S_ACCEPT_WAIT_WRITE = 3
    S_CONNECTED = 4
    S_FAIL = 5
    S_CLOSED = 6

    def __init__(self, state: int, ssl) -> None:
        self.state = state
        self.ssl = ssl
        self.msg = b""


class TLSServerNB:
    requires = ["net.TCPServerSocket", "net.TCPSocket", "net.TCPMonitor", "net.TLS", "net.TLSContext"]
    # Set by nettls.load() from the registry before __init__ runs (Dana's requires).
    TCPServerSocket: Any
    TCPSocket: Any
    TCPMonitor: Any
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
        self.tls_context.setCertificate(certificate, private_key)
        if chain:
            self.tls_context.setCertificateChain(chain)

    def tls_net_events(self, ed) -> None:
        """``sendWait`` of a session: ask the monitor to say when its socket is writable."""
        self.monitor.armSendNotify(ed.source.getSocket())

    def accept_clients(self) -> None:
        while True:
            client = self.TCPSocket()
            if not client.accept(self.server):  # non-blocking: False when none waits
                return
            ssl = self.TLS(self.tls_context)
            ti = TLSInfo(TLSInfo.S_PRE_ACCEPT, ssl)
            client.setNonBlocking(ti)
            ssl.sendWait.subscribe(self.tls_net_events)
            self.monitor.addSocket(client, ti)

    def continue_accept(self, socket, ti: TLSInfo) -> None:
        status = ti.ssl.accept(socket)
        if status == ti.ssl.WAIT_READ:
            ti.state = TLSInfo.S_ACCEPT_WAIT_READ
        elif status == ti.ssl.WAIT_WRITE:
            ti.state = TLSInfo.S_ACCEPT_WAIT_WRITE
            self.monitor.armSendNotify(socket)
        elif status == ti.ssl.OK:
            ti.state = TLSInfo.S_CONNECTED
        else:
            ti.state = TLSInfo.S_FAIL
            print(f"(accept failed: {ti.ssl.getFailureReason() if hasattr(ti.ssl, 'getFailureReason') else 'FAIL'})", flush=True)
            self.close(socket, ti)

    def read(self, socket, ti: TLSInfo) -> None:
        before = len(ti.msg)
        while True:
            buf = ti.ssl.recv(10)
            ti.msg += buf
            if buf and ti.msg.endswith(b"!"):
                ti.ssl.send(b"ABCD")
            if not buf:
                status = ti.ssl.getStatus()
                if not socket.connected() or status == ti.ssl.FAIL:
                    self.close(socket, ti)
                elif status == ti.ssl.WAIT_WRITE:
                    self.monitor.armSendNotify(socket)
                break
        if len(ti.msg) > before:
            print(f"msg: {ti.msg.decode(errors='replace')}", flush=True)

    def close(self, socket, ti: TLSInfo) -> None:
        if ti.state == TLSInfo.S_CLOSED:
            return
        self.monitor.remSocket(socket)
        ti.ssl.close()
        socket.disconnect()
        ti.state = TLSInfo.S_CLOSED
        self.closed += 1
        print("(socket closed)", flush=True)

    def main(self, argv: list[str]) -> int:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("port", type=int)
        parser.add_argument("--cert", help="PEM certificate file")
        parser.add_argument("--key", help="PEM private key file")
        parser.add_argument("--chain", help="PEM file of the intermediate certificate to send")
        parser.add_argument("--bind", default=self.TCPServerSocket.ANY_ADDRESS, help="address to listen on (default: any)")
        parser.add_argument("--count", type=int, default=None, help="exit after this many clients have gone")
        args = parser.parse_args(argv)

        try:
            self.load_context(args.cert, args.key, args.chain)
        except (OSError, nettls.CertificateError) as exc:
            print(f"certificate or private key is invalid: {exc}", file=sys.stderr)
            return 1
        self.server = self.TCPServerSocket()
        self.server.setNonBlocking()  # an extension (IServerSocketOptions): accept() returns False when none waits
        try:
            self.server.bind(args.bind, args.port)
        except OSError as exc:
            print(f"failed to bind server socket: {exc.strerror or exc}", file=sys.stderr)
            return 1
        self.monitor = self.TCPMonitor()
        self.monitor.addSocket(self.server)
        self.closed = 0
        print(f"listening on {args.bind} port {args.port}", flush=True)

        while args.count is None or self.closed < args.count:
            for event in self.monitor.wait():
                if event.socket is self.server:
                    self.accept_clients()
                    continue
                ti = event.userData
                if ti.state in (TLSInfo.S_PRE_ACCEPT, TLSInfo.S_ACCEPT_WAIT_READ, TLSInfo.S_ACCEPT_WAIT_WRITE):
                    if event.recvReady or event.sendReady:
                        self.continue_accept(event.socket, ti)
                if ti.state == TLSInfo.S_CONNECTED:
                    if event.sendReady:
                        ti.ssl.sendBuffer()
                    if event.recvReady:
                        self.read(event.socket, ti)
                if event.close:
                    self.close(event.socket, ti)
        self.server.unbind()
        return 0


if __name__ == "__main__":
    sys.exit(nettls.load(TLSServerNB).main(sys.argv[1:]))
