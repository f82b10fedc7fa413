"""Attacks on the report's drawing processes (pvd_survey/drawing.py): reports printed at once while the processes
are killed, the process that started them killed, a report printed from a Streamlit page, the CLI's exit."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pypdf
import pytest

from tests import test_pages
from tests.conftest import PROJECT_ROOT
from tests.factories import cli_environment
from tests.test_pages import World

world = test_pages.world  # the fixture: an administrator, a direction member and a recruiter

GENEROUS = 120  # seconds: what two shared, loaded cores can take, far beyond a healthy run


def _chart(number: int) -> dict:
    """A small chart of its own (its own bars and title), so that an image put in another's place is seen."""
    return {
        "title": f"Graphique {number}",
        "data": {"values": [{"a": n, "b": (n * (number + 3)) % 11 + 1} for n in range(12)]},
        "mark": "bar",
        "encoding": {"x": {"field": "a", "type": "ordinal"}, "y": {"field": "b", "type": "quantitative"}},
    }


def _draft(charts: int = 6):
    from pvd_survey import report

    made = report._Draft()
    made.add_page()
    for number in range(charts):
        made.paragraph(f"Graphique numéro {number}")
        made.chart(_chart(number), width=300)
    return made


def _images(pdf: bytes) -> list[bytes]:
    """The PDF's images, in page order, as their pixels."""
    return [image.data for page in pypdf.PdfReader(io.BytesIO(pdf)).pages for image in page.images]


def _drawing_processes() -> list[int]:
    """The drawing processes (spawned children) of this test process, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        parent = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
        drawing = "spawn_main" in command and "resource_tracker" not in command
        if int(parent) == os.getpid() and drawing and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_until(condition, timeout: float = GENEROUS) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# ---------------------------------------------------------------------------- many reports, processes killed


@pytest.mark.database_independent
def test_the_pool_shut_down_while_a_report_draws_ends_that_report_and_the_next_one_is_drawn() -> None:
    from pvd_survey import drawing
    from pvd_survey.errors import DomainError

    alone = _images(_draft().printed("Rapport", lambda _step: None))
    halfway = threading.Event()
    outcome: list[object] = []

    def print_one() -> None:
        def step(_text: str) -> None:
            halfway.set()

        try:
            outcome.append(_images(_draft(24).printed("Rapport", step)))
        except DomainError as error:
            outcome.append(error.code)

    printing = threading.Thread(target=print_one)
    printing.start()
    assert halfway.wait(GENEROUS)
    drawing.shutdown()
    printing.join(GENEROUS)
    assert not printing.is_alive(), "the report never ended"
    [result] = outcome
    assert result == "report_chart_failed" or (isinstance(result, list) and len(result) == 24)
    assert _images(_draft().printed("Rapport", lambda _step: None)) == alone


# What a drawing process killed (SIGKILL, out of memory) while it sends a large image leaves: the start of a message on
# the pipe the pool's results share, then nothing. Run in a drawing process (as `exec`), it does exactly that.
DIES_WHILE_SENDING = """
import os, signal, struct, sys
frame = sys._getframe()
while "result_queue" not in frame.f_locals:
    frame = frame.f_back
writer = frame.f_locals["result_queue"]._writer
os.write(writer.fileno(), struct.pack("!i", 100_000_000) + b"x" * 4096)  # a 100 MB result begun
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.database_independent
def test_a_drawing_process_killed_while_sending_an_image_does_not_hang_every_report() -> None:
    # Found by reports printed at once while the processes were killed at random (one run in four): four reports
    # waiting for ever, the executor's thread blocked in recv() on the result pipe. Here the kill comes at that moment.
    from pvd_survey import drawing
    from pvd_survey.errors import DomainError

    alone = _images(_draft().printed("Rapport", lambda _step: None))
    pool = drawing._running_pool()
    dying = pool.submit(exec, DIES_WHILE_SENDING)
    outcome: list[object] = []

    def print_one() -> None:
        try:
            outcome.append(_images(_draft().printed("Rapport", lambda _step: None)))
        except DomainError as error:
            outcome.append(error.code)

    printing = threading.Thread(target=print_one, daemon=True)
    printing.start()
    printing.join(GENEROUS / 2)  # six small charts: about 2 s
    try:
        assert not printing.is_alive(), "the report never ended"
        assert outcome in (["report_chart_failed"], [alone])
        assert _images(_draft().printed("Rapport", lambda _step: None)) == alone
    finally:
        if not dying.done():  # what the fix must do: the stuck pool ended, so that this process can exit
            for pid in list(pool._processes or {}):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            pool._result_queue._writer.close()  # type: ignore[attr-defined]
            printing.join(GENEROUS)
            assert dying.exception(GENEROUS) is not None


