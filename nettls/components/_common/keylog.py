"""Key logging (``IKeyLog``, ``SSLKEYLOGFILE``): where, and writing lines.

The NSS key-log format is one line per secret (``CLIENT_RANDOM ...``,
``CLIENT_HANDSHAKE_TRAFFIC_SECRET ...``); Wireshark reads it to decrypt a
capture. Anyone holding the file can read the traffic, so it is created
with mode 0600, and only on request: the context's ``setKeyLogFile`` or,
without it, the ``SSLKEYLOGFILE`` variable (read when a context's native
state is built), as curl and browsers honour it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .config import ContextConfig

__all__ = ["keylog_path", "KeyLogWriter"]

#: The variable curl, browsers and Python's ssl.create_default_context() honour.
KEYLOG_VARIABLE = "SSLKEYLOGFILE"


def keylog_path(config: ContextConfig) -> str | None:
    """The key-log file for ``config``'s sessions, created (mode 0600) if
    missing; None when key logging is off."""
    path = config.keyLogFile or os.environ.get(KEYLOG_VARIABLE) or None
    if path is not None:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    return path


class KeyLogWriter:
    """A library callback that appends each key-log line it is given to a
    file (for libraries that hand out lines rather than taking a path)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def __call__(self, _connection: Any, line: bytes) -> None:
        with self._lock:
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, bytes(line) + b"\n")
            finally:
                os.close(fd)
