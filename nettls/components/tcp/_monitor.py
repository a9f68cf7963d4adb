"""``TCPMonitor``: readiness of many sockets at once, and its OS back ends.

Theory of operation
-------------------

On Linux ``TCPMonitor`` drives ``select.epoll`` directly,
registering ``EPOLLIN | EPOLLRDHUP`` so that a peer's FIN or reset is seen
as ``close`` without a read; elsewhere it uses ``selectors`` and tells a
close by peeking one byte (``MSG_PEEK``) when a socket turns readable.
``armSendNotify`` adds write interest and the first writable report drops
it again (one-shot). The kernel forgets a descriptor when it is closed, so a
socket disconnected while watched simply stops reporting; its entry is
dropped at ``remSocket`` or when its descriptor number is reused, and the
selectors fallback checks ``fileno()`` on each report. ``wait`` allocates
nothing per event beyond the ``MonitorEvent``.
"""

from __future__ import annotations

import select
import selectors
import threading
from typing import Any, Callable, Protocol

from zope.interface import implementer

from nettls.interfaces import ISelectable, ITCPMonitor, MonitorEvent

__all__ = ["TCPMonitor"]


class _Poller(Protocol):
    """What ``TCPMonitor`` needs from an OS readiness API. Reports are
    ``(fd, mask)`` with ``mask`` tested against ``IN``, ``OUT`` and ``CLOSED``."""

    IN: int
    OUT: int
    CLOSED: int

    def register(self, fd: int, obj: Any, write: bool) -> None: ...

    def modify(self, fd: int, obj: Any, write: bool) -> None: ...

    def unregister(self, fd: int, live: bool) -> None: ...

    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]: ...

    def close(self) -> None: ...


class _EpollPoller:
    """Linux: epoll with EPOLLRDHUP, so a peer's FIN or reset shows without a read."""

    IN = getattr(select, "EPOLLIN", 0)
    OUT = getattr(select, "EPOLLOUT", 0)
    CLOSED = getattr(select, "EPOLLRDHUP", 0) | getattr(select, "EPOLLHUP", 0) | getattr(select, "EPOLLERR", 0)
    _READ = IN | getattr(select, "EPOLLRDHUP", 0)

    def __init__(self) -> None:
        self._epoll = select.epoll()

    def register(self, fd: int, obj: Any, write: bool) -> None:
        mask = self._READ | self.OUT if write else self._READ
        try:
            self._epoll.register(fd, mask)
        except FileExistsError:  # this very descriptor is registered already
            self._epoll.modify(fd, mask)

    def modify(self, fd: int, obj: Any, write: bool) -> None:
        self._epoll.modify(fd, self._READ | self.OUT if write else self._READ)

    def unregister(self, fd: int, live: bool) -> None:
        if live:  # the kernel dropped a closed descriptor by itself
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass

    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]:
        return self._epoll.poll(timeout, maxevents)

    def close(self) -> None:
        self._epoll.close()


class _SelectorPoller:
    """Portable: ``selectors``; a close is told by peeking at a readable socket."""

    IN = selectors.EVENT_READ
    OUT = selectors.EVENT_WRITE
    CLOSED = 4

    def __init__(self, selector: Callable[[], selectors.BaseSelector] = selectors.DefaultSelector) -> None:
        self._selector = selector()

    def register(self, fd: int, obj: Any, write: bool) -> None:
        mask = selectors.EVENT_READ | selectors.EVENT_WRITE if write else selectors.EVENT_READ
        try:
            self._selector.register(fd, mask, obj)
        except KeyError:  # registered already, perhaps for a descriptor since closed
            self._selector.unregister(fd)
            self._selector.register(fd, mask, obj)

    def modify(self, fd: int, obj: Any, write: bool) -> None:
        self._selector.modify(fd, selectors.EVENT_READ | selectors.EVENT_WRITE if write else selectors.EVENT_READ, obj)

    def unregister(self, fd: int, live: bool) -> None:
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError, OSError):
            pass

    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]:
        wait = None if timeout < 0 else timeout
        try:
            ready = self._selector.select(wait)
        except (OSError, ValueError):  # select() refuses a closed descriptor
            self._drop_stale()
            ready = self._selector.select(wait)
        reports = []
        for key, mask in ready:
            obj = key.data
            if obj.fileno() != key.fd:  # closed while watched
                self.unregister(key.fd, False)
                continue
            if mask & selectors.EVENT_READ:
                peer_gone = getattr(obj, "_peer_gone", None)
                if peer_gone is not None and peer_gone():
                    mask |= self.CLOSED
            reports.append((key.fd, mask))
        return reports

    def close(self) -> None:
        self._selector.close()

    def _drop_stale(self) -> None:
        for key in list(self._selector.get_map().values()):
            if key.data.fileno() != key.fd:
                self.unregister(key.fd, False)


_HAS_EPOLL = hasattr(select, "epoll") and hasattr(select, "EPOLLRDHUP")


def _default_poller() -> _Poller:
    return _EpollPoller() if _HAS_EPOLL else _SelectorPoller()


class _Entry:
    """One watched socket."""

    __slots__ = ("socket", "userData", "fd", "armed")

    def __init__(self, sock: Any, userData: Any, fd: int) -> None:
        self.socket = sock
        self.userData = userData
        self.fd = fd
        self.armed = False


