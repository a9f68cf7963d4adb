"""HTTP for ``nettls serve --http``, without I/O: collect one request head,
answer it with a small page (or a 400), say what to log.

``nettls.server.handlers.HttpHandler`` feeds ``RequestHead`` what each
read returns and writes the ``Reply`` it gets in one ``write()``. Every
byte of the head counts toward ``HTTP_HEADER_LIMIT``, the empty lines RFC
9112 section 2.2 lets a client send before the request line included: a
client that streams CRLF for ever gets a 400 after 16 KiB like any other
(SPEC section 12), and only the head itself is kept, never the empty lines. What reaches the log (the
request target) is escaped (``nettls.escape``); what reaches the page is
HTML-escaped as well.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import nettls
from nettls.escape import escape_control

__all__ = ["HTTP_HEADER_LIMIT", "HeadTooLong", "RequestHead", "Reply", "answer", "bad_request"]

#: A request head must end within this many bytes, leading empty lines included, or it gets a 400.
HTTP_HEADER_LIMIT = 16 * 1024
#: Longest request target quoted in the page and the log.
TARGET_SHOWN = 200

# The end of a request head: an empty line, CRLF or bare LF (RFC 9112 section 2.2).
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_REQUEST_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP/(\d)\.(\d)")


class HeadTooLong(ValueError):
    """The request head did not end within ``HTTP_HEADER_LIMIT`` bytes."""


class RequestHead:
    """One request head as it arrives, record by record."""

    __slots__ = ("_buf", "_skipped")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skipped = 0  # empty lines before the request line: counted, not kept

    def __len__(self) -> int:
        """Bytes held (the empty lines before the request line are not)."""
        return len(self._buf)

    def feed(self, data: bytes) -> bytes | None:
        """Add what a read returned. The complete head (request line and
        header fields, without the empty line that ends it) once it has
        arrived, else None; ``HeadTooLong`` once it cannot end within the limit."""
        buf = self._buf
        if not buf:
            kept = data.lstrip(b"\r\n")
            self._skipped += len(data) - len(kept)
            data = kept
        start = max(0, len(buf) - 3)
        buf += data
        match = _HEAD_END.search(buf, start)
        if match is not None and self._skipped + match.end() <= HTTP_HEADER_LIMIT:
            return bytes(buf[: match.start()])
        if self._skipped + len(buf) >= HTTP_HEADER_LIMIT:
            raise HeadTooLong(f"The request head did not end within {HTTP_HEADER_LIMIT} bytes.")
        return None


@dataclass(frozen=True)
class Reply:
    """A whole response, and the outcome to log (escaped)."""

    data: bytes
    outcome: str


def _response(code: int, reason: str, body: str, content_type: str = "text/plain", head_only: bool = False) -> bytes:
    payload = body.encode("utf-8")
    head = (
        f"HTTP/1.1 {code} {reason}\r\n"
        f"Content-Type: {content_type}; charset=utf-8\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: close\r\n"
        f"Server: nettls/{nettls.__version__}\r\n"
        "\r\n"
    ).encode("ascii")
    return head if head_only else head + payload


def bad_request(text: str) -> Reply:
    """A 400 whose body is ``text`` (one line, ours: no peer text in it)."""
    return Reply(_response(400, "Bad Request", text + "\n"), f"HTTP 400 ({text})")


def answer(head: bytes, protocol: str | None, cipher: str | None, component: str) -> Reply:
    """The reply to a complete request head: a small page naming the
    request, the protocol and the cipher, or a 400 for a bad request line."""
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    match = _REQUEST_LINE.fullmatch(first)
    if match is None:
        return bad_request("The request line is not METHOD TARGET HTTP/x.y.")
    method, target = match.group(1).decode("ascii"), match.group(2).decode("ascii", "replace")
    if len(target) > TARGET_SHOWN:
        target = target[:TARGET_SHOWN] + "..."
    target = escape_control(target)
    body = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>nettls</title></head>\n"
        "<body><h1>Hello from nettls</h1>\n"
        f"<p>{html.escape(method)} {html.escape(target)} over {html.escape(protocol or 'TLS')}"
        f" with {html.escape(cipher or 'an unknown cipher')} (component {html.escape(component)}).</p>\n"
        "</body></html>\n"
    )
    data = _response(200, "OK", body, "text/html", head_only=method == "HEAD")
    return Reply(data, f"HTTP 200 for {method} {target}")
