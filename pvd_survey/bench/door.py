"""Benchmark of the door: a ticket scan's server time, and two devices scanning the same 300 tickets at once.

Three measures. The scan through the service (its read, its conditional UPDATE and the commit), from one device,
then from two devices scanning the same 300 tickets at once (the arrivals recorded must be exactly 300). Then the
scan as the door page answers it: one `streamlit run` process, Chromium on a phone-sized page opened with an
« accueil » link, a code typed into « Code du billet » then Enter (as a scanner does), until the answer is drawn:
the server's CPU for it (less its idle rate with the page open, whose counts refresh every 5 s) and the time the
browser waited. Browser and server share the machine's cores.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import db
from pvd_survey.bench import browser as chromium
from pvd_survey.bench.common import BENCH_KEY, _latency_figures, _no_secrets_file, _scratch_database, bench_meeting
from pvd_survey.bench.proxy import running_apps
from pvd_survey.bench.web import Server
from pvd_survey.clock import utcnow
from pvd_survey.config import load_settings

PEOPLE = 300
DEVICES = 2
SERVER_SCANS = 40
IDLE_SECONDS = 10.0  # two of the counts' 5-second refreshes


@dataclass(frozen=True)
class DoorRun:
    """What the devices were answered, how long each scan took, and the arrivals the database holds after."""

    answers: Counter[str]
    latencies: list[float]
    arrivals: int


def seed_door(factory: sessionmaker[Session], secret_key: str, people: int | None = None) -> tuple[int, list[str]]:
    """A meeting with `people` (PEOPLE) confirmed registrations, inserted in bulk; returns its id and ticket codes."""
    from pvd_survey import meetings
    from pvd_survey.meetings import tickets
    from pvd_survey.models import Meeting, Registration

    people = PEOPLE if people is None else people
    now = utcnow()
    with db.transaction(factory) as session:
        meeting_id = meetings.create_meeting(session, bench_meeting("Forum des métiers (banc d'essai)", people))
        references = [f"RV-B{meeting_id}-{number}" for number in range(1, people + 1)]
        session.execute(
            insert(Registration),
            [
                {
                    "meeting_id": meeting_id,
                    "arrival": number,
                    "status": "confirmed",
                    "email": f"p{number}@porte.example.fr",
                    "full_name": f"Personne {number}",
                    "attendee_role": "chef_de_projet",
                    "organisation": "",
                    "needs": "",
                    "token_hash": f"porte-{meeting_id}-{number}",
                    "ticket_hash": tickets.ticket_hash(secret_key, meeting_id, reference),
                    "reference": reference,
                    "consented_at": now,
                    "confirmed_at": now,
                    "created_at": now,
                }
                for number, reference in enumerate(references, start=1)
            ],
        )
        session.execute(update(Meeting).where(Meeting.id == meeting_id).values(confirmed_count=people, arrivals=people))
    return meeting_id, [tickets.ticket_code(secret_key, meeting_id, reference) for reference in references]


def scan_at_the_door(
    factory: sessionmaker[Session], meeting_id: int, codes: list[str], devices: int = DEVICES
) -> DoorRun:
    """Every device scans every code, all starting together in the same order: each ticket at once on all of them.

    Each scan is its own unit of work, as a page's is; its latency is the scan's server time (the service and
    the commit), without the page's rendering.
    """
    from concurrent.futures import ThreadPoolExecutor

    from pvd_survey import meetings
    from pvd_survey.models import Registration

    start = threading.Barrier(devices)

    def device(_: int) -> list[tuple[str, float]]:
        answered = []
        start.wait()
        for code in codes:
            began = time.perf_counter()
            with db.transaction(factory) as session:
                outcome = meetings.scan(session, meeting_id, code).outcome
            answered.append((outcome, time.perf_counter() - began))
        return answered

    with ThreadPoolExecutor(devices) as pool:
        results = [value for values in pool.map(device, range(devices)) for value in values]
    with db.read_only(factory) as session:
        arrivals = session.scalar(
            select(func.count()).where(Registration.meeting_id == meeting_id, Registration.checked_in_at.is_not(None))
        )
    return DoorRun(Counter(outcome for outcome, _ in results), [seconds for _, seconds in results], arrivals or 0)


async def _scans_through_a_server(database_url: str, work: Path, link: str, codes: list[str]) -> dict:
    """The door page on a phone-sized Chromium page: server CPU and waiting time of each scan, first one apart."""
    from playwright.async_api import async_playwright

    from pvd_survey.meetings import DOOR_PAGE_PATH

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium.CHROMIUM, args=chromium.CHROMIUM_ARGS)
        with running_apps(database_url, work, 1) as apps:
            ((address, pid),) = apps
            server = Server(f"http://{address}", pid)
            context = await browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
            context.set_default_timeout(chromium.TIMEOUT_MS)
            page = await context.new_page()
            await page.goto(f"{server.base}/{DOOR_PAGE_PATH}?jeton={link}")
            await chromium.drawn(page, "Émargement")
            server.idle_rate = (await server.cpu_of(asyncio.sleep(IDLE_SECONDS))) / IDLE_SECONDS
            field = page.get_by_role("textbox", name="Code du billet")
            cpu, waited = [], []
            for number, code in enumerate(codes, start=1):
                await field.fill(code)  # what the scanner types stays in the browser until Enter

                async def scan(number: int = number) -> None:
                    await field.press("Enter")
                    answer = page.get_by_test_id("stAlertContentSuccess").get_by_text(f"Personne {number}", exact=True)
                    await answer.wait_for()
                    await chromium.wait_for_run(page)

                began = time.perf_counter()
                seconds = await server.cpu_of(scan())
                if number > 1:  # the first scan imports what the later ones reuse
                    cpu.append(seconds)
                    waited.append(time.perf_counter() - began)
            await context.close()
        await browser.close()
    return {
        "page_scans": len(cpu),
        "page_idle_cpu_ms_per_s": round(server.idle_rate * 1000, 2),
        **_latency_figures("page_scan_server_cpu", cpu),
        **_latency_figures("page_scan_answered", waited),
    }


def door_benchmark(
    kind: str, workdir: str | None = None, postgres_admin_url: str | None = None, *, server_scans: int = SERVER_SCANS
) -> dict:
    """A scan answered by one device, two devices scanning the same 300 tickets at once, scans through the page."""
    from pvd_survey import accounts, meetings
    from pvd_survey.models import OutboxMessage

    url, drop = _scratch_database(kind, "door", workdir, postgres_admin_url)
    work = Path(tempfile.mkdtemp(prefix="pvd-bench-door-", dir=workdir))
    try:
        engine = db.make_engine(url)
        db.migrate(engine)
        factory = db.make_session_factory(engine)
        key = BENCH_KEY["PVD_SECRET_KEY"]
        meeting_id, codes = seed_door(factory, key)
        alone = scan_at_the_door(factory, meeting_id, codes, devices=1)
        meeting_id, codes = seed_door(factory, key)
        together = scan_at_the_door(factory, meeting_id, codes, devices=DEVICES)
        meeting_id, codes = seed_door(factory, key)
        settings = load_settings({"PVD_DATABASE_URL": url, **BENCH_KEY}, _no_secrets_file())
        with db.transaction(factory) as session:
            # An installed app (without an administrator, every page asks for one first).
            accounts.create_first_admin(
                session,
                email="admin@bench.example.fr",
                display_name="Admin",
                password=secrets.token_urlsafe(24),
                settings=settings,
            )
            meetings.name_door_keeper(
                session, meeting_id, "Accueil (banc d'essai)", "accueil@bench.example.fr", settings
            )
            link = session.scalars(select(OutboxMessage.link).where(OutboxMessage.kind == "door_pass")).one() or ""
        if Path(chromium.CHROMIUM).exists():
            page = asyncio.run(_scans_through_a_server(url, work, link.split("jeton=")[1], codes[:server_scans]))
        else:  # (a server without Chromium: the service's figures only)
            page = {"page_scans": 0, "page_note": f"pas de Chromium ({chromium.CHROMIUM}) : page non mesurée"}
        engine.dispose()
        return {
            "benchmark": "door",
            "database": kind,
            "tickets": PEOPLE,
            **_latency_figures("scan_one_device", alone.latencies),
            "devices": DEVICES,
            "scans_two_devices": len(together.latencies),
            **_latency_figures("scan_two_devices", together.latencies),
            "answers_two_devices": dict(together.answers),
            "arrivals_recorded": together.arrivals,
            **page,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
        drop()
