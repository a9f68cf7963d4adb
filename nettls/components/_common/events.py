"""Event plumbing: the ``sendWait`` event of sockets and sessions."""

from __future__ import annotations

from typing import Any, Callable

from zope.interface import implementer

from nettls.interfaces import EventData, IEvent

__all__ = ["Event"]

Listener = Callable[[EventData], Any]


@implementer(IEvent)
class Event:
    """An event source. Listeners are kept in a tuple replaced on every
    change (copy on write), so ``fire`` iterates without a lock and a
    listener may subscribe or unsubscribe while the event fires."""

    __slots__ = ("type", "_listeners")

    def __init__(self, type: str) -> None:
        self.type = type
        self._listeners: tuple[Listener, ...] = ()

    def subscribe(self, listener: Listener) -> None:
        if not callable(listener):
            raise TypeError(f"a {self.type} listener must be callable, not {type(listener).__name__}")
        if listener not in self._listeners:
            self._listeners = self._listeners + (listener,)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners = tuple(x for x in self._listeners if x != listener)

    def fire(self, source: Any, details: Any) -> None:
        """Call every listener with ``EventData(source, type, details)``."""
        listeners = self._listeners
        if listeners:
            data = EventData(source, self.type, details)
            for listener in listeners:
                listener(data)

    def __repr__(self) -> str:
        return f"<Event {self.type} listeners={len(self._listeners)}>"
