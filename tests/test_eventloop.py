"""The event loop over ITCPMonitor (nettls.eventloop): real sockets, real monitor."""

from __future__ import annotations

import math
import threading

import pytest

import nettls
from nettls.eventloop import EventLoop

TCPSocket = nettls.resolve("net.TCPSocket")
TCPServerSocket = nettls.resolve("net.TCPServerSocket")


@pytest.fixture
def loop():
    with EventLoop() as the_loop:
        yield the_loop


@pytest.fixture
def pair():
    """A connected pair of non-blocking TCP component sockets on loopback."""
    listener = TCPServerSocket()
    assert listener.bind("127.0.0.1", 0)
    port = listener.getLocalEndpoint().port
    client = TCPSocket()
    assert client.connect("127.0.0.1", port)
    server = TCPSocket()
    assert server.accept(listener)
    for sock in (client, server):
        sock.setNonBlocking()
    yield client, server
    for sock in (client, server):
        sock.disconnect()
    listener.unbind()


def test_timers_fire_in_time_order(loop):
    fired = []
    now = loop.time()
    loop.call_at(now + 0.03, lambda: fired.append("c"))
    loop.call_at(now + 0.01, lambda: fired.append("a"))
    loop.call_at(now + 0.02, lambda: fired.append("b"))
    assert loop.run(lambda: len(fired) == 3, timeout=10)
    assert fired == ["a", "b", "c"]


def test_a_cancelled_timer_does_not_fire(loop):
    fired = []
    timer = loop.call_later(0.0, lambda: fired.append("no"))
    loop.call_later(0.01, lambda: fired.append("yes"))
    timer.cancel()
    timer.cancel()  # twice is fine
    assert loop.run(lambda: "yes" in fired, timeout=10)
    assert fired == ["yes"] and timer.cancelled


def test_a_timer_moved_later_fires_at_the_new_time_only_once(loop):
    fired = []
    timer = loop.call_later(0.0, lambda: fired.append(loop.time()))
    later = loop.time() + 0.05
    timer.move(later)
    loop.call_at(later + 0.05, lambda: fired.append("end"))
    assert loop.run(lambda: "end" in fired, timeout=10)
    assert len(fired) == 2 and fired[0] >= later


def test_a_timer_moved_earlier_fires_early(loop):
    fired = []
    timer = loop.call_later(3600, lambda: fired.append("moved"))
    timer.move(loop.time())
    assert loop.run(lambda: bool(fired), timeout=10)


def test_a_fired_timer_can_be_armed_again(loop):
    fired = []
    timer = loop.call_later(0, lambda: fired.append(1))
    assert loop.run(lambda: len(fired) == 1, timeout=10)
    timer.move(loop.time())
    assert loop.run(lambda: len(fired) == 2, timeout=10)


def test_moving_timers_keeps_the_heap_proportional_to_live_timers(loop):
    timers = [loop.call_later(3600, lambda: None) for _ in range(10)]
    for step in range(20_000):
        timers[step % 10].move(loop.time() + 3600 - step * 1e-3)  # earlier each time: a new entry
    assert len(loop._timers) <= 2 * 10 + 1024 + 1


def test_call_soon_runs_next_turn_and_does_not_starve_others(loop, pair):
    client, server = pair
    turns = []

    def again() -> None:  # re-queues itself for ever
        turns.append("soon")
        loop.call_soon(again)

    got = []
    loop.watch(server, lambda event: got.append(server.recv(100)))
    loop.call_soon(again)
    assert client.send(b"ping") == 4
    assert loop.run(lambda: b"ping" in got, timeout=10)
    assert turns  # the busy callback ran, and the socket's event still came


def test_watch_calls_the_handler_with_the_event(loop, pair):
    client, server = pair
    events = []
    loop.watch(server, events.append)
    client.send(b"hello")
    assert loop.run(lambda: bool(events), timeout=10)
    assert events[0].recvReady and events[0].socket is server
    assert server.recv(5) == b"hello"
    loop.unwatch(server)
    loop.unwatch(server)  # unknown now: ignored


