"""What one call takes from a caller (SPEC 14: documented input sizes).

Past a limit the call fails at once, before parsing what is too big: a
context's setters raise ``CertificateError``, a store's ``addCertificate``
and ``loadLocation`` return False and log a WARNING on the ``nettls``
logger. Parsing within the limits is linear in the input (``pem.py``).
docs/security.md lists these with the tests that drive them.
"""

from __future__ import annotations

__all__ = [
    "MAX_PEM_BYTES",
    "MAX_CONTEXT_CHAIN_CERTIFICATES",
    "MAX_VERIFY_CHAIN_CERTIFICATES",
    "MAX_CHAIN_BYTES",
    "MAX_STORE_CERTIFICATES",
    "MAX_STORE_BYTES",
    "MAX_FILE_BYTES",
    "MAX_LOCATION_FILES",
]

MAX_PEM_BYTES = 1 << 20  # one PEM text given to a call: a system bundle is ~220 KiB, a certificate 1-2 KiB
MAX_CONTEXT_CHAIN_CERTIFICATES = 16  # setCertificateChain (sent after the leaf): real chains hold 1-3
MAX_VERIFY_CHAIN_CERTIFICATES = 32  # verifyCertificate's chain argument: a path has at most 10; refused before parsing
MAX_CHAIN_BYTES = 256 << 10  # all of setCertificateChain's PEM text: OpenSSL peers refuse a Certificate message over 100 KiB
MAX_STORE_CERTIFICATES = 4096  # one store: a system bundle holds ~150 roots
MAX_STORE_BYTES = 16 << 20  # one store's PEM, and all that one loadLocation reads
MAX_FILE_BYTES = 4 << 20  # one file loadLocation reads: Fedora's bundle with its trust text is ~0.5 MiB
MAX_LOCATION_FILES = 10_000  # entries of a directory loadLocation looks at: /etc/ssl/certs holds ~300-500
