"""``nettls verify CERT``: ``verifyCertificate`` from the command line.

The first certificate in CERT is the one verified; any further ones in the
file, and those of every ``--chain FILE``, are the untrusted chain. Trusted
roots come from ``--cafile`` or ``--capath`` (the system's trust store
when neither is given). Prints the ``VerifyStatus`` in words: exit 0 on OK,
1 on FAIL, 2 for bad usage or a file that cannot be read.
"""

from __future__ import annotations

import argparse

from nettls.escape import escape_control
from nettls.interfaces.data import VERIFY_PROFILE

from ._certs import build_store, certificate_lines, certificate_pem, check_host_name, describe_certificate, load_certificates
from ._classes import tls_classes
from ._errors import EXIT_FAILED, EXIT_OK, one_line
from ._options import add_component_option
from ._output import write_lines

HELP = "verify a certificate chain against trusted CAs (verifyCertificate); exit 0 OK, 1 FAIL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cert", metavar="CERT", help="PEM file: the certificate to verify, optionally followed by its chain")
    parser.add_argument(
        "--chain",
        metavar="FILE",
        action="append",
        default=[],
        help="PEM file of untrusted intermediates (may be repeated)",
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--cafile", metavar="FILE", help="PEM file of trusted CA certificates")
    trust.add_argument("--capath", metavar="DIR", help="directory of trusted PEM CA certificates (such as an OpenSSL hashed directory)")
    parser.add_argument(
        "--hostname",
        metavar="NAME",
        help="also check that the certificate is valid for this host name or IP address (RFC 6125)",
    )
    add_component_option(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only OK or FAIL and the reason")


def run(args: argparse.Namespace) -> int:
    classes = tls_classes(args.component)
    certs = load_certificates(args.cert, "CERT")
    chain = certs[1:]
    for path in args.chain:
        chain += load_certificates(path, "--chain")
    built = build_store(classes.TLSCertStore, args.cafile, args.capath, system=True)
    assert built is not None  # system=True: a store or a UsageError
    store, trusted = built

    leaf_pem = certificate_pem(certs[0])
    chain_pems = [certificate_pem(c) for c in chain]
    # verifyCertificate works on a session that never connected (SPEC section 6).
    session = classes.TLS(classes.TLSContext(classes.TLSContext.CLIENT))
    status = session.verifyCertificate(store, leaf_pem, chain_pems or None)
    mismatch = check_host_name(leaf_pem, args.hostname) if args.hostname is not None else None
    ok = status.ok and mismatch is None

    out: list[str] = []
    if ok:
        out.append(f"{args.cert}: OK")
    elif not status.ok:
        out.append(f"{args.cert}: FAIL: {one_line(status.failedReason or 'no reason given')}")
    else:
        out.append(f"{args.cert}: FAIL: {one_line(mismatch)}")
    if not args.quiet:
        out += certificate_lines(certs[0], indent="  ")
        n = len(chain_pems)
        out.append(f"  chain:    {n} untrusted certificate{'s' if n != 1 else ''}")
        out.append(f"  trusted:  {trusted}")
        out.append(f"  component: {classes.name}")
        out.append(f"  profile:  {VERIFY_PROFILE}")
        if args.hostname is not None:
            name = escape_control(args.hostname)
            out.append(f"  host name: {name} " + ("matches" if mismatch is None else "does not match"))
        if not status.ok:
            if status.failedCertificate:
                try:
                    info = describe_certificate(status.failedCertificate)
                    out.append(
                        f"  failed certificate: {escape_control(info.subject)} (issued by {escape_control(info.issuer)})"
                    )
                except ValueError:
                    out.append("  failed certificate: (does not parse)")
            else:
                out.append("  failed certificate: not identified by the component")
    write_lines(out)
    return EXIT_OK if ok else EXIT_FAILED
