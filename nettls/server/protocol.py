"""The application's side of ``nettls.server``: a connection handler and the
transport it writes to, in the manner of Dana's and Twisted's protocols.

The server makes one handler per connection (``Server(handler=factory)``
calls ``factory()``) once the TLS handshake is done, and calls it from its
one thread: ``connectionMade(transport)`` first, then ``dataReceived(data)``
for each piece of plaintext the client sends, ``resumeWriting()`` when a
queue that was full has drained, and ``connectionLost(reason)`` last, once.
The handler answers through the transport: ``write(data)`` and
``close(outcome)``. A handler never blocks: anything slow belongs on the
server's loop (``Server.loop.call_later``) or in another thread that hands
its result back with ``Server.loop.call_soon`` and ``Server.loop.wake()``.

Flow control. ``write()`` queues at once and returns False once the
connection holds more than ``HIGH_WATER`` bytes for the client (it is not
reading fast enough); a handler that produces data on its own stops
writing until ``resumeWriting()``. Reading stops on its own above the same
mark, so a handler that only answers what it receives needs to do nothing.
A write made while the connection already holds more than ``WRITE_LIMIT``
(the handler went on after ``write()`` said stop) is not queued: the
connection is ended instead, and ``connectionLost`` says that the client
does not read. So what a connection holds stays under ``WRITE_LIMIT`` plus
twice the handler's largest write (plaintext, and its ciphertext in the
socket's queue, are both counted), whatever the client does (SPEC 14).
"""

from __future__ import annotations

from zope.interface import Attribute, Interface, implementer

__all__ = ["IServerTransport", "IConnectionHandler", "ConnectionHandler"]


class IServerTransport(Interface):
    """One client connection, as its handler sees it."""

    peer = Attribute("The client's address: ``HOST:PORT`` (``[ADDR]:PORT`` for IPv6).")
    protocol = Attribute("The negotiated protocol version (``TLSv1.3``), or None when the component does not say.")
    cipher = Attribute("The negotiated cipher suite, or None when the component does not say.")
    session = Attribute(
        "The connection's ``ITLS`` session, for what it knows (the peer's certificate, the "
        "server name); reading and writing go through the transport, never the session."
    )

    def write(data):
        """Queue ``data`` (bytes) for the client.

        Returns True while the connection holds at most ``HIGH_WATER`` bytes
        for the client, False above it: stop producing until
        ``resumeWriting()``. A write while more than ``WRITE_LIMIT`` is held
        ends the connection instead (and returns False).
        After ``close()``, or once the connection has ended, a write is
        ignored and returns False.
        """

    def close(outcome=None):
        """End the connection: what was written goes out, then close_notify.

        ``outcome`` (a short text) ends the connection's log line; it may
        quote the client (it is escaped). No more ``dataReceived`` calls
        follow; ``connectionLost`` does, once the connection is done.
        """

    def holdDeadline(what):
        """Stop pushing the idle deadline back when data moves.

        From the handshake's end the connection then has the idle timeout,
        however slowly the client keeps sending, to be done (an HTTP server's
        request head). At the deadline it is closed with the outcome
        ``"{what} for N s: closed"``, and when the client ends its stream
        first, ``"; {what}"`` follows the reason. Calling it again changes
        ``what`` only.
        """


class IConnectionHandler(Interface):
    """An application protocol on one connection; see the module docstring."""

    def connectionMade(transport):
        """The handshake is done: ``transport`` (an ``IServerTransport``) is
        this connection's, for the handler's whole life."""

    def dataReceived(data):
        """``data`` (bytes, never empty) arrived from the client, in order.
        Its boundaries are the TLS records', not the application's messages."""

    def resumeWriting():
        """The queue that made ``write()`` return False has drained to
        ``LOW_WATER``: writing may go on."""

    def connectionLost(reason):
        """The connection is done (``reason``: the text its log line ends
        with). The last call; the transport ignores writes from now on."""


@implementer(IConnectionHandler)
class ConnectionHandler:
    """A handler that does nothing: subclass it and override what you need.

    ``connectionMade`` keeps the transport as ``self.transport``.
    """

    __slots__ = ("transport",)  # small per connection (a subclass without __slots__ gets a __dict__ as usual)

    transport: IServerTransport

    def connectionMade(self, transport: IServerTransport) -> None:
        self.transport = transport

    def dataReceived(self, data: bytes) -> None:
        pass

    def resumeWriting(self) -> None:
        pass

    def connectionLost(self, reason: str) -> None:
        pass
