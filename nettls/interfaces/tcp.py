"""The TCP interfaces: ``net.TCPSocket``, ``net.TCPServerSocket``, ``net.TCPMonitor``."""

from __future__ import annotations

from zope.interface import Attribute, Interface, taggedValue

from .stream import DANA_NAME, IStream

__all__ = ["ITCPSocket", "ITCPServerSocket", "ITCPMonitor"]


class ITCPSocket(IStream):
    """A TCP connection (Dana ``net.TCPSocket``).

    Made unconnected (``TCPSocket()``), then either ``connect()``-ed to a
    remote host or ``accept()``-ed from a bound server socket.
    """

    taggedValue(DANA_NAME, "net.TCPSocket")

    sendWait = Attribute(
        """An ``IEvent`` fired in non-blocking mode when a ``send()`` that
        found the send queue empty could not write all its data, and when a
        ``sendBuffer()`` leaves bytes queued: once per such call. Its
        ``EventData.details`` is the ``sendWaitData`` given to
        ``setNonBlocking()``."""
    )

    def connect(address, port):
        """Connect to ``address`` (IP address or host name) on ``port``.

        Returns True, or raises ``ConnectionError`` naming the address.
        """

    def accept(server):
        """Take the next connection waiting on ``server`` (an ``ITCPServerSocket``).

        Returns True. On a non-blocking server socket with no connection
        waiting, returns False at once.
        """

    def disconnect():
        """Close the connection; safe to call more than once."""

    def getRemoteEndpoint():
        """The peer's ``NetworkEndpoint``; None when not connected."""

    def getLocalEndpoint():
        """This end's ``NetworkEndpoint``; None when not connected."""

    def setNonBlocking(sendWaitData=None):
        """Switch to non-blocking mode; returns True.

        ``recv`` then returns at once, ``send`` queues what the kernel does
        not take, and ``sendWaitData`` is delivered with every ``sendWait``.
        """

    def sendBuffer():
        """Write queued bytes; returns how many were written by this call.

        Call it on each send-ready notification until ``getBufferUnsent()``
        is 0. Always 0 in blocking mode, where nothing is queued.
        """

    def getBufferUnsent():
        """How many bytes wait in the send queue (0 in blocking mode).

        The sum of every ``send()`` and ``sendBuffer()`` return plus this
        equals the sum of the lengths given to ``send()``.
        """

    def connected():
        """True while connected; False before, after ``disconnect()``, and
        once the peer has closed (in non-blocking mode this tells an empty
        ``recv()`` meaning "no data yet" from one meaning "closed")."""


class ITCPServerSocket(Interface):
    """A listening TCP socket (Dana ``net.TCPServerSocket``).

    Constants: ``ANY_ADDRESS`` ("ANY"), ``ANY_ADDRESS_v4`` ("ANY_v4"),
    ``ANY_ADDRESS_v6`` ("ANY_v6").
    """

    taggedValue(DANA_NAME, "net.TCPServerSocket")

    def bind(address, port, reuseAddress=False):
        """Listen on ``address`` (an IP address or an ``ANY_ADDRESS*``
        constant) and ``port`` (0 picks a free one).

        Returns True, or raises ``OSError`` naming the address.
        """

    def unbind():
        """Stop listening; safe to call more than once."""


class ITCPMonitor(Interface):
    """Waits for readiness on many sockets at once (Dana ``net.TCPMonitor``).

    Accepts any socket providing ``nettls.interfaces.ISelectable``,
    including server sockets (``recvReady`` there means a connection waits).
    """

    taggedValue(DANA_NAME, "net.TCPMonitor")

    def addSocket(s, userData=None):
        """Watch ``s`` for readability; ``userData`` comes back in its events.

        Returns True.
        """

    def armSendNotify(s):
        """Ask for one send-ready event for ``s`` (one-shot: one per call)."""

    def remSocket(s):
        """Stop watching ``s``; unknown sockets are ignored."""

    def wait(ms=None):
        """Wait up to ``ms`` milliseconds (None: for ever) for events.

        Returns a list of ``MonitorEvent``, one per ready socket, possibly
        empty on timeout. ``close`` is set when the peer closed or reset.
        """
