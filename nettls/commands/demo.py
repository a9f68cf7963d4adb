"""``nettls demo``: every TLS component against every other, on loopback.

Theory of operation
-------------------
With no files and no setup, the demo makes a throwaway PKI in memory (root
CA, intermediate CA, server certificate; ``nettls.pki``) and, for every
available TLS component, starts two servers on 127.0.0.1 over the TCP
component: a blocking one (a thread that accepts and serves one connection
at a time) and a non-blocking one (a thread running an ``EventLoop`` over
the TCP component's monitor: it accepts on ``recvReady`` of the
non-blocking server socket, arms send notification on ``sendWait``, and
reads until ``recv`` returns ``b""``, as the Dana example server does);
see ``_demo_servers``.

Then, one cell at a time, a client of every component connects to the
server of every component in each mode (blocking, or non-blocking on an
event loop of its own; see ``_demo_cells``) and checks, in order: the
handshake; the peer chain (leaf and intermediate, exactly as sent);
``verifyCertificate`` against the root CA (OK) and against an unrelated CA
(FAIL, so a verifier that accepts anything is caught); and the echo of a
message, framed as a 4-byte big-endian length and that many random bytes.
Each server reports its side of every connection to the cell, so a
failure names the side it happened on. Socket timeouts (``ITimeout``) and
deadlines bound every cell: a broken cell fails, it never hangs.

The table has one row per cell; the exit status is 1 if any cell failed.
"""

from __future__ import annotations

import argparse
import os
import time

from ._classes import TCPClasses, TLSClasses, tcp_classes, tls_classes, tls_component_names, unavailable_components
from ._demo_cells import BLOCKING, NON_BLOCKING, Cell, CellFailed, Material, run_client, server_context
from ._demo_servers import BlockingServer, LoopServer, Server
from ._errors import EXIT_FAILED, EXIT_OK, CheckFailed, error_text, one_line
from ._options import add_component_option, add_tcp_component_option, seconds
from ._output import format_table, write_lines

HELP = "try every TLS component against every other on loopback with a throwaway PKI (no setup, a few seconds)"

_MODES = {"blocking": (BLOCKING,), "non-blocking": (NON_BLOCKING,), "both": (BLOCKING, NON_BLOCKING)}


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes") from None
    if not 1 <= value <= 64 * 1024 * 1024:
        raise argparse.ArgumentTypeError(f"{text!r}: give from 1 byte to 64 MiB")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_component_option(
        parser,
        multiple=True,
        help="run only this TLS component, as server and client (repeat for several; default: every available one)",
    )
    add_tcp_component_option(parser)
    parser.add_argument("--mode", choices=tuple(_MODES), default="both", help="which modes to run (default: both)")
    parser.add_argument(
        "--size", metavar="BYTES", type=_size, default=65536, help="bytes each client sends and expects back (default: 65536)"
    )
    parser.add_argument(
        "--timeout", metavar="SECONDS", type=seconds, default=3.0, help="bound on each cell (default: 3)"
    )
    parser.add_argument("--key", choices=("ec", "rsa"), default="ec", help="key type of the throwaway PKI (default: ec)")


# --- the command -----------------------------------------------------------------------------------


def _material(kind: str) -> Material:
    from nettls.pki import issue, new_key, throwaway_pki

    pki = throwaway_pki(kind=kind)
    stranger = issue("nettls demo: an unrelated CA", ca=True, key=new_key(kind))
    return Material(
        leaf_pem=pki.leaf.cert_pem,
        key_pem=pki.leaf.key_pem,
        intermediate_pem=pki.intermediate.cert_pem,
        root_pem=pki.root.cert_pem,
        untrusted_root_pem=stranger.cert_pem,
        names=pki.names,
    )


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    names = list(dict.fromkeys(args.component or tls_component_names()))
    components = [tls_classes(name) for name in names]  # UsageError for an unknown one
    unavailable = unavailable_components()
    if not components:
        why = "; ".join(f"{n}: {r}" for n, r in unavailable) or "none is installed"
        raise CheckFailed(f"no TLS component is available ({why})")
    tcp_c = tcp_classes(args.tcp_component)
    modes = _MODES[args.mode]
    material = _material(args.key)
    payload = os.urandom(args.size)

    servers: dict[tuple[str, str], Server | str] = {}
    try:
        for tls_c in components:
            try:
                ctx = server_context(tls_c, material)
            except Exception as exc:
                for mode in modes:
                    servers[(tls_c.name, mode)] = f"server setup: {error_text(exc)}"
                continue
            for mode in modes:
                kind = BlockingServer if mode == BLOCKING else LoopServer
                try:
                    started_server = kind(tls_c, tcp_c, ctx, args.timeout)
                    started_server.start()
                    servers[(tls_c.name, mode)] = started_server
                except Exception as exc:
                    servers[(tls_c.name, mode)] = f"{mode} server setup: {error_text(exc)}"

        cells = []
        for server_c in components:
            for client_c in components:
                for mode in modes:
                    cells.append(_run_cell(server_c, client_c, mode, servers[(server_c.name, mode)], tcp_c, material, payload, args.timeout))
    finally:
        for server in servers.values():
            if isinstance(server, Server):
                server.stop()

    failed = [c for c in cells if not c.ok]
    elapsed = time.monotonic() - started
    out = [
        f"nettls demo: a throwaway PKI in memory (root CA > intermediate CA > server certificate for "
        f"{', '.join(material.names)}; {args.key.upper()} keys)",
        f"servers on 127.0.0.1 over TCP component {tcp_c.name}; each client checks the handshake, the peer chain, "
        f"verifyCertificate, and the echo of {args.size} random bytes",
        "",
    ]
    headers = ("server", "client", "mode", "protocol", "cipher", "handshake", "verify", "echoed", "result")
    out += format_table(headers, [c.row() for c in cells])
    if failed:
        out.append("")
        out.append("Failures:")
        out += [f"  {c.server} server, {c.client} client, {c.mode}: {one_line(c.error)}" for c in failed]
    for name, reason in unavailable:
        out.append(f"(component {name} is unavailable: {one_line(reason)})")
    out.append("")
    verdict = "all passed" if not failed else f"{len(cells) - len(failed)} passed, {len(failed)} FAILED"
    out.append(
        f"{len(cells)} cells ({len(components)} server x {len(components)} client components x {len(modes)} "
        f"mode{'s' if len(modes) != 1 else ''}): {verdict} in {elapsed:.1f} s"
    )
    write_lines(out)
    return EXIT_FAILED if failed else EXIT_OK


def _run_cell(
    server_c: TLSClasses,
    client_c: TLSClasses,
    mode: str,
    server: Server | str,
    tcp_c: TCPClasses,
    material: Material,
    payload: bytes,
    timeout: float,
) -> Cell:
    cell = Cell(server_c.name, client_c.name, mode)
    if isinstance(server, str):
        cell.error = server
        return cell
    server.drain()
    client_error = None
    try:
        run_client(cell, client_c, tcp_c, server.port, material, payload, timeout)
    except CellFailed as exc:
        client_error = f"client {exc}"
    # The server's side of this connection; a client that never connected leaves none.
    # A server still busy when the client has given up has no longer than its
    # own socket timeout left; one that is merely slower than the client gets a second more.
    server_error = server.outcome(timeout + (0.0 if client_error else 1.0)) if cell.reached else None
    if client_error and server_error:
        cell.error = f"{client_error}; {server_error}"
    else:
        cell.error = client_error or server_error
    return cell
