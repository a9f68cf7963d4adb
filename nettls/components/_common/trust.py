"""The operating system's trusted roots, as PEM, for ``ISystemTrust``.

Where they are looked for, in order (the first that gives any wins):

1. ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, when either is set: the variables
   OpenSSL itself reads; set, they are the whole answer (as a user setting
   them means), so nothing else of the system is read;
2. the default file, then directory, that ``ssl.get_default_verify_paths()``
   reports (on Linux the distribution's bundle, such as
   ``/etc/ssl/certs/ca-certificates.crt``);
3. the certificates ``ssl`` loads from the system itself
   (``SSLContext.load_default_certs()``: the Windows certificate store);
4. certifi's copy of Mozilla's bundle (a dependency), where the system has
   none: macOS with a python.org build, minimal containers.

The result is cached per process for the same environment: a system bundle
is some 150 certificates, parsed once.
"""

from __future__ import annotations

import functools
import os
import ssl
import warnings
from typing import Callable

from cryptography.utils import CryptographyDeprecationWarning

from .pem import der_to_pem

__all__ = ["system_trust", "certificates_at"]


def certificates_at(path: str) -> tuple[str, ...]:
    """Canonical PEM of every certificate in a bundle file or a directory of PEM files."""
    # Imported here: config imports this module's users, not the other way round.
    from .config import BaseCertStore

    store = BaseCertStore()
    with warnings.catch_warnings():
        # System bundles hold a few old roots cryptography frowns on (a
        # negative serial number); they still parse, and trust is the
        # system's call, not ours.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        store.loadLocation(path)
    return store.certificates


def _from_ssl() -> tuple[str, ...]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_default_certs()
    except (ssl.SSLError, OSError):
        return ()
    return tuple(der_to_pem(der) for der in ctx.get_ca_certs(binary_form=True))


def _from_certifi() -> tuple[tuple[str, ...], str]:
    try:
        import certifi
    except ImportError:  # a dependency, but a packager may have left it out
        return (), ""
    path = certifi.where()
    version = getattr(certifi, "__version__", "")
    return certificates_at(path), f"certifi {version}: {path}" if version else f"certifi: {path}"


@functools.lru_cache(maxsize=8)
def _system_trust(cert_file: str | None, cert_dir: str | None) -> tuple[tuple[str, ...], str | None]:
    steps: list[tuple[str, Callable[[], tuple[str, ...]]]] = []
    if cert_file is not None or cert_dir is not None:
        for variable, value in (("SSL_CERT_FILE", cert_file), ("SSL_CERT_DIR", cert_dir)):
            if value:
                steps.append((f"{variable}={value}", functools.partial(certificates_at, value)))
    else:
        paths = ssl.get_default_verify_paths()
        seen: set[str] = set()
        for candidate in (paths.cafile, paths.openssl_cafile, paths.capath, paths.openssl_capath):
            if candidate and candidate not in seen and os.path.exists(candidate):
                seen.add(candidate)
                steps.append((candidate, functools.partial(certificates_at, candidate)))
        steps.append(("the system certificate store (through ssl)", _from_ssl))
    for source, load in steps:
        found = load()
        if found:
            return found, source
    found, source = _from_certifi()
    return (found, source) if found else ((), None)


def system_trust() -> tuple[tuple[str, ...], str | None]:
    """``(certificates as PEM, where they came from)``; ``((), None)`` if none was found."""
    environ = os.environ
    return _system_trust(environ.get("SSL_CERT_FILE"), environ.get("SSL_CERT_DIR"))