def test_want_write_gives_one_send_ready_event(loop, pair):
    _client, server = pair
    events = []
    loop.watch(server, events.append)
    loop.want_write(server)
    assert loop.run(lambda: bool(events), timeout=10)
    assert events[0].sendReady
    count = len(events)
    loop.run(timeout=0.05)
    assert len(events) == count  # one-shot


def test_stop_from_another_thread_ends_a_long_wait(loop):
    threading.Timer(0.05, loop.stop).start()
    assert loop.run(timeout=30) is True  # by stop(), not by the timeout


def test_run_returns_false_on_its_timeout_and_can_run_again(loop):
    assert loop.run(timeout=0.01) is False
    loop.stop()
    assert loop.run(timeout=10) is True
    assert loop.run(timeout=0.01) is False  # the stop was used up


def test_a_handlers_exception_reaches_the_caller(loop, pair):
    client, server = pair

    def broken(event: object) -> None:
        raise RuntimeError("bug in a handler")

    loop.watch(server, broken)
    client.send(b"x")
    with pytest.raises(RuntimeError, match="bug in a handler"):
        loop.run(timeout=10)


def test_without_a_waker_waits_are_cut_to_the_tick():
    with EventLoop(wakeable=False, tick=0.01) as loop:
        threading.Timer(0.05, loop.stop).start()
        assert loop.run(timeout=30) is True


def test_close_is_idempotent():
    loop = EventLoop()
    loop.close()
    loop.close()


class OwnSocketsOnly:
    """A monitor that refuses sockets other than the TCP component's own (as a
    third party's might): ``addSocket`` raises TypeError, or returns False."""

    def __init__(self, refuse_by_raising: bool) -> None:
        self.inner = nettls.resolve("net.TCPMonitor")()
        self.refuse_by_raising = refuse_by_raising

    def addSocket(self, s, userData=None):
        if not isinstance(s, (TCPSocket, TCPServerSocket)):
            if self.refuse_by_raising:
                raise TypeError("only my own sockets")
            return False
        return self.inner.addSocket(s, userData)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("raising", [True, False], ids=["TypeError", "False"])
def test_a_monitor_that_refuses_the_waker_falls_back_to_the_tick(raising, pair):
    client, server = pair
    with EventLoop(OwnSocketsOnly(raising), tick=0.01) as loop:
        threading.Timer(0.05, loop.stop).start()
        started = loop.time()
        assert loop.run(timeout=30) is True
        assert loop.time() - started < 5, "stop() was not seen within a tick (0.01 s)"
        got = []
        loop.watch(server, lambda event: got.append(server.recv(10)))
        client.send(b"still")
        assert loop.run(lambda: bool(got), timeout=10)
        assert got == [b"still"]


def test_a_timer_moved_to_never_leaves_no_heap_entry(loop):
    fired = []
    timer = loop.call_later(0, lambda: fired.append("no"))
    timer.move(math.inf)  # later: the old entry stays until it comes up ...
    loop.run(timeout=0.02)
    assert not fired and loop._timers == []  # ... and is not pushed again at infinity
    timer.move(loop.time())  # armed again at a real time
    assert loop.run(lambda: bool(fired), timeout=10)


def test_call_soon_from_other_threads_runs_every_callback_once(loop):
    threads, each = 4, 3000
    ran = []

    def feed(n: int) -> None:
        for i in range(each):
            loop.call_soon(lambda i=i: ran.append((n, i)))
            if i % 100 == 0:
                loop.wake()
        loop.wake()

    feeders = [threading.Thread(target=feed, args=(n,)) for n in range(threads)]
    for t in feeders:
        t.start()
    assert loop.run(lambda: len(ran) >= threads * each and not any(t.is_alive() for t in feeders), timeout=30)
    for t in feeders:
        t.join(10)
    loop.run(timeout=0.01)
    assert sorted(ran) == [(n, i) for n in range(threads) for i in range(each)]
