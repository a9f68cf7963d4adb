"""One small event loop over ``ITCPMonitor``: readiness, timers, wake-up, stop.

Everything in nettls that drives non-blocking sockets on one thread (the
server, the demo's monitor cell, ``nettls connect``, the conformance
driver, the benchmarks) runs on this loop, so the monitor's rules are
followed in one place:

- ``watch(sock, handler)`` registers a socket (any ``ISelectable``: a
  ``TCPSocket``, a ``TCPServerSocket``) with the monitor; each of its events
  calls ``handler(event)`` (a ``MonitorEvent``: ``recvReady``,
  ``sendReady``, ``close``). Send-ready is one-shot, as Dana has it:
  ``want_write(sock)`` asks for the next one (wire a session's
  ``sendWait`` event to it).
- ``call_later``/``call_at`` schedule a callback (a ``Timer`` that can be
  cancelled or moved), ``call_soon`` one for the next turn, before the loop
  waits again (a connection with more to do than one turn allows).
- ``stop()`` and ``wake()`` may be called from any thread or a signal
  handler: a socket pair the monitor watches makes ``wait()`` return at
  once.

One turn (``run_once``): wait for events no longer than the earliest timer
(not at all when ``call_soon`` callbacks are queued), call the handlers of
the events, then the due timers, then the callbacks queued before the turn
began. A callback that queues another runs it next turn, so one busy
connection cannot starve the others. Handlers' exceptions propagate to the
caller of ``run``/``run_once``: a program that must survive a bug in one
connection (the server) guards its own handlers.

Bounds: a turn does the work its events, due timers and queued callbacks
ask for, no more; timers cancelled or moved leave stale heap entries, which
are dropped when they come up or, when they outnumber live timers, all at
once (so the heap stays proportional to the live timers).
"""

from __future__ import annotations

import heapq
import itertools
import math
import socket
import time
from collections import deque
from typing import Any, Callable

from zope.interface import implementer

from .interfaces import ISelectable

__all__ = ["EventLoop", "Timer"]

#: Longest single wait, in seconds: ``wait(None)`` would block for ever and
#: some monitors take only milliseconds as an int; a minute costs nothing.
MAX_WAIT = 60.0


@implementer(ISelectable)
class _Waker:
    """The read end of a socket pair the monitor watches: a byte written to the
    other end (``wake``) ends the monitor's ``wait`` at once, from any thread
    or a signal handler."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)

    def fileno(self) -> int:
        return self._r.fileno()

    def isNonBlocking(self) -> bool:
        return True

    def wake(self) -> None:
        try:
            self._w.send(b"\0")
        except OSError:  # full (a wake-up is pending anyway) or already closed
            pass

    def drain(self, _event: object = None) -> None:
        try:
            while self._r.recv(4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self._r.close()
        self._w.close()


class Timer:
    """A scheduled callback; ``cancel()`` it or ``move()`` it to another time."""

    __slots__ = ("when", "callback", "_loop", "_heap_at", "_cancelled")

    def __init__(self, loop: EventLoop, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self._loop = loop
        self._heap_at = math.inf  # the time of this timer's live heap entry
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Do not call the callback (its heap entry is dropped when it comes up)."""
        if not self._cancelled:
            self._cancelled = True
            self._loop._live_timers -= 1

    def move(self, when: float) -> None:
        """Run at ``when`` (a ``time.monotonic()`` value) instead.

        Cheap when the timer moves later, the usual case for a deadline
        pushed back by activity: the entry in the heap stays, and when it
        comes up early it is put back at the new time. A timer that fired or
        was cancelled is armed again.
        """
        if self._cancelled:
            self._cancelled = False
            self._loop._live_timers += 1
            self._heap_at = math.inf
        self.when = when
        if when < self._heap_at:
            self._loop._push(self)

    def __repr__(self) -> str:
        state = "cancelled" if self._cancelled else f"at {self.when:.3f}"
        return f"<Timer {state} {self.callback!r}>"


