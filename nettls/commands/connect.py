"""``nettls connect HOST:PORT``: a TLS client for people, like ``openssl s_client``.

Connects over the TCP component, completes the handshake with the TLS
component, and prints the peer's chain (subject, issuer, validity, key
type), the protocol, the cipher suite and the verification result: the
chain through ``verifyCertificate`` against ``--cafile``/``--capath``, and
the host name against the leaf's subject alternative names
(``nettls.hostname``; "not checked" with no CA given). Then it sends
``--send TEXT`` (or standard input when it is not a terminal), prints what
arrives until the peer closes or ``--timeout`` seconds pass without data,
and sends close_notify.

Extensions, where the component provides them: the server name
(``--hostname``, default HOST) is sent as SNI (``IServerName``); ``--alpn``
offers application protocols (``IProtocolNegotiation``); ``--verify``
fills the store with the system's roots when no CA is given
(``ISystemTrust``) and verifies chain and host name during the handshake
(``IVerifyOnConnect``), so a server that fails gets an alert and nothing
is sent. Without them it falls back to checking after the handshake.

Exit status (also in ``--help``): 0 success, a truncated stream included
(reported); 1 the connection, the handshake, the verification or the
host-name check failed (with ``--verify`` a failed check sends nothing), or
the peer sent a fatal alert at any time; 2 bad usage or an unreadable file.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any, Callable

from nettls.escape import escape_control

from . import _identity
from ._certs import build_store, certificate_lines, check_host_name, describe_certificate
from ._classes import TCPClasses, TLSClasses, client_verifies_chain, tcp_classes, tls_classes
from ._errors import EXIT_OK, CheckFailed, UsageError, error_text, one_line
from ._options import add_component_option, add_tcp_component_option, is_address, parse_endpoint, seconds
from ._sessions import UNKNOWN, SessionWaiter, available, failure_reason, session_info

HELP = "connect to a TLS server (like openssl s_client): peer chain, protocol, cipher, verification, data"
EPILOG = (
    "Exit status: 0 when the exchange ended with the peer's close_notify, with --timeout seconds of "
    "silence, or with a TCP close without close_notify (a truncation: reported on the last line, as "
    "servers often end so); 1 when the connection or the handshake failed, a check failed, or the peer "
    "sent a fatal alert at any time (a TLS 1.3 server refusing the client after the handshake included), "
    "also with -q; 2 for bad usage or an unreadable file."
)

#: Largest --cert, --key or --chain file read.
_IDENTITY_FILE_LIMIT = 1 << 20
#: How long close() may take to write close_notify in non-blocking mode.
_CLOSE_WAIT = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("endpoint", metavar="HOST:PORT", help="where to connect ([ADDRESS]:PORT for IPv6)")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--cafile", metavar="FILE", help="PEM file of trusted CA certificates to verify the peer against")
    trust.add_argument("--capath", metavar="DIR", help="directory of trusted PEM CA certificates")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="if the chain or the host name does not verify, send nothing and exit 1 "
        "(with no --cafile/--capath: the system's trust store)",
    )
    parser.add_argument(
        "--hostname",
        metavar="NAME",
        help="the server's name: sent as SNI (not for an IP address) and checked against the certificate (default: HOST)",
    )
    parser.add_argument(
        "--alpn",
        metavar="PROTOCOLS",
        help="application protocols to offer with ALPN, comma separated (such as h2,http/1.1)",
    )
    parser.add_argument(
        "--send",
        metavar="TEXT",
        help="text to send, with the escapes \\r \\n \\t \\0 \\\\ and \\xNN (default: standard input, when it "
        "is not a terminal)",
    )
    parser.add_argument("--crlf", action="store_true", help="send each line feed as CR LF (as openssl s_client -crlf)")
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=seconds,
        default=2.0,
        help="stop reading after this long without data (default: 2)",
    )
    parser.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=seconds,
        default=10.0,
        help="bound on the TCP connect and on the TLS handshake (default: 10)",
    )
    _identity.add_identity_arguments(parser, "a PEM client certificate to present when the server asks (mutual TLS)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only what arrives (and errors)")
    add_component_option(parser)
    add_tcp_component_option(parser)


#: The escapes --send takes, and the bytes they stand for.
_ESCAPES = {b"\\": b"\\", b"r": b"\r", b"n": b"\n", b"t": b"\t", b"0": b"\0"}
_ESCAPE = re.compile(rb"\\(\\|r|n|t|0|x[0-9a-fA-F]{2})")


def unescape(text: str) -> bytes:
    """``text`` as UTF-8 with ``\\r``, ``\\n``, ``\\t``, ``\\0``, ``\\\\`` and
    ``\\xNN`` turned into the bytes they name (any other backslash stays)."""

    def byte(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        return bytes([int(code[1:], 16)]) if code[:1] == b"x" else _ESCAPES[code]

    return _ESCAPE.sub(byte, text.encode("utf-8"))


def _payload(args: argparse.Namespace) -> bytes:
    if args.send is not None:
        data = unescape(str(args.send))
    else:
        data = _stdin()
    if args.crlf:
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data


def _stdin() -> bytes:
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return b""
    try:
        if stdin.isatty():
            return b""
        return stdin.buffer.read()
    except (OSError, ValueError):
        return b""


class _Output:
    """Report lines on stdout (unless quiet), received data on stdout as bytes.

    Every report line is escaped (``nettls.escape``): it may quote the peer
    (certificate names, alert texts, the ALPN protocol it chose). What
    arrives as application data is printed raw, as ``openssl s_client`` does.
    """

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._last = b"\n"

    def line(self, text: str = "") -> None:
        if not self.quiet:
            if self._last != b"\n":
                self.data(b"\n")
            sys.stdout.write(escape_control(text) + "\n")
            sys.stdout.flush()

    def data(self, chunk: bytes) -> None:
        if chunk:
            sys.stdout.flush()
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            self._last = chunk[-1:]


def _alpn(text: str | None) -> list[str]:
    if text is None:
        return []
    protocols = [p.strip() for p in text.split(",") if p.strip()]
    if not protocols:
        raise UsageError(f"--alpn {text!r}: name at least one protocol, such as h2,http/1.1")
    return protocols


def _client_context(tls_c: TLSClasses, args: argparse.Namespace, built: tuple[Any, str] | None) -> tuple[Any, bool]:
    """The CLIENT context, and whether it verifies during the handshake."""
    from nettls.interfaces import IProtocolNegotiation, IServerName, IVerifyOnConnect

    ctx = tls_c.TLSContext(tls_c.TLSContext.CLIENT)
    protocols = _alpn(args.alpn)
    if protocols:
        if not IProtocolNegotiation.providedBy(ctx):
            raise UsageError(f"--alpn: component {tls_c.name} does not provide ALPN (IProtocolNegotiation)")
        try:
            ctx.setApplicationProtocols(protocols)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--alpn: {one_line(exc)}") from None
    if args.cert is not None:
        cert, key, chain = _identity.read_identity(args, _IDENTITY_FILE_LIMIT)
        ctx.setCertificate(cert, key)
        if chain:
            ctx.setCertificateChain(chain)
    elif args.key is not None or args.chain is not None or args.key_password_file is not None:
        raise UsageError("--key, --chain and --key-password-file need --cert")
    one_step = bool(
        args.verify and built is not None and IVerifyOnConnect.providedBy(ctx) and IServerName.implementedBy(tls_c.TLS)
    )
    if one_step:
        assert built is not None
        ctx.setVerifyOnConnect(built[0], checkHostName=True)
    elif built is not None and client_verifies_chain(tls_c) and IVerifyOnConnect.providedBy(ctx):
        # This component's client checks the server's signature only with
        # the chain (SPEC 6): give it the CA, the host name stays ours to check.
        ctx.setVerifyOnConnect(built[0], checkHostName=False)
    return ctx, one_step


def _server_name(session: Any, name: str) -> str:
    """Give the session its server name (SNI); a line saying what was sent."""
    from nettls.interfaces import IServerName

    if not IServerName.providedBy(session):
        return "Server name: not sent (the component has no SNI support)"
    try:
        session.setServerName(name)
    except ValueError as exc:
        raise UsageError(f"--hostname {name!r}: {one_line(exc)}") from None
    sent = session.getServerName()
    if is_address(name):
        return f"Server name: {sent} (an address: no SNI sent)"
    return f"Server name (SNI): {sent}"


def run(args: argparse.Namespace) -> int:
    from nettls.interfaces import ITimeout, TLSError, TLSTimeoutError

    tls_c = tls_classes(args.component)
    tcp_c = tcp_classes(args.tcp_component)
    host, port = parse_endpoint(args.endpoint)
    built = build_store(tls_c.TLSCertStore, args.cafile, args.capath, system=args.verify)
    ctx, one_step = _client_context(tls_c, args, built)
    payload = _payload(args)
    out = _Output(args.quiet)
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    name = args.hostname or host

    sock = tcp_c.TCPSocket()
    if ITimeout.providedBy(sock):
        sock.setTimeout(args.connect_timeout)
    try:
        sock.connect(host, port)
    except (OSError, ValueError) as exc:  # ConnectionError, TimeoutError, a bad address
        text = error_text(exc)
        raise CheckFailed(text if host in text else f"cannot connect to {where}: {text}") from None
    remote = sock.getRemoteEndpoint()
    out.line(f"Connected to {where}" + (f" ({remote.address})" if remote and remote.address != host else "") + f" over {tcp_c.name}")

    session = tls_c.TLS(ctx)
    try:
        out.line(_server_name(session, name))
        try:
            started = time.perf_counter()
            status = session.connect(sock)
            elapsed = time.perf_counter() - started
        except TLSTimeoutError:
            raise CheckFailed(f"TLS handshake with {where} timed out after {args.connect_timeout:g} s") from None
        except TLSError as exc:
            if one_step:
                _refused(out, session, built, name, tls_c.name)
            text = error_text(exc)
            raise CheckFailed(f"{where}: {text}" if "handshake" in text else f"TLS handshake with {where} failed: {text}") from None
        if status != session.OK:
            reason = failure_reason(session, f"connect() returned {status}")
            raise CheckFailed(f"TLS handshake with {where} failed: {reason}")
        return _after_handshake(args, out, session, sock, tcp_c, built, name, payload, elapsed, tls_c.name, one_step)
    finally:
        sock.disconnect()


def _refused(out: _Output, session: Any, built: tuple[Any, str] | None, name: str, component: str) -> None:
    """The handshake failed with verification on: if the verification is what
    failed, report the chain and both checks, and raise CheckFailed."""
    from nettls.interfaces import IVerifyResult, VerifyStatus

    result = session.getVerifyResult() if IVerifyResult.providedBy(session) else None
    if result is None or result.status != VerifyStatus.FAIL:
        return  # another handshake failure: the caller reports it
    reason = one_line(result.failedReason or "no reason given")
    out.line(f"TLS handshake: FAIL: the server's certificate was refused during the handshake (component {component}): {reason}")
    chain = session.getPeerCertChain()
    if not chain:  # a library that hands out no certificate it refused (rustls)
        out.line("Peer certificate chain: not handed out by the component for a refused certificate")
        out.line("Not sending anything: the peer did not verify (--verify)")
        raise CheckFailed(f"verification failed during the handshake: {reason}")
    problem = _report_checks(out, session, chain, built, name)
    out.line("Not sending anything: the peer did not verify (--verify)")
    if problem is None:  # the handshake's TLS profile refused what the purpose-free check accepts
        problem = f"verification failed: {reason}"
        out.line(f"Verification: FAIL: {reason}")
    raise CheckFailed(problem)


def _after_handshake(
    args: argparse.Namespace,
    out: _Output,
    session: Any,
    sock: Any,
    tcp_c: TCPClasses,
    built: tuple[Any, str] | None,
    name: str,
    payload: bytes,
    elapsed: float,
    component: str,
    one_step: bool,
) -> int:
    from nettls.interfaces import INegotiatedProtocol, TLSError

    protocol, cipher = session_info(session)
    checked = "; chain and host name verified during the handshake" if one_step else ""
    out.line(f"TLS handshake: OK in {elapsed * 1000:.1f} ms (component {component}){checked}")
    out.line(f"Protocol: {protocol}")
    out.line(f"Cipher:   {cipher}")
    if args.alpn is not None:
        chosen = session.getApplicationProtocol() if INegotiatedProtocol.providedBy(session) else UNKNOWN
        out.line(f"ALPN:     {chosen or 'none selected'}")
    problem = _report_checks(out, session, session.getPeerCertChain(), built, name)

    if problem is not None and args.verify:
        out.line("Not sending anything: the peer did not verify (--verify)")
        session.close()
        raise CheckFailed(problem)

    if payload:
        try:
            session.send(payload)
        except TLSError as exc:
            raise CheckFailed(f"sending failed: {error_text(exc)}") from None
    out.line(f"--- sent {len(payload)} bytes; printing what arrives until the peer closes or {args.timeout:g} s pass without data")
    ended = _receive(session, sock, tcp_c, args.timeout, out.data)
    alert = _peer_alert(session)
    sent_close = _close(session, sock, tcp_c)
    out.line(f"--- {ended}; " + ("close_notify sent" if sent_close else "session closed"))
    if alert is not None:
        # A TLS 1.3 server refuses a client (certificate_required, ...) after
        # the client's handshake is done: still a failure (SPEC 12).
        raise CheckFailed(f"the peer sent a fatal alert: {alert}")
    if problem is not None:
        raise CheckFailed(problem)
    return EXIT_OK


def _peer_alert(session: Any) -> str | None:
    """The failure reason when the session ended on an alert from the peer, else None."""
    from nettls.interfaces import ISessionInfo

    informs = ISessionInfo.providedBy(session)  # a plain bool: no narrowing for mypy
    if not informs or session.getStatus() != session.FAIL:
        return None
    reason = session.getFailureReason()
    return reason if reason and "alert" in reason.lower() else None


def _report_checks(out: _Output, session: Any, chain: list[str], built: tuple[Any, str] | None, name: str) -> str | None:
    """Print the peer's chain, its verification and the host-name check;
    return the first problem found, or None."""
    from nettls.interfaces import VerifyStatus

    out.line(f"Peer certificate chain ({len(chain)} certificate{'s' if len(chain) != 1 else ''}):")
    for i, pem in enumerate(chain):
        for text in certificate_lines(pem, label=f"{i} ", indent="  "):
            out.line(text)
    if built is None:
        out.line("Verification: not checked (no --cafile or --capath given)")
        out.line("Host name: not checked")
        return None
    if not chain:
        out.line("Verification: FAIL: the server sent no certificate")
        out.line("Host name: not checked")
        return "the server sent no certificate"
    problem: str | None = None
    store, trusted = built
    result = session.verifyCertificate(store, chain[0], chain[1:] or None)
    if result.status == VerifyStatus.OK:
        out.line(f"Verification: OK (against {trusted})")
    else:
        reason = one_line(result.failedReason or "no reason given")
        problem = f"verification failed: {reason}"
        out.line(f"Verification: FAIL: {reason} (against {trusted})")
        if result.failedCertificate:
            try:
                out.line(f"  failed certificate: {describe_certificate(result.failedCertificate).subject}")
            except ValueError:
                pass
    try:
        mismatch = check_host_name(chain[0], name)
    except ValueError as exc:
        mismatch = f"the server's certificate does not parse: {one_line(exc)}"
    if mismatch is None:
        out.line(f"Host name: OK ({name})")
    else:
        out.line(f"Host name: FAIL: {mismatch}")
        problem = problem or f"host name check failed: {mismatch}"
    return problem


def _receive(session: Any, sock: Any, tcp_c: TCPClasses, idle: float, write: Callable[[bytes], None]) -> str:
    """Print what arrives until the peer closes or ``idle`` seconds without data.

    Waits on an event loop over the TCP component's monitor, the session
    non-blocking, where the socket can be watched (``ISelectable``), else
    reads blocking, bounded by ``ITimeout``.
    """
    from nettls.interfaces import ISelectable, ITimeout, TLSError

    selectable = ISelectable.providedBy(sock)  # a plain bool: no narrowing for mypy
    if not selectable:
        if ITimeout.providedBy(sock):
            sock.setTimeout(idle)
        try:
            while True:
                chunk = session.recv(1)
                if not chunk:
                    return failure_reason(session, "the peer closed the connection")
                write(chunk)
        except TimeoutError:
            return f"no data for {idle:g} s"
        except TLSError as exc:
            return f"receiving failed: {error_text(exc)}"

    session.setNonBlocking()
    try:
        with SessionWaiter(tcp_c, sock, session) as waiter:
            deadline = time.monotonic() + idle
            while True:
                for chunk in available(session):
                    write(chunk)
                    deadline = time.monotonic() + idle
                status = session.getStatus()
                if status == session.FAIL or not sock.connected():
                    return failure_reason(session, "the peer closed the connection")
                writing = status == session.WAIT_WRITE or bool(session.getBufferUnsent())
                if not waiter.wait(deadline, write=writing, flush=True):
                    return f"no data for {idle:g} s"
    except TLSError as exc:
        return f"receiving failed: {error_text(exc)}"


def _close(session: Any, sock: Any, tcp_c: TCPClasses) -> bool:
    """Send close_notify (True if it was); in non-blocking mode wait up to
    ``_CLOSE_WAIT`` seconds for it to be written."""
    from nettls.interfaces import ISelectable

    try:
        status = session.close()
        if status != session.WAIT_WRITE or not ISelectable.providedBy(sock):
            return bool(status == session.OK)
        with SessionWaiter(tcp_c, sock, session) as waiter:
            status = waiter.complete(session.close, time.monotonic() + _CLOSE_WAIT, status=status, read=False)
        return bool(status == session.OK)
    except Exception:  # the peer is gone: nothing more can reach it
        return False
