"""``nettls serve``: a real TLS server, echo by default or a small HTTPS page.

A thin front over ``nettls.server.Server`` (one thread, non-blocking,
driven by a ``TCPMonitor``; see its theory of operation). This module reads
the certificate files, raises the open-file soft limit to the hard limit
(SPEC section 12), makes a throwaway certificate when none is given and
writes its root CA where a client can find it, prints the
``listening on HOST:PORT`` line, and turns Ctrl-C and SIGTERM into a clean
shutdown (close_notify to every client, at most 1 s of waiting, the
throwaway CA's folder removed). SIGHUP reloads the certificate and key from
their files without dropping a connection, as nginx and haproxy do: new
connections get the new certificate; when the files cannot be used, the
server logs why and keeps the one it has.

Certificate and key files are read up to ``MAX_PEM_FILE`` (1 MiB; a key or
a chain is a few KiB), and the key is found by a line-by-line scan, linear
in the file's size whatever it holds. Whatever a client sends, the server
holds less than 256 KiB for it (``nettls.server._lifecycle``) and gives it a
bounded turn (``nettls.server``), and what it logs of the client's text is
escaped (``nettls.escape``).

Exit status: 0 after a clean shutdown; 2 for errors a user can make (a
missing or unreadable file, a key that does not match, an address that
cannot be bound), as one line on stderr.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shutil
import signal
import tempfile
from typing import Any

from nettls.interfaces import CertificateError

from . import _identity
from ._certs import describe_certificate
from ._errors import EXIT_OK, UsageError, error_text, one_line
from ._options import add_component_option, add_tcp_component_option, seconds

HELP = "run a TLS server: echo (default) or, with --http, a small HTTPS page; thousands of clients in one thread"

log = logging.getLogger("nettls.serve")

#: Largest --cert, --key or --chain file read: a key or a chain is a few KiB.
MAX_PEM_FILE = 1 << 20
def _seconds_or_zero(text: str) -> float:
    if text.strip() in ("0", "0.0"):
        return 0.0
    return seconds(text)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is from 0 to 65535 (0 picks a free one)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; ANY for every one)"
    )
    parser.add_argument(
        "--port", type=_port, default=8443, help="port to listen on (default: 8443; 0 picks a free one and prints it)"
    )
    _identity.add_identity_arguments(
        parser,
        "the server's PEM certificate; more certificates after it are sent as the chain, and a "
        "private key in the same file is used when --key is not given (default: a throwaway certificate "
        "whose CA is written to a temporary file). SIGHUP reads --cert, --key and --chain again for new "
        "connections; if they cannot be used, the server logs why and keeps the current ones. Files are "
        "read up to 1 MiB",
    )
    parser.add_argument(
        "--http",
        action="store_true",
        help="answer one HTTP request per connection with a small 200 OK page (for curl, a browser or a TLS "
        "test tool); a request head longer than 16 KiB (empty lines before it included) gets a 400",
    )
    parser.add_argument(
        "--handshake-timeout",
        metavar="SECONDS",
        type=seconds,
        default=10.0,
        help="a client must complete the handshake within this time of connecting, however slowly it keeps "
        "sending; then it is dropped, so stalled or trickling clients cannot pile up (default: 10)",
    )
    parser.add_argument(
        "--idle-timeout",
        metavar="SECONDS",
        type=_seconds_or_zero,
        default=60.0,
        help="close a connection after this long without progress; in --http mode the request head must "
        "arrive within it (default: 60; 0: never)",
    )
    add_component_option(parser)
    add_tcp_component_option(parser)


def raise_file_limit() -> tuple[int, int] | None:
    """Raise the open-file soft limit to the hard limit; the new ``(soft, hard)``."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if target == resource.RLIM_INFINITY:
        target = 1 << 20  # Linux refuses an infinite soft limit; macOS caps at OPEN_MAX
    if soft != resource.RLIM_INFINITY and soft < target:
        for value in (target, 1 << 16, 10240):
            if value <= soft:
                break
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (value, hard))
                soft = value
                break
            except (ValueError, OSError):
                continue
    return soft, hard


def _certificate_inputs(args: argparse.Namespace) -> tuple[str | None, str | None, list[str]]:
    """``(certificate, key, chain)`` PEM from --cert, --key and --chain (None, None, [] without)."""
    if args.cert is None:
        if args.key is not None or args.chain is not None:
            given = "--key" if args.key is not None else "--chain"
            raise UsageError(f"{given} needs --cert (without --cert a throwaway certificate is made)")
        return None, None, []
    return _read_certificate(args)


