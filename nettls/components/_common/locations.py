"""Certificates from files and directories, within the input limits.

What ``loadLocation`` reads (a PEM bundle file, or every regular file of a
directory) and what the system trust reads (``trust.py``: the same, or
only OpenSSL's hash-named files of an ``SSL_CERT_DIR``). Files are parsed
by ``pem.file_certificates``: explanatory text between blocks is allowed,
a malformed certificate block is not, and such a file is skipped whole
(with a WARNING on the ``nettls`` logger) as OpenSSL refuses it whole.
Sizes are checked from ``stat`` before anything is read (``limits.py``),
and nothing but a regular file is ever opened (a FIFO would block).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

from nettls.interfaces import CertificateError

from . import limits
from .pem import LimitError, certificate_pem, file_certificates

__all__ = ["Loaded", "load_location", "stamp", "log"]

log = logging.getLogger("nettls.store")

#: The names OpenSSL's hashed-directory lookup opens: the subject-name hash
#: in 8 lower-case hex digits, a dot, a sequence number (``.rN`` are CRLs).
_HASHED_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Loaded:
    """What one location gave: canonical PEM, without repeats, and a stamp
    of every file and directory read (see ``stamp``)."""

    pems: tuple[str, ...]
    stamps: tuple[tuple[Any, ...], ...]


def stamp(path: Any) -> tuple[Any, ...]:
    """What tells whether ``path`` changed since it was read: its identity,
    size and modification time (symlinks followed); ``(path,)`` if it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return (path,)
    return (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _entries(directory: Any, hashed_only: bool) -> list[Any]:
    """The paths of ``directory``'s entries (str or bytes, as it is) that may be read, sorted."""
    names: list[Any] = []
    with os.scandir(directory) as scan:
        for entry in scan:
            if len(names) == limits.MAX_LOCATION_FILES:
                raise LimitError(f"{os.fsdecode(directory)} has more than {limits.MAX_LOCATION_FILES} entries, the limit")
            if not hashed_only or _HASHED_NAME.fullmatch(os.fsdecode(entry.name)):
                names.append(entry.name)
    return [os.path.join(directory, name) for name in sorted(names)]


def _regular_files(paths: list[Any], what: str) -> list[Any]:
    """The regular files among ``paths`` (symlinks followed), checked
    against the size limits before any is read."""
    files = []
    total = 0
    for path in paths:
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if st.st_size > limits.MAX_FILE_BYTES:
            raise LimitError(f"{os.fsdecode(path)} is {st.st_size} bytes, over the limit of {limits.MAX_FILE_BYTES} bytes for one file")
        total += st.st_size
        if total > limits.MAX_STORE_BYTES:
            raise LimitError(f"{what} holds more than {limits.MAX_STORE_BYTES} bytes of files in all, the limit")
        files.append(path)
    return files


def _read(path: Any) -> tuple[bytes, tuple[Any, ...]] | None:
    """The bytes of the regular file ``path`` and its stamp; None if it is not one."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced since it was looked at
            return None
        chunks = []
        size = 0
        while size <= limits.MAX_FILE_BYTES:  # a file may grow, or (in /proc) say 0 and hold more
            chunk = os.read(fd, limits.MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limits.MAX_FILE_BYTES:
        raise LimitError(f"{os.fsdecode(path)} is over the limit of {limits.MAX_FILE_BYTES} bytes for one file")
    return b"".join(chunks), (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def load_location(path: Any, *, hashed_only: bool = False, strict: bool = False) -> Loaded:
    """The certificates of a bundle file, or of the files of a directory.

    ``hashed_only``: of a directory, read only OpenSSL's hash-named files.
    ``strict``: a malformed file raises its CertificateError instead of
    being skipped with a WARNING. Missing or unreadable files give nothing;
    LimitError for a location over a limit; TypeError or ValueError for a
    ``path`` that is not one.
    """
    path = os.fspath(path)
    what = os.fsdecode(path)
    stamps = []
    if os.path.isdir(path):
        stamps.append(stamp(path))  # entries added or removed change it
        candidates = _entries(path, hashed_only)
    else:
        candidates = [path]
    found: dict[str, None] = {}
    for name in _regular_files(candidates, what):
        try:
            read = _read(name)
        except OSError:
            continue
        if read is None:
            continue
        data, file_stamp = read
        stamps.append(file_stamp)
        try:
            certificates = file_certificates(data, os.fsdecode(name))
        except LimitError:
            raise
        except CertificateError as exc:
            if strict:
                raise
            log.warning("%s; none of its certificates were loaded", exc)
            continue
        found.update((certificate_pem(c), None) for c in certificates)
        if len(found) > limits.MAX_STORE_CERTIFICATES:
            raise LimitError(f"{what} holds more than {limits.MAX_STORE_CERTIFICATES} certificates, the limit of a store")
    return Loaded(tuple(found), tuple(stamps))
