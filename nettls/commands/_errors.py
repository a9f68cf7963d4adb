"""Errors and exit statuses of the commands (SPEC section 12).

A command raises ``UsageError`` (exit 2: bad arguments, a missing or
unreadable file) or ``CheckFailed`` (exit 1: the handshake, the
verification or the host name failed); ``nettls.cli.main`` prints either
as one line on stderr, through ``one_line``.
"""

from __future__ import annotations

from nettls.escape import escape_control

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "CommandError",
    "UsageError",
    "CheckFailed",
    "one_line",
    "error_text",
]

EXIT_OK = 0
#: The thing checked failed: handshake, verification, host name, a demo cell.
EXIT_FAILED = 1
#: Usage or input error: bad arguments, a missing or unreadable file, a key that does not match.
EXIT_USAGE = 2


class CommandError(Exception):
    """An error a user can make or meet: one line on stderr, no traceback."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CommandError):
    """Bad arguments or unusable input (exit status 2)."""

    exit_code = EXIT_USAGE


class CheckFailed(CommandError):
    """What the command checked failed (exit status 1)."""

    exit_code = EXIT_FAILED


def one_line(text: object) -> str:
    """``text`` squeezed onto one line (errors are one line on stderr), its
    control characters escaped: an error may quote what a peer sent."""
    return escape_control(" ".join(str(text).split()))


def error_text(exc: BaseException) -> str:
    """An exception's message, without the "[Errno N]" prefix of an OSError."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        return one_line(exc.strerror)
    return one_line(exc) or type(exc).__name__
