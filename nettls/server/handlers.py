"""The two handlers ``nettls serve`` offers: echo (the default) and a small
HTTPS page (``--http``). Each is what an application's handler looks like."""

from __future__ import annotations

from .http import HeadTooLong, Reply, RequestHead, answer, bad_request
from .protocol import ConnectionHandler, IServerTransport

__all__ = ["EchoHandler", "HttpHandler"]


class EchoHandler(ConnectionHandler):
    """Sends back what it receives. When the client does not read, the
    server stops reading it (no flow control needed here)."""

    __slots__ = ()

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class HttpHandler(ConnectionHandler):
    """Answers one HTTP request with a small page naming the request, the
    protocol and the cipher, then closes; a request head that does not end
    within ``HTTP_HEADER_LIMIT`` bytes, or a bad request line, gets a 400.
    The head must be complete within the idle timeout of the handshake,
    however slowly it trickles in.

    Args:
        component: the TLS component's name, for the page.
    """

    __slots__ = ("component", "head")

    def __init__(self, component: str) -> None:
        self.component = component
        self.head = RequestHead()

    def connectionMade(self, transport: IServerTransport) -> None:
        super().connectionMade(transport)
        transport.holdDeadline("request incomplete")

    def dataReceived(self, data: bytes) -> None:
        try:
            complete = self.head.feed(data)
        except HeadTooLong as exc:
            self._respond(bad_request(str(exc)))
            return
        if complete is not None:
            transport = self.transport
            self._respond(answer(complete, transport.protocol, transport.cipher, self.component))

    def _respond(self, reply: Reply) -> None:
        """The whole response in one write, then close_notify (the server
        passes no more data once the handler has closed)."""
        self.transport.write(reply.data)
        self.transport.close(reply.outcome)
