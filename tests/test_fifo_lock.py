"""db.FifoLock: SQLite writers of one process are served in arrival order, and the lock is re-entrant."""

from __future__ import annotations

import threading

import pytest

from pvd_survey.db import FifoLock

pytestmark = pytest.mark.database_independent  # pure: run once, on SQLite (see conftest)


def test_waiters_are_served_in_arrival_order(arrivals):
    lock = FifoLock()
    served: list[int] = []
    lock.__enter__()  # held while the others line up
    threads = []
    for number in range(8):
        thread = threading.Thread(target=lambda n=number: (lock.__enter__(), served.append(n), lock.__exit__()))
        thread.start()
        threads.append(thread)
        assert arrivals.acquire(timeout=5)  # it is waiting before the next one arrives
    assert served == []
    lock.__exit__()
    for thread in threads:
        thread.join(timeout=5)
    assert served == list(range(8))


def test_the_owner_can_enter_again_and_others_wait_for_the_last_exit(arrivals):
    lock = FifoLock()
    entered = threading.Event()
    with lock:
        with lock:
            pass
        other = threading.Thread(target=lambda: (lock.__enter__(), entered.set(), lock.__exit__()))
        other.start()
        assert arrivals.acquire(timeout=5)  # the other thread waits...
        assert not entered.is_set()  # ...since the outer block still holds the lock
    assert entered.wait(5)
    other.join(timeout=5)
