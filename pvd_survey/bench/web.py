"""Benchmark of one real Streamlit server driven by Chromium: the server CPU a page view and an action cost.

The method, so the figures can be judged: a scratch database filled with the demo data (`seed-demo`), an
administrator, a direction account, one open meeting and survey invitations; Chromium (Playwright, launched before
the server) on the same machine; one `streamlit run` process started as `deploy/pvd@.service` starts it, with the
dashboard refreshing every REFRESH_SECONDS. Server CPU is user + system time from /proc/<pid>/stat read before and
after, less the server's idle rate (measured over a few seconds with no browser connected) times the elapsed time.
A page is drawn once its title shows and no script run is under way (`stApp` not running). Each view opens a new
tab and closes it; the server's end of the session of one view falls in the next view's measure (one untimed view
first). Registrations and survey submissions are whole visits by a new visitor (the page, each widget's run, the
sending); the dashboard is opened by a signed-in context. Browsers and server share the machine's cores: the
latencies measure this machine, the CPU figures the server. Last, the server's capacity without a browser's
rendering: N protocol clients (streamlit_client.py: the page, health, host config, WebSocket, first run, the form
sent in one rerun, as a tab does it on the wire) register in a loop, directly then through nginx, and every visit is
checked in the database (one new registration with the e-mail and reference the page showed).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pvd_survey import db
from pvd_survey.bench import browser as chromium
from pvd_survey.bench.common import _latency_figures, _median_ms, _scratch_database
from pvd_survey.bench.proxy import _cpu_seconds, _machine_busy, running_apps, running_nginx
from pvd_survey.bench.webdata import WebData, release_a_group, seed_web_data

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

VIEWS = 15
ACTIONS = 3
IDLE_SECONDS = 3.0
CONCURRENCY = (10, 20)
ROUNDS = 2  # job board views per concurrent page
SUSTAINED_PAGES = 4
SUSTAINED_SECONDS = 30.0
PROTOCOL_CLIENTS = 8
PROTOCOL_SECONDS = 30.0
REFRESH_SECONDS = 5
WATCH_SECONDS = 30.0
DASHBOARDS = 5
SETTLE_SECONDS = 10.0
JOBS_TITLE = "Offres d'emploi"
MEETINGS_TITLE = "Rencontres du programme"
DASHBOARD_SECTION = "Carte"  # the summary, what the dashboard opens on


@dataclass
class Server:
    """The app process under measure and its idle CPU rate (seconds of CPU a second, no browser connected)."""

    base: str
    pid: int
    idle_rate: float = 0.0

    def cpu(self) -> float:
        return _cpu_seconds(self.pid)

    async def cpu_of(self, work: Awaitable[object]) -> float:
        """Server CPU (s) spent while the work ran, less the idle rate over that time (never below 0: with a 10 ms
        clock tick, a short and cheap piece of work can read as less than the idle rate)."""
        cpu, began = self.cpu(), time.monotonic()
        await work
        return max(0.0, self.cpu() - cpu - self.idle_rate * (time.monotonic() - began))

    def rss_mb(self) -> float:
        """Resident memory (/proc/<pid>/status VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        raise RuntimeError(f"no VmRSS for process {self.pid}")


@dataclass
class Run:
    """What every measure works with: the browser, the server, the data, and a context signed in as the direction."""

    browser: Browser
    server: Server
    data: WebData
    direction: BrowserContext
    proxied: str  # the same server behind nginx as deploy/ sets it up (Streamlit's static files served by nginx)


async def _view(context: BrowserContext, url: str, title: str) -> None:
    """One page view in a new tab of this context, until drawn; the tab closed."""
    page = await context.new_page()
    await page.goto(url)
    await chromium.drawn(page, title)
    await page.close()


# Every chart of the page drawn by Vega (an SVG or a canvas inside each chart's element).
CHARTS_DRAWN = """() => {
    const charts = [...document.querySelectorAll("[data-testid='stVegaLiteChart']")];
    return charts.length > 0 && charts.every((chart) => chart.querySelector("svg, canvas"));
}"""


async def _dashboard(context: BrowserContext, base: str) -> Page:
    """The dashboard in a new tab of a signed-in context, once its last section and every chart are drawn."""
    page = await context.new_page()
    await page.goto(f"{base}/dashboard")
    await page.get_by_role("heading", name=DASHBOARD_SECTION).wait_for()
    await chromium.wait_for_run(page)
    await page.wait_for_function(CHARTS_DRAWN)
    return page


async def _dashboard_view(context: BrowserContext, base: str, drawn_in: list[float] | None = None) -> None:
    started = time.monotonic()
    page = await _dashboard(context, base)
    if drawn_in is not None:  # from the address typed to the last chart drawn, as the person sees it
        drawn_in.append(time.monotonic() - started)
    await page.close()


# ---------------------------------------------------------------------------- the measures, one function each


async def idle_rate(run: Run, seconds: float) -> dict:
    """The server's CPU a second with no page open (subtracted from every figure below)."""
    server = run.server
    server.idle_rate = (await server.cpu_of(asyncio.sleep(seconds))) / seconds
    return {"idle_cpu_ms_per_s": round(server.idle_rate * 1000, 2)}


async def cpu_per_view(run: Run, views: int) -> dict:
    """Median server CPU of a view of the job board and of the meetings list: a new browser context each time
    (cold cache: every static file served again), then one context kept (warm cache, a returning visitor)."""
    browser, server = run.browser, run.server
    result = {}
    for name, path, title in (("jobs", "offres", JOBS_TITLE), ("meetings", "rencontres", MEETINGS_TITLE)):
        url = f"{server.base}/{path}"
        for cache in ("cold", "warm"):
            kept = await chromium.new_context(browser) if cache == "warm" else None
            samples = []
            for view in range(views + 1):
                context = kept or await chromium.new_context(browser)
                cpu = await server.cpu_of(_view(context, url, title))
                if context is not kept:
                    await context.close()
                if view:  # the first one untimed: it fills the warm cache, and each later measure holds the
                    samples.append(cpu)  # end of the previous view's session
            if kept:
                await kept.close()
            result[f"{name}_view_{cache}_cpu_ms"] = _median_ms(samples)
    return result


async def cpu_per_action(run: Run, actions: int) -> dict:
    """Median server CPU of a registration and of a survey submission by a new visitor, and of a dashboard opened
    by a signed-in person (the process's first dashboard apart: it imports the chart libraries)."""
    browser, server, data = run.browser, run.server, run.data
    registrations, submissions, opens = [], [], []
    registration_sends: list[float] = []
    survey_sends: list[float] = []

    def timed_into(samples: list[float]) -> chromium.Timed:
        async def timed(work: Awaitable[None]) -> None:
            samples.append(await server.cpu_of(work))

        return timed

    for number in range(actions):
        email = f"visiteur{number}@bench.example.fr"
        registration = chromium.register_once(
            browser, data.meeting_url(server.base), data.meeting_title, "A B", email, timed_into(registration_sends)
        )
        registrations.append(await server.cpu_of(registration))
        survey = chromium.submit_survey(browser, data.take_link(server.base), timed_into(survey_sends))
        submissions.append(await server.cpu_of(survey))
    first_drawn: list[float] = []
    drawn: list[float] = []
    first = await server.cpu_of(_dashboard_view(run.direction, server.base, first_drawn))
    for _ in range(actions):
        opens.append(await server.cpu_of(_dashboard_view(run.direction, server.base, drawn)))
    return {
        "registration_cpu_ms": _median_ms(registrations),
        "registration_send_cpu_ms": _median_ms(registration_sends),
        "survey_submission_cpu_ms": _median_ms(submissions),
        "survey_send_cpu_ms": _median_ms(survey_sends),
        "dashboard_first_open_cpu_ms": round(first * 1000, 2),
        "dashboard_open_cpu_ms": _median_ms(opens),
        "dashboard_first_drawn_ms": _median_ms(first_drawn),
        "dashboard_drawn_ms": _median_ms(drawn),
    }


async def behind_nginx(run: Run, views: int, actions: int) -> dict:
    """The same new visitor's job board view and registration through nginx (deploy/nginx-pvd.conf), which serves
    Streamlit's static files itself: what a view costs the app process in production."""
    browser, server = run.browser, run.server
    views_cpu, registrations = [], []
    for view in range(views + 1):
        context = await chromium.new_context(browser)
        cpu = await server.cpu_of(_view(context, f"{run.proxied}/offres", JOBS_TITLE))
        await context.close()
        if view:  # (the first one untimed, as above)
            views_cpu.append(cpu)
    for number in range(actions):
        email = f"nginx{number}@bench.example.fr"
        url = run.data.meeting_url(run.proxied)
        registrations.append(
            await server.cpu_of(chromium.register_once(browser, url, run.data.meeting_title, "E F", email))
        )
    return {
        "jobs_view_cold_behind_nginx_cpu_ms": _median_ms(views_cpu),
        "registration_behind_nginx_cpu_ms": _median_ms(registrations),
    }


async def cpu_per_refresh(run: Run, watch_seconds: float, refresh_seconds: int) -> dict:
    """Server CPU of a dashboard refresh (its two live parts), kept open `watch_seconds` with nothing changed, then
    as long again with, every `refresh_seconds` (the server's setting), a group of survey answers released and a
    few registrations."""
    server = run.server
    page = await _dashboard(run.direction, server.base)
    refreshes = watch_seconds / refresh_seconds
    quiet = await server.cpu_of(asyncio.sleep(watch_seconds))

    async def changing() -> None:
        for change in range(int(refreshes)):
            began = time.monotonic()
            await asyncio.to_thread(release_a_group, run.data, change)
            await asyncio.sleep(max(0.0, refresh_seconds - (time.monotonic() - began)))
        # One period more, so that the last change is always picked up within the measure (the page's refresh
        # ticks on its own clock): that period's quiet refresh is taken off below.
        await asyncio.sleep(refresh_seconds)

    changed = await server.cpu_of(changing()) - quiet / refreshes
    await page.close()
    return {
        "dashboard_refresh_seconds": refresh_seconds,
        "dashboard_refresh_cpu_ms": round(quiet / refreshes * 1000, 2),
        "dashboard_refresh_after_change_cpu_ms": round(max(0.0, changed) / int(refreshes) * 1000, 2),
    }


async def memory(run: Run, dashboards: int, settle_seconds: float) -> dict:
    """Server RSS before, with `dashboards` dashboards open at once, and `settle_seconds` after they are closed."""
    server = run.server
    before = server.rss_mb()
    pages = [await _dashboard(run.direction, server.base) for _ in range(dashboards)]
    opened = server.rss_mb()
    for page in pages:
        await page.close()
    await asyncio.sleep(settle_seconds)
    after = server.rss_mb()
    return {
        "rss_before_mb": before,
        f"rss_with_{dashboards}_dashboards_mb": opened,
        "rss_after_close_mb": after,
        "rss_mb_per_dashboard": round((opened - before) / dashboards, 1),
        "rss_returned_mb": round(opened - after, 1),
    }


async def concurrent_views(run: Run, concurrency: tuple[int, ...], rounds: int) -> dict:
    """End-to-end latency of a job board view (new visitor each time) with N pages at once, `rounds` views each."""
    result: dict = {}
    url = f"{run.server.base}/offres"

    async def visitor() -> list[float]:
        timings = []
        for _ in range(rounds):
            context = await chromium.new_context(run.browser)
            began = time.monotonic()
            await _view(context, url, JOBS_TITLE)
            timings.append(time.monotonic() - began)
            await context.close()
        return timings

    for pages in concurrency:
        timings = await asyncio.gather(*(visitor() for _ in range(pages)))
        result |= _latency_figures(f"jobs_view_{pages}_at_once", [t for each in timings for t in each])
    return result


async def sustained_registrations(run: Run, pages: int, seconds: float) -> dict:
    """Registrations a minute with `pages` new visitors registering in a loop for `seconds` (each starts its next
    registration as long as time is left), and the server CPU each took."""
    done: list[float] = []
    url = run.data.meeting_url(run.server.base)
    began = time.monotonic()

    async def visitor(number: int) -> None:
        attempt = 0
        while time.monotonic() - began < seconds:
            email = f"suivi{number}.{attempt}@bench.example.fr"
            await chromium.register_once(run.browser, url, run.data.meeting_title, "C D", email)
            done.append(time.monotonic())
            attempt += 1

    cpu = await run.server.cpu_of(asyncio.gather(*(visitor(number) for number in range(pages))))
    wall = max(done) - began
    return {
        "sustained_pages": pages,
        "sustained_registrations": len(done),
        "sustained_registrations_per_minute": round(len(done) / wall * 60, 1),
        "sustained_cpu_ms_per_registration": round(cpu / len(done) * 1000, 2),
    }


def _registered(data: WebData) -> dict[str, str]:
    """E-mail and reference of every confirmed or waiting registration to the benchmark's meeting."""
    from pvd_survey import meetings

    with db.read_only(data.factory) as session:
        lists = meetings.roster(session, data.meeting_id)
    return {person.email: person.reference for person in lists.confirmed + lists.waiting}


async def protocol_registrations(run: Run, clients: int, seconds: float) -> dict:
    """Registrations a minute with `clients` protocol clients (streamlit_client.py: a tab's messages, no browser)
    registering in a loop for `seconds`, on the server directly then through nginx; the server CPU each took (less
    the idle rate) and the share of a core it had, the client's own CPU, the machine's busy share, and p50/p95/p99
    of a whole visit (page, health, WebSocket, first run, form sent, confirmation). Every visit is checked in the
    database: one new confirmed or waiting registration with its e-mail and the reference the page showed, and
    nothing else."""
    from pvd_survey.bench.streamlit_client import registrations_for  # (httpx and websockets: test requirements)

    server, page = run.server, run.data.meeting_url("")
    result: dict = {"protocol_clients": clients}
    for where, base in (("protocol", server.base), ("protocol_behind_nginx", run.proxied)):
        before = await asyncio.to_thread(_registered, run.data)
        cpu, own, busy, began = server.cpu(), time.process_time(), _machine_busy(), time.monotonic()
        done, wall = await registrations_for(base, page, clients, seconds, where.replace("_", "-"))
        cpu = max(0.0, server.cpu() - cpu - server.idle_rate * (time.monotonic() - began))
        own, busy_after = time.process_time() - own, _machine_busy()
        after = await asyncio.to_thread(_registered, run.data)
        new = {email: reference for email, reference in after.items() if email not in before}
        shown = {email: outcome.reference for email, outcome in done if not outcome.already}
        if new != shown or len(shown) != len(done):
            raise RuntimeError(f"{where}: {len(done)} visits, {len(shown)} shown, {len(new)} new registrations")
        result |= {
            f"{where}_registrations": len(done),
            f"{where}_registrations_per_minute": round(len(done) / wall * 60, 1),
            f"{where}_cpu_ms_per_registration": round(cpu / len(done) * 1000, 2),
            f"{where}_client_cpu_ms_per_registration": round(own / len(done) * 1000, 2),
            # How much of a core the server had: well under 1 with the machine busy means the machine set the pace.
            f"{where}_server_core_share": round(cpu / wall, 2),
            f"{where}_machine_busy_share": round((busy_after[0] - busy[0]) / max(1, busy_after[1] - busy[1]), 2),
            **_latency_figures(f"{where}_visit", [outcome.seconds for _, outcome in done]),
        }
    return result


# ---------------------------------------------------------------------------- the run


async def _measure(
    database_url: str, work: Path, data: WebData, steps: list[Callable[[Run], Awaitable[dict]]], refresh_seconds: int
) -> dict:
    """Start the server with Chromium already running, time its first page, then take every measure in turn."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium.CHROMIUM, args=chromium.CHROMIUM_ARGS)
        started = time.monotonic()
        with (
            running_apps(database_url, work, 1, {"PVD_DASHBOARD_REFRESH_SECONDS": str(refresh_seconds)}) as apps,
            running_nginx(work, [apps[0][0]]) as proxied,
        ):
            ready = time.monotonic()  # /_pvd/ready answered 200 (polled every 0.1 s), nginx started
            ((address, pid),) = apps
            server = Server(f"http://{address}", pid)
            context = await chromium.new_context(browser)
            first_cpu = await server.cpu_of(_view(context, f"{server.base}/offres", JOBS_TITLE))
            drawn = time.monotonic()
            await context.close()
            result = {
                "start_to_first_page_s": round(drawn - started, 2),
                "ready_to_first_page_ms": round((drawn - ready) * 1000, 1),
                "first_page_cpu_ms": round(first_cpu * 1000, 2),
            }
            direction = await chromium.sign_in(browser, server.base, data.direction_email, data.direction_password)
            run = Run(browser, server, data, direction, proxied)
            for step in steps:
                result |= await step(run)
            await direction.close()
        await browser.close()
    return result


def web_benchmark(
    kind: str,
    workdir: str | None = None,
    postgres_admin_url: str | None = None,
    *,
    views: int = VIEWS,
    actions: int = ACTIONS,
    idle_seconds: float = IDLE_SECONDS,
    refresh_seconds: int = REFRESH_SECONDS,
    watch_seconds: float = WATCH_SECONDS,
    dashboards: int = DASHBOARDS,
    settle_seconds: float = SETTLE_SECONDS,
    concurrency: tuple[int, ...] = CONCURRENCY,
    rounds: int = ROUNDS,
    sustained_pages: int = SUSTAINED_PAGES,
    sustained_seconds: float = SUSTAINED_SECONDS,
    protocol_clients: int = PROTOCOL_CLIENTS,
    protocol_seconds: float = PROTOCOL_SECONDS,
) -> dict:
    """Server CPU per page view and per action, latency under concurrent pages and memory per open dashboard, on
    one `streamlit run` process over a scratch database with the demo data."""
    url, drop = _scratch_database(kind, "web", workdir, postgres_admin_url)
    work = Path(tempfile.mkdtemp(prefix="pvd-bench-web-", dir=workdir))
    try:
        engine = db.make_engine(url)
        db.migrate(engine)
        data = seed_web_data(engine, url, submissions=actions, changes=int(watch_seconds / refresh_seconds))
        result: dict = {"benchmark": "web", "database": kind, "cores": os.cpu_count()}
        result["load_average_at_start"] = [round(load, 2) for load in os.getloadavg()]
        result |= {"views": views, "actions": actions, "concurrency": list(concurrency), "rounds": rounds}
        steps: list[Callable[[Run], Awaitable[dict]]] = [
            lambda run: idle_rate(run, idle_seconds),
            lambda run: cpu_per_view(run, views),
            lambda run: cpu_per_action(run, actions),
            lambda run: behind_nginx(run, views, actions),
            lambda run: cpu_per_refresh(run, watch_seconds, refresh_seconds),
            lambda run: memory(run, dashboards, settle_seconds),
            lambda run: concurrent_views(run, concurrency, rounds),
            lambda run: sustained_registrations(run, sustained_pages, sustained_seconds),
            lambda run: protocol_registrations(run, protocol_clients, protocol_seconds),
        ]
        result |= asyncio.run(_measure(url, work, data, steps, refresh_seconds))
        result["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
        engine.dispose()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
        drop()