class EventLoop:
    """A loop over one ``ITCPMonitor``; see the module docstring.

    Args:
        monitor: the monitor to drive; by default a new one of the linked
            ``net.TCPMonitor`` (or ``tcp_component``'s).
        tcp_component: the TCP component whose monitor to make.
        wakeable: watch a socket pair so that ``stop()``/``wake()`` from
            another thread or a signal handler end a wait at once. Without
            it (or when the monitor refuses the pair: a monitor that takes
            only its own sockets), waits are cut to ``tick`` seconds so a
            stop is seen soon.
        tick: the longest wait when not wakeable.
    """

    def __init__(
        self,
        monitor: Any = None,
        *,
        tcp_component: str | None = None,
        wakeable: bool = True,
        tick: float = 0.25,
    ) -> None:
        if monitor is None:
            from .registry import resolve

            monitor = resolve("net.TCPMonitor", component=tcp_component)()
        self.monitor = monitor
        self._timers: list[tuple[float, int, Timer]] = []
        self._live_timers = 0
        self._seq = itertools.count()
        self._soon: deque[Callable[[], object]] = deque()
        self._stopping = False
        self._closed = False
        self._tick = tick
        self._waker: _Waker | None = None
        if wakeable:
            self._waker = self._add_waker(monitor)

    @staticmethod
    def _add_waker(monitor: Any) -> _Waker | None:
        """A waker the monitor watches, or None when the monitor refuses a
        socket of ours (TypeError or False): then waits are cut to the tick."""
        waker = _Waker()
        try:
            watched = monitor.addSocket(waker, waker.drain)
        except TypeError:  # a monitor that takes only its own sockets
            watched = False
        if not watched:
            waker.close()
            return None
        return waker

    # -- sockets ------------------------------------------------------------------

    def watch(self, sock: Any, handler: Callable[[Any], object]) -> None:
        """Call ``handler(event)`` for each of ``sock``'s monitor events."""
        self.monitor.addSocket(sock, handler)

    def unwatch(self, sock: Any) -> None:
        """Stop watching ``sock`` (unknown sockets are ignored)."""
        self.monitor.remSocket(sock)

    def want_write(self, sock: Any, *_: object) -> None:
        """Ask for one send-ready event for ``sock``.

        Extra arguments are ignored, so ``partial(loop.want_write, sock)``
        can be subscribed to a session's ``sendWait`` event as it is.
        """
        self.monitor.armSendNotify(sock)

    # -- callbacks ----------------------------------------------------------------

    @staticmethod
    def time() -> float:
        """The loop's clock (``time.monotonic()``)."""
        return time.monotonic()

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        """Call ``callback()`` once the clock reaches ``when``."""
        timer = Timer(self, when, callback)
        self._live_timers += 1
        self._push(timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Call ``callback()`` in ``delay`` seconds."""
        return self.call_at(time.monotonic() + delay, callback)

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` next turn, before the loop waits again.

        Safe from another thread (then ``wake()`` the loop, so that it does
        not finish a long wait first): the one way to hand work to it.
        """
        self._soon.append(callback)

    # -- running ------------------------------------------------------------------

    def run(self, until: Callable[[], bool] | None = None, *, timeout: float | None = None) -> bool:
        """Turn until ``stop()``, until ``until()`` is true, or ``timeout`` seconds.

        Returns True when it ended by ``stop()`` or ``until()``, False on
        the timeout. ``stop()`` is forgotten on return, so the loop can run
        again.
        """
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        try:
            while not self._stopping:
                if until is not None and until():
                    return True
                now = time.monotonic()
                if now >= deadline:
                    return False
                self.run_once(deadline - now)
            return True
        finally:
            self._stopping = False

    def run_once(self, timeout: float = MAX_WAIT) -> None:
        """One turn: wait (at most ``timeout`` seconds), then events, timers, callbacks."""
        wait = self._wait_for(time.monotonic(), timeout)
        self._dispatch(self.monitor.wait(wait * 1000.0))
        if self._timers and self._timers[0][0] <= time.monotonic():
            self._run_timers(time.monotonic())
        soon = self._soon
        for _ in range(len(soon)):  # those queued so far; what they queue waits for the next turn
            soon.popleft()()

    def stop(self) -> None:
        """End ``run()`` after the current turn; safe from any thread or a signal handler."""
        self._stopping = True
        self.wake()

    def wake(self) -> None:
        """End the current wait at once (no-op when the loop is not wakeable)."""
        if self._waker is not None:
            self._waker.wake()

    def close(self) -> None:
        """Let go of the monitor and the wake-up sockets; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._waker is not None:
            self.monitor.remSocket(self._waker)
            self._waker.close()
        close = getattr(self.monitor, "close", None)
        if close is not None:
            close()
        self._timers.clear()
        self._soon.clear()

    def __enter__(self) -> EventLoop:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the turn's parts ---------------------------------------------------------

    def _wait_for(self, now: float, timeout: float) -> float:
        if self._soon or self._stopping:
            return 0.0
        limit = min(timeout, MAX_WAIT if self._waker is not None else self._tick)
        if self._timers:
            limit = min(limit, self._timers[0][0] - now)
        return max(limit, 0.0)

    @staticmethod
    def _dispatch(events: list[Any]) -> None:
        """Call each event's handler. A function of its own so the list (each
        event holds its socket) is let go of before the next wait."""
        for event in events:
            event.userData(event)

    def _push(self, timer: Timer) -> None:
        if timer.when == math.inf:  # never due: no entry (a move to a real time pushes one)
            return
        timer._heap_at = timer.when
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        if len(self._timers) > 2 * self._live_timers + 1024:
            self._prune()

    def _prune(self) -> None:
        """Keep only live entries: cancelled timers and superseded entries go."""
        live = [e for e in self._timers if not e[2]._cancelled and e[0] == e[2]._heap_at]
        heapq.heapify(live)
        self._timers = live

    def _run_timers(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            at, _, timer = heapq.heappop(timers)
            if timer._cancelled or at != timer._heap_at:
                continue  # cancelled, or superseded by an earlier entry
            timer._heap_at = math.inf
            if timer.when > now:  # moved later since this entry was pushed
                self._push(timer)
                timers = self._timers
                continue
            timer._cancelled = True  # fired: it is done
            self._live_timers -= 1
            timer.callback()
            timers = self._timers  # a prune in the callback replaces the list