@implementer(ITCPMonitor)
class TCPMonitor:
    """Readiness of many sockets at once; see ``ITCPMonitor``.

    ``wait`` runs in one thread; ``addSocket``, ``armSendNotify`` and
    ``remSocket`` may be called from others meanwhile.
    """

    __slots__ = ("_poller", "_by_fd", "_by_socket", "_lock", "__weakref__")

    _poller_factory: Callable[[], _Poller] = staticmethod(_default_poller)

    def __init__(self) -> None:
        self._poller: _Poller | None = self._poller_factory()
        self._by_fd: dict[int, _Entry] = {}
        self._by_socket: dict[int, _Entry] = {}  # id(socket): the entry holds the socket alive
        self._lock = threading.Lock()

    def addSocket(self, s: Any, userData: Any = None) -> bool:
        """See ``ITCPMonitor.addSocket``; adding a watched socket again replaces its
        ``userData``. False (nothing watched) when ``s`` is closed."""
        if not ISelectable.providedBy(s):
            raise TypeError(
                "addSocket() takes a socket providing nettls.interfaces.ISelectable "
                f"(fileno() and isNonBlocking()), such as a TCPSocket or TCPServerSocket, not {type(s).__name__}"
            )
        poller = self._live_poller("addSocket")
        fd = s.fileno()
        if fd < 0:
            return False
        with self._lock:
            entry = self._by_socket.get(id(s))
            if entry is not None:
                if entry.fd == fd:
                    # Register again: the socket may have been reconnected
                    # under the same number, which the kernel forgot at close.
                    poller.register(fd, s, entry.armed)
                    entry.userData = userData
                    return True
                self._forget(entry)  # reconnected under a new number
            stale = self._by_fd.get(fd)
            if stale is not None:  # another socket's, closed while watched
                self._forget(stale)
            poller.register(fd, s, False)
            entry = _Entry(s, userData, fd)
            self._by_fd[fd] = entry
            self._by_socket[id(s)] = entry
        return True

    def armSendNotify(self, s: Any) -> bool:
        """See ``ITCPMonitor.armSendNotify``; arming twice before the event is arming
        once. False when ``s`` is not watched or is closed."""
        poller = self._live_poller("armSendNotify")
        with self._lock:
            entry = self._by_socket.get(id(s))
            if entry is None or s.fileno() != entry.fd:
                return False
            if not entry.armed:
                try:
                    poller.modify(entry.fd, s, True)
                except OSError:
                    return False
                entry.armed = True
        return True

    def remSocket(self, s: Any) -> None:
        """See ``ITCPMonitor.remSocket``."""
        with self._lock:
            entry = self._by_socket.get(id(s))
            if entry is not None and self._poller is not None:
                self._forget(entry)

    def wait(self, ms: float | None = None) -> list[MonitorEvent]:
        """See ``ITCPMonitor.wait``."""
        poller = self._live_poller("wait")
        if ms is None:
            timeout = -1.0
        elif isinstance(ms, bool) or not isinstance(ms, (int, float)):
            raise TypeError(f"wait() takes milliseconds as a number or None, not {type(ms).__name__}")
        elif ms < 0:
            raise ValueError(f"wait() takes a number of milliseconds >= 0 or None, not {ms}")
        else:
            timeout = ms / 1000.0
        ready = poller.poll(timeout, len(self._by_fd) or 1)
        receive, send, closed = poller.IN, poller.OUT, poller.CLOSED
        by_fd = self._by_fd
        events = []
        for fd, mask in ready:
            entry = by_fd.get(fd)
            if entry is None:
                continue
            send_ready = False
            if mask & send and entry.armed:
                send_ready = True
                self._disarm(entry)
            recv_ready = bool(mask & receive)
            close = bool(mask & closed)
            if recv_ready or send_ready or close:
                events.append(MonitorEvent(entry.socket, entry.userData, recv_ready, send_ready, close))
        return events

    def close(self) -> None:
        """Release the OS selector; later calls raise ValueError. Safe to repeat."""
        with self._lock:
            poller, self._poller = self._poller, None
            self._by_fd.clear()
            self._by_socket.clear()
        if poller is not None:
            poller.close()

    def __len__(self) -> int:
        return len(self._by_socket)

    def __enter__(self) -> TCPMonitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._poller is None:
            return "<TCPMonitor closed>"
        return f"<TCPMonitor {type(self._poller).__name__[1:-6].lower()} watching {len(self._by_socket)}>"

    # internals

    def _live_poller(self, call: str) -> _Poller:
        poller = self._poller
        if poller is None:
            raise ValueError(f"{call}() on a closed TCPMonitor")
        return poller

    def _forget(self, entry: _Entry) -> None:
        """Drop ``entry``; called with the lock held."""
        if self._by_socket.get(id(entry.socket)) is entry:
            del self._by_socket[id(entry.socket)]
        if self._by_fd.get(entry.fd) is entry:  # else the number is another socket's now
            del self._by_fd[entry.fd]
            assert self._poller is not None
            self._poller.unregister(entry.fd, entry.socket.fileno() == entry.fd)

    def _disarm(self, entry: _Entry) -> None:
        with self._lock:
            if entry.armed and self._poller is not None:
                entry.armed = False
                try:
                    self._poller.modify(entry.fd, entry.socket, False)
                except OSError:  # closed meanwhile
                    pass

