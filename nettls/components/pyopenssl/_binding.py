"""pyOpenSSL's private cffi binding of OpenSSL, and OpenSSL's error texts.

Shared by the engines (``DirectEngine``'s data path, ``PyOpenSSLEngine``'s
BIO sizes and resumption flag), the component's C verify callback and the
verifier (error strings); each user keeps a public fallback for when the
binding, or a name in it, is missing (``_FFI``/``_LIB`` None).
"""

from __future__ import annotations

from typing import Any, Callable

from OpenSSL import SSL, crypto


def _openssl_lib() -> Any:
    """pyOpenSSL's binding of OpenSSL (private to pyOpenSSL): for the calls
    it has no public form of, and ``DirectEngine``'s data path. None where
    it cannot be had."""
    try:
        from OpenSSL._util import ffi, lib
    except ImportError:
        return None, None
    return ffi, lib


_FFI, _LIB = _openssl_lib()
#: A cffi allocator that skips zeroing (buffers are written before they are read).
_ALLOCATE: Any = _FFI.new_allocator(should_clear_after_alloc=False) if _FFI is not None else None
_WANT_READ: int = getattr(_LIB, "SSL_ERROR_WANT_READ", 2)
_ZERO_RETURN: int = getattr(_LIB, "SSL_ERROR_ZERO_RETURN", 6)
#: SSL_write takes an int length.
_INT_MAX = 2**31 - 1
#: The per-thread buffer ``DirectEngine`` reads into: a record's plaintext,
#: or a flight of ciphertext (a 64 KiB send makes about 64 KiB).
SCRATCH_SIZE = 65536 + 1024
#: SSL_session_reused; None if the binding lacks it (then a client tells a
#: resumed handshake by the server certificate it did not read).
_SESSION_REUSED: Callable[[Any], int] | None = getattr(_LIB, "SSL_session_reused", None)


def _verify_error(errno: int) -> str:
    """OpenSSL's text for an X509_V_ERR code."""
    text = getattr(_LIB, "X509_verify_cert_error_string", None)
    if text is not None and _FFI is not None:
        try:
            return str(_FFI.string(text(errno)).decode("ascii", "replace"))
        except Exception:  # fall through to the number
            pass
    return f"certificate verify error {errno}"


def _reason(exc: SSL.Error | crypto.Error) -> str:
    """OpenSSL's reason strings from a pyOpenSSL ``Error`` ("" if it has none).

    pyOpenSSL puts the drained error queue in ``args[0]`` as a list of
    ``(library, function, reason)``; the reason is what OpenSSL prints,
    such as "wrong version number" or "tlsv1 alert unknown ca".
    """
    if not exc.args:
        return ""
    if not isinstance(exc.args[0], list):
        return " ".join(str(a) for a in exc.args)
    reasons: list[str] = []
    for entry in exc.args[0]:
        if isinstance(entry, tuple) and len(entry) == 3:
            library, _function, reason = entry
            text = f"{reason} ({library})" if reason and library else str(reason or library)
        else:
            text = str(entry)
        if text and text not in reasons:
            reasons.append(text)
    return "; ".join(reasons)
