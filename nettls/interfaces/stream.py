"""``net.Stream``: a byte stream, and the event objects streams expose."""

from __future__ import annotations

from zope.interface import Interface, taggedValue

__all__ = ["DANA_NAME", "IEvent", "IStream"]

#: The tagged value under which each interface carries its Dana name.
DANA_NAME = "dana.name"


class IEvent(Interface):
    """An event source, such as ``sendWait``: listeners subscribe to it.

    A listener is a callable taking one ``EventData``. Listeners run
    synchronously, in subscription order, before the call that fired the
    event returns, and with no lock of the firing object held, so a
    listener may call any method of that object.
    """

    def subscribe(listener):
        """Add ``listener``; adding one already subscribed does nothing."""

    def unsubscribe(listener):
        """Remove ``listener``; removing one not subscribed does nothing."""


class IStream(Interface):
    """A two-way byte stream (Dana ``net.Stream``); abstract.

    Blocking streams wait in ``recv``/``send``; non-blocking ones return at
    once (see ``ITCPSocket.setNonBlocking`` and ``ITLS.setNonBlocking``).
    One thread may be in ``recv()`` while another is in ``send()`` or
    ``sendBuffer()`` on the same object; other concurrent use is undefined.
    """

    taggedValue(DANA_NAME, "net.Stream")

    def send(data):
        """Write ``data`` (bytes, bytearray or memoryview; ``str`` is a TypeError).

        Blocking: writes all of ``data`` and returns ``len(data)``.
        Non-blocking: returns how many bytes of ``data`` were written now and
        queues the rest for ``sendBuffer()``; while bytes are queued, later
        calls queue all their data and return 0, so order is kept.
        A broken connection raises ``ConnectionError`` (on a TLS session,
        ``nettls.TLSConnectionError``).
        """

    def recv(n):
        """Read up to ``n`` bytes; ``n`` is a positive int (else ValueError/TypeError).

        Blocking: waits until ``n`` bytes have arrived or the stream ended,
        so fewer than ``n`` (possibly ``b""``) means end of stream.
        Non-blocking: returns at once what is available, possibly ``b""``.
        Never raises for a broken or reset connection: that is an end of
        stream.
        """
