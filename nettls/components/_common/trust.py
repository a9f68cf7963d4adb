"""The operating system's trusted roots, as PEM, for ``ISystemTrust``.

Where they are looked for:

1. ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``, when either is set, read as
   OpenSSL reads them: the file is a PEM bundle; the directory (or several,
   separated by ``os.pathsep``) is a hashed directory, of which only the
   files OpenSSL's lookup opens are read (``<8 hex digits>.<n>``, symlinks
   followed); both are read when both are set. Set, they are the whole
   answer, and a set variable that cannot be used (a file missing,
   unreadable or holding no certificate; a directory missing, or holding
   no hash-named certificate while the file gives none either) is a
   ``CertificateError`` naming the variable and the path: never a silent
   fall back to anything else (SPEC 14). An empty value is a set one.
2. Neither set: the default file, then directory, that
   ``ssl.get_default_verify_paths()`` reports (on Linux the distribution's
   bundle, such as ``/etc/ssl/certs/ca-certificates.crt``), the first that
   gives any;
3. the certificates ``ssl`` loads from the system itself
   (``SSLContext.load_default_certs()``: the Windows certificate store);
4. certifi's copy of Mozilla's bundle (a dependency), where the system has
   none of the above: macOS with a python.org build, minimal containers.

The result is cached per process, by the two variables' values, and read
again when any file or directory it came from changes (its size,
modification time or inode: what ``update-ca-certificates``, ``openssl
rehash`` or an edit do); each ``loadSystemTrust()`` costs a ``stat`` per
file read, not a parse.
"""

from __future__ import annotations

import functools
import os
import ssl
import threading
import warnings
from typing import Any, Callable

from cryptography.utils import CryptographyDeprecationWarning

from nettls.interfaces import CertificateError

from .locations import Loaded, load_location, stamp
from .pem import der_to_pem

__all__ = ["system_trust"]

#: Environments remembered (a process rarely has more than one).
_CACHE_SIZE = 8
_cache: dict[tuple[str | None, str | None], tuple[Loaded, str | None]] = {}
_cache_lock = threading.Lock()


def _load(path: str, *, hashed_only: bool = False, strict: bool = True) -> Loaded:
    with warnings.catch_warnings():
        # System bundles hold a few old roots cryptography frowns on (a
        # negative serial number); they still parse, and trust is the
        # system's call, not ours.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return load_location(path, hashed_only=hashed_only, strict=strict)


def _cert_file(path: str) -> Loaded:
    """``SSL_CERT_FILE``: a bundle holding at least one certificate."""
    where = f"SSL_CERT_FILE={path}"
    if not path:
        raise CertificateError("SSL_CERT_FILE is set but empty: unset it, or name a PEM bundle file")
    if not os.path.exists(path):
        raise CertificateError(f"{where}: no such file")
    if os.path.isdir(path):
        raise CertificateError(f"{where}: is a directory, not a PEM bundle file (SSL_CERT_DIR names directories)")
    if not os.access(path, os.R_OK):
        raise CertificateError(f"{where}: permission denied")
    try:
        loaded = _load(path)
    except (OSError, ValueError) as exc:  # CertificateError (a ValueError) says what is wrong in the file
        raise CertificateError(f"{where}: {exc}") from exc
    if not loaded.pems:
        raise CertificateError(f"{where}: holds no PEM certificate")
    return loaded


def _cert_dirs(value: str) -> Loaded:
    """``SSL_CERT_DIR``: existing directories, of which the hash-named files are read."""
    if not value:
        raise CertificateError("SSL_CERT_DIR is set but empty: unset it, or name a hashed certificate directory")
    pems: dict[str, None] = {}
    stamps: list[tuple[Any, ...]] = []
    for directory in value.split(os.pathsep):
        where = f"SSL_CERT_DIR={value}: {directory}"
        if not os.path.isdir(directory):
            reason = "not a directory" if os.path.exists(directory) else "no such directory"
            raise CertificateError(f"{where}: {reason}")
        try:
            loaded = _load(directory, hashed_only=True, strict=False)  # a bad file is skipped, with a WARNING
        except (OSError, ValueError) as exc:
            raise CertificateError(f"{where}: {exc}") from exc
        pems.update(dict.fromkeys(loaded.pems))
        stamps.extend(loaded.stamps)
    return Loaded(tuple(pems), tuple(stamps))


def _from_environment(cert_file: str | None, cert_dir: str | None) -> tuple[Loaded, str]:
    parts = [_cert_file(cert_file)] if cert_file is not None else []
    if cert_dir is not None:
        parts.append(_cert_dirs(cert_dir))
    pems = tuple(dict.fromkeys(p for part in parts for p in part.pems))
    if not pems:  # only SSL_CERT_DIR is left to have given none
        raise CertificateError(
            f"SSL_CERT_DIR={cert_dir}: holds no hash-named certificate file (<8 hex digits>.<n>, "
            f"as 'openssl rehash' makes them)"
        )
    source = " and ".join(f"{name}={value}" for name, value in (("SSL_CERT_FILE", cert_file), ("SSL_CERT_DIR", cert_dir)) if value is not None)
    return Loaded(pems, tuple(s for part in parts for s in part.stamps)), source


def _from_ssl() -> tuple[str, ...]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_default_certs()
    except (ssl.SSLError, OSError):
        return ()
    return tuple(der_to_pem(der) for der in ctx.get_ca_certs(binary_form=True))


def _certifi() -> tuple[str, str] | None:
    """``(source, path)`` of certifi's bundle, if certifi is there."""
    try:
        import certifi
    except ImportError:  # a dependency, but a packager may have left it out
        return None
    version = getattr(certifi, "__version__", "")
    path = str(certifi.where())
    return (f"certifi {version}: {path}" if version else f"certifi: {path}"), path


def _from_system() -> tuple[Loaded, str | None]:
    paths = ssl.get_default_verify_paths()
    steps: list[tuple[str, Callable[[], Loaded]]] = []
    for candidate in dict.fromkeys((paths.cafile, paths.openssl_cafile, paths.capath, paths.openssl_capath)):
        if candidate and os.path.exists(candidate):
            steps.append((candidate, functools.partial(_load, candidate, strict=False)))
    steps.append(("the system certificate store (through ssl)", lambda: Loaded(_from_ssl(), ())))
    bundled = _certifi()
    if bundled is not None:
        steps.append((bundled[0], functools.partial(_load, bundled[1], strict=False)))
    for source, load in steps:
        try:
            loaded = load()
        except (OSError, ValueError):  # a default location past a limit, or gone: the next one
            continue
        if loaded.pems:
            return loaded, source
    return Loaded((), ()), None


def system_trust() -> tuple[tuple[str, ...], str | None]:
    """``(certificates as PEM, where they came from)``; ``((), None)`` if none was found.

    Raises CertificateError for a set ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``
    that cannot be used (see the module's docstring).
    """
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and all(stamp(s[0]) == s for s in cached[0].stamps):
        return cached[0].pems, cached[1]
    if key != (None, None):
        loaded, source = _from_environment(*key)
        result: tuple[Loaded, str | None] = (loaded, source)
    else:
        result = _from_system()
    with _cache_lock:
        _cache.pop(key, None)
        while len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = result
    return result[0].pems, result[1]
