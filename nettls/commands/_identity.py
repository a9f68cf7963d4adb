"""The identity a command presents: --cert, --key, --chain and
--key-password-file, shared by ``serve`` and ``connect``."""

from __future__ import annotations

import argparse

from ._certs import certificate_pem, load_certificates, read_file
from ._errors import UsageError, one_line

__all__ = ["add_identity_arguments", "read_identity"]


def add_identity_arguments(parser: argparse.ArgumentParser, cert_help: str) -> None:
    """--cert, --key, --chain and --key-password-file: an identity to present."""
    parser.add_argument("--cert", metavar="FILE", help=cert_help)
    parser.add_argument(
        "--key", metavar="FILE", help="the certificate's PEM private key (default: the one in --cert's file)"
    )
    parser.add_argument("--chain", metavar="FILE", help="PEM intermediate certificates to send after the certificate")
    parser.add_argument(
        "--key-password-file",
        metavar="FILE",
        help="a file whose first line is the password of an encrypted (PKCS#8) private key",
    )


def read_identity(args: argparse.Namespace, limit: int) -> tuple[str, str, list[str]]:
    """``(certificate, key, chain)`` PEM from --cert, --key, --chain and
    --key-password-file (files of at most ``limit`` bytes); the key is
    decrypted in memory. UsageError for a file that cannot be used."""
    from nettls.components.kit import file_private_key

    certs = [certificate_pem(c) for c in load_certificates(args.cert, "--cert", limit=limit)]
    key_path, key_option = (args.key, "--key") if args.key is not None else (args.cert, "--cert")
    password = None
    if args.key_password_file is not None:
        lines = read_file(args.key_password_file, "--key-password-file", limit=4096).splitlines()
        password = lines[0] if lines else b""
    data = read_file(key_path, key_option, limit=limit)
    if b"PRIVATE KEY-----" not in data:
        if args.key is None:
            raise UsageError(f"--cert {args.cert}: holds no private key; give it with --key FILE")
        raise UsageError(f"--key {args.key}: holds no PEM private key (no '-----BEGIN ... PRIVATE KEY-----' block)")
    try:
        key = file_private_key(data, f"{key_option} {key_path}", password=password)
    except ValueError as exc:  # nettls.CertificateError: malformed, encrypted without a password, wrong password
        raise UsageError(one_line(exc)) from None
    chain = certs[1:]
    if args.chain is not None:
        chain += [certificate_pem(c) for c in load_certificates(args.chain, "--chain", limit=limit)]
    return certs[0], key, chain
