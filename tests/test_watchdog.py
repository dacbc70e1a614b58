"""The PG wire watchdog: deadlines fire on time, disarmed ones never, and its heap stays bounded."""

from __future__ import annotations

import threading
import time

from qdbtools.io.pgwire import _Watchdog


def _fired_within(event: threading.Event, seconds: float) -> float | None:
    started = time.monotonic()
    return time.monotonic() - started if event.wait(seconds) else None


def test_a_deadline_earlier_than_the_pending_ones_fires_on_time():
    watchdog = _Watchdog()
    late = threading.Event()
    watchdog.arm(60, late.set)  # the thread now sleeps until this one
    soon = threading.Event()
    watchdog.arm(0.05, soon.set)
    waited = _fired_within(soon, 5)
    assert waited is not None and waited < 2
    assert not late.is_set()


def test_a_deadline_later_than_the_pending_ones_fires_after_they_are_disarmed():
    watchdog = _Watchdog()
    first = watchdog.arm(0.05, lambda: None)
    watchdog.disarm(first)  # stays in the heap; the thread wakes for it and goes on
    later = threading.Event()
    watchdog.arm(0.2, later.set)  # not earlier than the pending one: the thread is not woken
    waited = _fired_within(later, 5)
    assert waited is not None and waited < 2


def test_disarmed_deadlines_never_fire_and_do_not_pile_up():
    watchdog = _Watchdog()
    fired = []
    for i in range(20 * _Watchdog.COMPACT_FROM):
        ticket = watchdog.arm(0.2 if i % 2 else 30, lambda i=i: fired.append(i))
        watchdog.disarm(ticket)
        armed, held = watchdog.pending()
        assert armed == 0
        assert held <= 2 * _Watchdog.COMPACT_FROM
    live = threading.Event()
    watchdog.arm(0.1, live.set)
    assert _fired_within(live, 5) is not None
    time.sleep(0.3)  # every short disarmed deadline has come up by now
    assert fired == []
    assert watchdog.pending()[0] == 0
