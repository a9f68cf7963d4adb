"""A hostile TLS 1.3 client that sends KeyUpdate messages back to back.

Real OpenSSL makes the records: the libssl that Python's own ``ssl`` module
is linked with, called through ``ctypes`` (``SSL_key_update`` followed by
``SSL_do_handshake`` writes one KeyUpdate; neither Python's ``ssl`` nor
pyOpenSSL's binding offers the call). Each KeyUpdate is a record of 27
bytes that carries no application data, so a server that budgets its turns
by plaintext never stops reading it. After the handshake, OpenSSL writes
into a memory buffer: the client makes ``--backlog`` KeyUpdates before it
starts and then only sends them, so that the flood costs it almost no CPU
(on a small machine a flooder making records as it goes would compete with
the server for a core, and every round trip measured beside it would say
more about the scheduler than about the server).

Run as a script, in a process of its own so that it never competes with
the measuring client for a GIL::

    python tests/_keyupdate.py PORT [--seconds S] [--backlog N] [--requested] [--data-every N]

It prints ``flooding`` once the handshake is done and the backlog made (TLS
1.3 only; ``no tls1.3`` and exit 3 otherwise), sends it, holds the connection
until S seconds have passed, the server closes it, or SIGTERM, and prints
``sent KEYUPDATES ENDING`` at the end (the KeyUpdates the kernel took).
``--requested`` asks for a reply to every KeyUpdate (``update_requested``);
the client never reads, so those replies pile up at the server unless it
stops reading. ``--data-every N`` sends one byte of application data after
every N KeyUpdates, so that a read of the server's returns plaintext now
and then.
"""

from __future__ import annotations

import argparse
import ctypes
import signal
import socket
import ssl
import sys
import time

#: SSL_CTX_ctrl command and value: SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION).
_SET_MIN_PROTO_VERSION, _TLS1_3 = 123, 0x0304
#: BIO_ctrl command of BIO_pending(): bytes waiting in a memory BIO.
_BIO_CTRL_PENDING = 10
#: How long one blocked send may wait before the deadline is looked at again.
_SEND_WAIT = 0.05


def _libssl() -> ctypes.CDLL:
    """The libssl Python's ``ssl`` uses: symbols looked up through ``_ssl``'s
    own handle reach the libraries it is linked with."""
    lib = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
    pointer = ctypes.c_void_p
    for name, args, result in (
        ("TLS_client_method", [], pointer),
        ("SSL_CTX_new", [pointer], pointer),
        ("SSL_CTX_ctrl", [pointer, ctypes.c_int, ctypes.c_long, pointer], ctypes.c_long),
        ("SSL_CTX_free", [pointer], None),
        ("SSL_new", [pointer], pointer),
        ("SSL_free", [pointer], None),
        ("SSL_set_fd", [pointer, ctypes.c_int], ctypes.c_int),
        ("SSL_set0_wbio", [pointer, pointer], None),
        ("SSL_connect", [pointer], ctypes.c_int),
        ("SSL_do_handshake", [pointer], ctypes.c_int),
        ("SSL_key_update", [pointer, ctypes.c_int], ctypes.c_int),
        ("SSL_write", [pointer, ctypes.c_char_p, ctypes.c_int], ctypes.c_int),
        ("SSL_get_version", [pointer], ctypes.c_char_p),
        ("BIO_s_mem", [], pointer),
        ("BIO_new", [pointer], pointer),
        ("BIO_ctrl", [pointer, ctypes.c_int, ctypes.c_long, pointer], ctypes.c_long),
        ("BIO_read", [pointer, ctypes.c_void_p, ctypes.c_int], ctypes.c_int),
    ):
        function = getattr(lib, name)
        function.argtypes, function.restype = args, result
    return lib


