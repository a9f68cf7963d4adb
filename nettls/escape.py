"""Peer text made safe for a terminal or a log (SPEC section 14).

A certificate's names, an alert's text, an HTTP request target: whatever a
peer chose reaches a person through a terminal or a log file, and a
terminal obeys control sequences (ESC ``[2J`` clears the screen, OSC sets
the window title or writes the clipboard, BEL rings). Every command and the
server pass such text through ``escape_control`` before printing or
logging it, in the manner of ``openssl x509 -nameopt esc_ctrl``: each
control character becomes a visible escape, everything else is left as it
is. Application data that ``nettls connect`` prints is the one exception:
it is the user's own stream and stays raw, as with ``openssl s_client`` and
curl.

Escaped: C0 controls (U+0000-U+001F, newline included: a field is one
line), DEL and the C1 controls (U+007F-U+009F, which some terminals read as
ESC sequences), and the Unicode line separators and bidirectional
overrides (U+2028, U+2029, U+202A-U+202E, U+2066-U+2069), which can make
text display in another order than it reads. The first two become
``\\xNN``, the last ``\\uNNNN``. A backslash is left alone, as OpenSSL
does: the output stays readable for paths and names, at the price that a
literal ``\\x1b`` in a name reads the same as an escaped ESC.
"""

from __future__ import annotations

import re

__all__ = ["escape_control"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: object) -> str:
    """``str(text)`` with every control character written as a visible escape
    (see the module docstring). Idempotent: escaping twice changes nothing."""
    value = str(text)
    if _UNSAFE.search(value) is None:  # the common case: nothing to do, nothing copied
        return value
    return _UNSAFE.sub(_escape, value)