# ---------------------------------------------------------------------------- the process that started them


@pytest.mark.database_independent
def test_drawing_processes_end_when_the_server_that_started_them_is_killed(tmp_path: Path) -> None:
    # A server killed with SIGKILL (the kernel's out-of-memory killer picks the biggest process; an operator's
    # kill -9) must not leave its two drawing processes, about 150 MB each, running for ever: a restarted server
    # starts two more.
    script = tmp_path / "server.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time
            sys.path.insert(0, {str(PROJECT_ROOT)!r})
            from pvd_survey import drawing

            if __name__ == "__main__":
                chart = {_chart(1)!r}
                assert all(f.result(timeout=60)[:4] == b"\\x89PNG" for f in drawing.draw_all([chart] * 4))
                print(*drawing._pool._processes, flush=True)
                time.sleep(600)
            """
        )
    )
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        workers = [int(pid) for pid in server.stdout.readline().split()]
        assert workers and all(_alive(pid) for pid in workers)
    finally:
        server.kill()
        server.wait(GENEROUS)
    try:
        assert _wait_until(lambda: not any(_alive(pid) for pid in workers), 60), "drawing processes left running"
    finally:
        for pid in workers:  # (the test's own orphans: never left to the next test)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------- a report printed from a page


def test_a_report_printed_from_the_dashboard_does_not_run_the_app_in_its_drawing_processes(world: World) -> None:
    # Streamlit runs each page with sys.modules["__main__"] set to the entry script (main_page.py); a spawned
    # process runs the parent's __main__ again: each drawing process ran the whole app in "bare mode" (the server's
    # log filled with "missing ScriptRunContext"), opened the database, ran its migrations and, as in production
    # (PVD_MAIL_THREAD on), started a second and a third outbox thread.
    from pvd_survey import drawing, web
    from tests.test_attack_issue22 import dashboard

    drawing.shutdown()  # the drawing processes started by the page itself, as on a server's first report
    at = dashboard(world)
    at.button(key="dashboard_report_build").click().run()
    assert not at.exception and not at.main.error
    assert at.get("download_button")
    pool = drawing._pool
    assert pool is not None
    opened = [pool.submit(web.database_is_open).result(timeout=GENEROUS) for _ in range(drawing.processes() * 2)]
    assert opened == [False] * len(opened)
    main_run = pool.submit(eval, "__import__('sys').modules['__main__'].__dict__.get('__file__')")
    assert main_run.result(timeout=GENEROUS) is None  # no script of the app run in a drawing process


# ---------------------------------------------------------------------------- the command line


def test_the_report_command_exits_promptly_and_leaves_no_drawing_process(
    world: World, database_url: str, tmp_path: Path
) -> None:
    marker = uuid.uuid4().hex  # inherited by every process the command starts
    out = tmp_path / "rapport.pdf"
    result = subprocess.run(
        [sys.executable, "-m", "pvd_survey", "report", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=cli_environment(database_url, {"PVD_TEST_MARKER": marker}),
        timeout=GENEROUS,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Rapport écrit dans {out}") and out.read_bytes().startswith(b"%PDF-")

    def left_behind() -> list[int]:
        mark = f"PVD_TEST_MARKER={marker}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            try:
                marked = entry.name.isdigit() and mark in (entry / "environ").read_bytes()
            except OSError:
                continue
            if marked and _alive(int(entry.name)):
                found.append(int(entry.name))
        return found

    assert not left_behind()  # the command's drawing processes ended with it


@pytest.mark.database_independent
def test_a_report_whose_charts_never_come_fails_in_french_after_the_wait_and_the_next_one_is_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Whatever keeps the pool from answering (seen once: its own thread stopped by Python 3.11 while it failed the
    # charts of a killed worker), a report must not wait for ever.
    from pvd_survey import drawing
    from pvd_survey.errors import DomainError

    alone = _images(_draft().printed("Rapport", lambda _step: None))
    monkeypatch.setattr(drawing, "CHART_WAIT_SECONDS", 2)
    pool = drawing._running_pool()
    busy = [pool.submit(time.sleep, GENEROUS) for _ in range(drawing.processes())]  # every process held
    started = time.monotonic()
    with pytest.raises(DomainError) as refused:
        _draft().printed("Rapport", lambda _step: None)
    assert refused.value.code == "report_chart_failed"
    assert time.monotonic() - started < GENEROUS / 2  # the wait, not the two minutes the processes were held
    assert all(held.exception(GENEROUS) is not None for held in busy)  # the stuck processes were ended
    monkeypatch.undo()
    assert _images(_draft().printed("Rapport", lambda _step: None)) == alone  # by new processes