class KeyUpdateFlooder:
    """One TLS 1.3 connection whose client sends KeyUpdates as fast as it can."""

    def __init__(self, port: int, host: str = "127.0.0.1", rcvbuf: int = 4096) -> None:
        self.lib = lib = _libssl()
        self.sock = socket.socket()
        # A small receive buffer: what the server answers (with --requested)
        # and this client never reads piles up at the server soon.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        self.sock.setblocking(True)  # OpenSSL's handshake reads and writes the descriptor itself
        self.ctx = lib.SSL_CTX_new(lib.TLS_client_method())
        lib.SSL_CTX_ctrl(self.ctx, _SET_MIN_PROTO_VERSION, _TLS1_3, None)
        self.ssl = lib.SSL_new(self.ctx)
        lib.SSL_set_fd(self.ssl, self.sock.fileno())
        self.connected = lib.SSL_connect(self.ssl) == 1
        self.sock.settimeout(_SEND_WAIT)
        self.out = lib.BIO_new(lib.BIO_s_mem())
        lib.SSL_set0_wbio(self.ssl, self.out)  # the session owns it from here
        self.keyupdates = 0
        self.stopped = False  # set by SIGTERM: the loop ends at its next turn

    def _made(self) -> bytes:
        """The records OpenSSL wrote into the memory buffer since last asked."""
        size = self.lib.BIO_ctrl(self.out, _BIO_CTRL_PENDING, 0, None)
        buf = ctypes.create_string_buffer(size)
        got = self.lib.BIO_read(self.out, buf, size)
        return buf.raw[: max(got, 0)]

    def make(self, count: int, requested: bool = False, data_every: int = 0) -> bytes:
        """``count`` KeyUpdate records (and a byte of data after every
        ``data_every``), ready to send."""
        lib, ssl_ = self.lib, self.ssl
        kind = 1 if requested else 0
        for _ in range(count):
            if lib.SSL_key_update(ssl_, kind) != 1 or lib.SSL_do_handshake(ssl_) != 1:
                raise RuntimeError("OpenSSL refused to make a KeyUpdate")
            self.keyupdates += 1
            if data_every and self.keyupdates % data_every == 0:
                lib.SSL_write(ssl_, b"x", 1)
        return self._made()

    def flood(self, seconds: float, backlog: bytes) -> str:
        """Send ``backlog`` and hold the connection until ``seconds`` pass,
        SIGTERM, or the server ends it; how it ended. ``keyupdates`` is left
        at the number the server took."""
        deadline = time.monotonic() + seconds
        view = memoryview(backlog)
        sent = 0
        try:
            while not self.stopped and time.monotonic() < deadline:
                if sent < len(view):
                    try:
                        sent += self.sock.send(view[sent:])
                    except TimeoutError:
                        pass  # the server is not reading: look at the clock and the signal
                else:
                    time.sleep(_SEND_WAIT)  # sent: hold the connection, and never read
        except OSError as exc:
            return f"the server ended it ({exc.strerror or exc})"
        finally:
            self.keyupdates = self.keyupdates * sent // max(len(view), 1)
        return "stopped" if self.stopped else "time up"

    def close(self) -> None:
        self.lib.SSL_free(self.ssl)
        self.lib.SSL_CTX_free(self.ctx)
        self.sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--requested", action="store_true", help="send update_requested KeyUpdates")
    parser.add_argument("--data-every", type=int, default=0, metavar="N")
    parser.add_argument("--backlog", type=int, default=120_000, metavar="N", help="KeyUpdates to send (about 27 bytes each)")
    args = parser.parse_args()
    flooder = KeyUpdateFlooder(args.port, args.host)

    def on_term(signum: int, frame: object) -> None:
        flooder.stopped = True

    signal.signal(signal.SIGTERM, on_term)
    try:
        if not flooder.connected or flooder.lib.SSL_get_version(flooder.ssl) != b"TLSv1.3":
            print("no tls1.3", flush=True)
            return 3
        backlog = flooder.make(args.backlog, args.requested, args.data_every)
        print("flooding", flush=True)
        ending = flooder.flood(args.seconds, backlog)
        print(f"sent {flooder.keyupdates} {ending}", flush=True)
    finally:
        flooder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