def _read_certificate(args: argparse.Namespace) -> tuple[str, str, list[str]]:
    """``(certificate, key, chain)`` PEM from the files of --cert, --key, --chain
    and --key-password-file; again on each SIGHUP. UsageError for a file that cannot be used."""
    return _identity.read_identity(args, MAX_PEM_FILE)


def _make_server(args: argparse.Namespace) -> Any:
    from nettls.server import Server

    certificate, key, chain = _certificate_inputs(args)
    try:
        server = Server(
            args.host,
            args.port,
            certificate=certificate,
            private_key=key,
            chain=chain,
            component=args.component,
            tcp_component=getattr(args, "tcp_component", None),
            http=args.http,
            handshake_timeout=args.handshake_timeout,
            idle_timeout=args.idle_timeout or None,
            reloader=None if certificate is None else functools.partial(_read_certificate, args),
        )
    except CertificateError as exc:
        if certificate is None:
            raise
        where = f"--cert {args.cert}" + (f" / --key {args.key}" if args.key else "")
        raise UsageError(f"{where}: {one_line(exc)}") from None
    except ValueError as exc:
        raise UsageError(one_line(exc)) from None
    if certificate is not None:  # usable: now say what clients will think of it
        _warn_about_certificate(certificate, args.host)
    return server


def _warn_about_certificate(pem: str, host: str) -> None:
    """Log at WARNING what a client will refuse: a certificate expired or not
    yet valid, or not valid for the host the server listens on (when that
    is a name or a specific address). The server starts all the same."""
    import datetime

    from nettls.hostname import check_host_name

    info = describe_certificate(pem)
    now = datetime.datetime.now(datetime.timezone.utc)
    if now > info.not_after:
        log.warning("the certificate expired on %s: clients will refuse it", info.not_after.strftime("%Y-%m-%d %H:%M UTC"))
    elif now < info.not_before:
        log.warning("the certificate is not valid before %s: clients will refuse it", info.not_before.strftime("%Y-%m-%d %H:%M UTC"))
    if host.upper().startswith("ANY") or host in ("0.0.0.0", "::"):
        return
    try:
        problem = check_host_name(pem, host)
    except ValueError:  # a host nettls cannot name-check (an interface name, ...): nothing to say
        return
    if problem is not None:
        log.warning("the certificate is not valid for %s, where the server listens: %s", host, problem)


def _write_ca(pem: str) -> str:
    """Write the throwaway root CA to a new private temporary directory; its path."""
    directory = tempfile.mkdtemp(prefix="nettls-serve-")
    path = os.path.join(directory, "ca.pem")
    with open(path, "w", encoding="ascii") as f:
        f.write(pem)
    return path


def run(args: argparse.Namespace) -> int:
    # Logging is set up by nettls.cli from the global --log-level; one line per connection at "info".
    limits = raise_file_limit()
    server = _make_server(args)
    try:
        endpoint = server.start()
    except OSError as exc:
        reason = error_text(exc)
        if args.host not in reason:
            reason = f"cannot listen on {args.host} port {args.port}: {reason}"
        raise UsageError(reason) from None
    from nettls.server import format_endpoint

    ca_path = None
    try:
        if server.ca_certificate is not None:
            ca_path = _write_ca(server.ca_certificate)
            print(f"no --cert given: serving a throwaway certificate for {', '.join(server.certificate_names)}")
            print(f"its CA certificate (trust it to verify this server): {ca_path}")
        mode = "HTTP" if args.http else "echo"
        print(f"{mode} server, TLS component {server.component}; Ctrl-C stops it")
        print(f"listening on {format_endpoint(endpoint)}", flush=True)
        if limits is not None:
            log.debug("open-file limit: soft %s, hard %s", *limits)
        _serve_until_signalled(server)
    finally:
        if ca_path is not None:
            shutil.rmtree(os.path.dirname(ca_path), ignore_errors=True)
    log.info("stopped after %d connection(s)", server.accepted)
    return EXIT_OK


def _serve_until_signalled(server: Any) -> None:
    """``server.serve()`` with Ctrl-C and SIGTERM as a clean shutdown (a second
    one cuts the grace period short), and SIGHUP as a certificate reload."""

    def on_signal(signum: int, frame: Any) -> None:
        server.stop(now=server_stopping[0])
        server_stopping[0] = True

    def on_hangup(signum: int, frame: Any) -> None:
        server.request_reload()

    server_stopping = [False]
    previous = {}
    for name, action in (("SIGINT", on_signal), ("SIGTERM", on_signal), ("SIGHUP", on_hangup)):
        signum = getattr(signal, name, None)
        if signum is None:  # SIGHUP: not on Windows
            continue
        try:
            previous[signum] = signal.signal(signum, action)
        except ValueError:  # not the main thread: the caller stops the server itself
            pass
    try:
        server.serve()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
