"""Vega-Lite charts drawn to PNG by vl-convert, in-process or by a small pool of drawing processes.

vl-convert compiles each chart in one JavaScript worker per process, so the threads of one process wait for each
other: a report's 13 charts took 3.3 s one after another and 3.1 s on two threads, but 1.6 s on two processes once
each had started its engine (docs/benchmarks.md). The pool is started on first use (a new process's first chart
costs a second or two, never paid by a server that prints no report), shared by every report of the process (so
concurrent reports never draw on more processes than there are cores), and replaced when a worker has died.

This module imports nothing heavy at the top: the drawing processes import it, and vl_convert, only.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time
import types
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

log = logging.getLogger(__name__)
MAX_PROCESSES = 2  # each keeps a JavaScript engine: about 150 MB once it has drawn a report

# A report waits at most this long for one chart: long beyond any healthy drawing (0.2 s; a few seconds on a loaded
# machine), so that a pool stuck for a reason nobody foresaw fails the report in French instead of holding it for ever.
CHART_WAIT_SECONDS = 60

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_of: weakref.WeakKeyDictionary[Future[bytes], ProcessPoolExecutor] = weakref.WeakKeyDictionary()
_spawning = threading.Lock()  # one thread at a time hides the main module (see _no_main_module)


def png(spec: dict[str, Any], width: int | None = 640) -> bytes:
    """A chart's Vega-Lite spec as a PNG image, `width` px wide or at its own size (rendered offline by vl-convert)."""
    import vl_convert

    return vl_convert.vegalite_to_png({**spec, "width": width} if width else spec, scale=2)


def processes() -> int:
    """How many drawing processes the pool keeps: one per core, at most MAX_PROCESSES."""
    return max(1, min(os.cpu_count() or 1, MAX_PROCESSES))


def _running_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            # Spawned, not forked: the app server runs threads (a fork could copy a lock held by one of them).
            _pool = ProcessPoolExecutor(
                processes(), mp_context=multiprocessing.get_context("spawn"), initializer=_exit_with_parent
            )
            threading.Thread(target=_watch, args=(_pool,), name="pvd-drawing-watch", daemon=True).start()
        return _pool


def _watch(pool: ProcessPoolExecutor) -> None:
    """End the pool as soon as one of its processes dies.

    concurrent.futures notices a dead worker by itself, except when it died while sending a result: the executor's
    thread then waits for the rest of a message on the pipe the workers share, which the others keep open, and every
    chart of every later report would wait for ever. Ending the pool (its processes killed, this process's end of the
    pipe closed) lets that thread read the end of the pipe: the charts waiting fail with BrokenProcessPool (the report
    says it in French) and the next report starts a new pool. (This reads the executor's own tables, those of
    Python 3.11.)
    """
    while not (pool._shutdown_thread or pool._broken):
        try:
            sentinels = [process.sentinel for process in list((pool._processes or {}).values())]
        except RuntimeError:  # the executor's thread changed its table during the copy
            continue
        if not sentinels:  # none started yet (they start with the first chart)
            time.sleep(0.5)
            continue
        if multiprocessing.connection.wait(sentinels, timeout=1.0) and not pool._shutdown_thread:
            log.warning("a chart drawing process died: its pool is ended, the next report starts new ones")
            _end(pool)
            return


def _end(pool: ProcessPoolExecutor) -> None:
    results = pool._result_queue  # (None once the pool is shut down)
    for process in list((pool._processes or {}).values()):
        with contextlib.suppress(OSError):
            process.kill()
    if results is not None:
        results._writer.close()  # type: ignore[attr-defined]
    _forget(pool)


def _exit_with_parent() -> None:
    """In a drawing process: end it as soon as the process that started it is gone, even killed (SIGKILL, out of
    memory), which never tells its workers: they waited for work for ever, about 150 MB each."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        watch = threading.Thread(target=_exit_when_readable, args=(parent.sentinel,), name="pvd-parent", daemon=True)
        watch.start()


def _exit_when_readable(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])  # the parent's end of this pipe closes when the parent ends
    os._exit(0)


@contextlib.contextmanager
def _no_main_module() -> Iterator[None]:
    """Spawn the drawing processes without the parent's main module.

    A spawned process runs its parent's `__main__` again before any work. Under Streamlit, `__main__` is the page
    script being run (main_page.py): each drawing process ran the whole app outside Streamlit (database opened and
    migrated, outbox thread started). The processes are spawned inside `submit`, so the main module is hidden
    during the submits, with a lock (it is the process's), and put back unless a script run replaced it meanwhile
    (no max_tasks_per_child: the executor's own thread never spawns).
    """
    neutral = types.ModuleType("__main__")  # no __file__ nor __spec__: nothing to run again in the child
    with _spawning:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = neutral
        try:
            yield
        finally:
            if sys.modules.get("__main__") is neutral and main is not None:
                sys.modules["__main__"] = main


def _forget(pool: ProcessPoolExecutor) -> None:
    """Drop a broken pool, so that the next drawing starts a new one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def draw_all(specs: list[dict[str, Any]]) -> list[Future[bytes]]:
    """Each spec's PNG (drawn at its own size), drawn by the pool in the order given, as futures.

    A pool whose worker died while idle (killed, out of memory) is replaced before anything is lost; a future whose
    worker dies while drawing fails with BrokenProcessPool, and the next call starts a new pool.
    """
    for attempt in (1, 2):
        pool = _running_pool()
        try:
            with _no_main_module():
                futures = [pool.submit(png, spec, None) for spec in specs]
        except (BrokenProcessPool, RuntimeError):  # RuntimeError: shut down by another report's _forget
            _forget(pool)
            if attempt == 2:
                raise
            log.warning("the chart drawing processes were gone: starting new ones")
            continue
        for future in futures:
            _pool_of[future] = pool
            future.add_done_callback(_forget_if_broken)
        return futures
    raise AssertionError("unreachable")


def result(future: Future[bytes]) -> bytes:
    """A chart's PNG from draw_all. If nothing comes within CHART_WAIT_SECONDS, its pool is ended (the next drawing
    starts a new one) and TimeoutError is raised: seen once, a worker killed while its pool was failing the other
    charts stopped the executor's own thread (Python 3.11), and the charts waiting were never answered."""
    try:
        return future.result(timeout=CHART_WAIT_SECONDS)
    except TimeoutError:
        pool = _pool_of.get(future)
        if pool is not None:
            log.warning("no chart drawn in %s s: the drawing processes are ended", CHART_WAIT_SECONDS)
            _end(pool)
        raise


def _forget_if_broken(done: Future[bytes]) -> None:
    pool = _pool_of.get(done)
    if pool is not None and not done.cancelled() and isinstance(done.exception(), BrokenProcessPool):
        _forget(pool)


def shutdown() -> None:
    """Stop the drawing processes (they are started again by the next drawing)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
