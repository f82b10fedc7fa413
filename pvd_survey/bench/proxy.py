"""Benchmark of the deployment (deploy/): registrations a minute through nginx, with one and two app processes.

The method, so the figures can be judged: a scratch PostgreSQL database with one meeting; N `streamlit run`
processes started as `deploy/pvd@.service` starts them; Debian's nginx run from `deploy/nginx-pvd.conf` itself (ports
and paths replaced, as tests/test_deploy.py does); then Chromium (Playwright) plays WORKERS people at once, each
registering ATTEMPTS times, every time in a new browser (a new visitor, so nginx draws a new route): open the
meeting's page through nginx, fill the form, click « M'inscrire », wait for « Inscription confirmée ». The rate is
the timed registrations over the time from the first timed start to the last confirmation. The browser runs on the
same machine and takes its share of the cores: the CPU the app processes used per registration is reported too,
and the machine's busy share during the run (near 100 % means the machine, not the app, set the pace).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from pvd_survey import db
from pvd_survey.bench.browser import CHROMIUM, CHROMIUM_ARGS, register_once
from pvd_survey.bench.common import BENCH_KEY, _latency_figures, _no_secrets_file, _scratch_database, bench_meeting

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SITE = PROJECT_ROOT / "deploy" / "nginx-pvd.conf"


def streamlit_static() -> Path:
    """The installed Streamlit's `static` folder, which the site serves /static/ from (a link to it in production)."""
    spec = importlib.util.find_spec("streamlit")  # found, not imported
    if spec is None or spec.origin is None:
        raise RuntimeError("Streamlit n'est pas installé")
    return Path(spec.origin).parent / "static"


WORKERS = 4
ATTEMPTS = 5  # timed registrations per worker, after one untimed (the browser's and the servers' first run)
START_TIMEOUT = 60.0


# ---------------------------------------------------------------------------- nginx from deploy/ (also the test's)


def render_site(work: Path, port: int, upstreams: list[str]) -> str:
    """deploy/nginx-pvd.conf listening on 127.0.0.1:port, in front of these app processes, logging into `work`."""
    text = SITE.read_text(encoding="utf-8")
    replacements = [
        ("    server 127.0.0.1:8501;\n    server 127.0.0.1:8502;\n", "".join(f"    server {u};\n" for u in upstreams)),
        ("    listen 80;\n    listen [::]:80;\n", f"    listen 127.0.0.1:{port};\n"),
        ("/var/log/nginx/pvd.access.log", str(work / "access.log")),
        ("/var/log/nginx/pvd.error.log", str(work / "error.log")),
        ("root /opt/pvd/.venv/streamlit-static;", f"root {streamlit_static()};"),
    ]
    for old, new in replacements:
        if text.count(old) != 1:
            raise ValueError(f"{SITE.name} no longer holds {old!r} once: update render_site")
        text = text.replace(old, new)
    return text


def main_config(work: Path, site: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf gives the site, with every file nginx writes in `work`."""
    temp_paths = "\n".join(
        f"    {name}_temp_path {work / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would switch to `nobody`, who may not enter a private temporary folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\npid {work / 'nginx.pid'};\nerror_log {work / 'error.log'};\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n    include /etc/nginx/mime.types;\n{temp_paths}\n    include {site};\n}}\n"
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer from {url} within {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def stop_process(process: subprocess.Popen) -> None:
    """Ask a child process to end (SIGTERM), kill it after 10 s, and reap it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def running_nginx(work: Path, upstreams: list[str]) -> Iterator[str]:
    """Debian's nginx as an ordinary process, serving deploy/nginx-pvd.conf in front of these app processes; yields
    its URL. Its access log (route and process of each request) is work/access.log."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    site = work / "pvd.conf"
    site.write_text(render_site(work, port, upstreams), encoding="utf-8")
    (work / "nginx.conf").write_text(main_config(work, site), encoding="utf-8")
    command = [nginx, "-c", str(work / "nginx.conf"), "-p", str(work), "-e", str(work / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise RuntimeError(checked.stderr)
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/_stcore/health", process, work / "error.log", 10)
        yield url
    finally:
        stop_process(process)


@contextlib.contextmanager
def running_apps(
    database_url: str, work: Path, count: int, extra_env: dict[str, str] | None = None
) -> Iterator[list[tuple[str, int]]]:
    """`count` app processes started as deploy/pvd@.service starts them (with `extra_env` added to their
    environment); yields (127.0.0.1:port, pid) of each once every one answers `/_pvd/ready`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PVD_")}
    env.update(BENCH_KEY, PVD_DATABASE_URL=database_url, PVD_MAIL_THREAD="false", **(extra_env or {}))
    started = []
    for index in range(count):
        port = free_port()
        log = work / f"app-{index}.log"
        command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true"]
        command += ["--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none"]
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env | {"PVD_BASE_URL": f"http://127.0.0.1:{port}"}, stdout=output,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        started.append((process, port, log))
    try:
        for process, port, log in started:
            _wait_for(f"http://127.0.0.1:{port}/_pvd/ready", process, log, START_TIMEOUT)
        yield [(f"127.0.0.1:{port}", process.pid) for process, port, _ in started]
    finally:
        for process, _, _ in started:
            stop_process(process)


# ---------------------------------------------------------------------------- the measure


def _cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all the machine's cores so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


async def _registrations(
    url: str, title: str, workers: int, attempts: int, on_timed_start: Callable[[], None]
) -> list[tuple[float, float]]:
    """WORKERS people at once, each registering `attempts` times (plus one untimed), each time in a new browser."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warmed_up = asyncio.Barrier(workers)

        async def worker(number: int) -> list[tuple[float, float]]:
            timings = []
            for attempt in range(-1, attempts):
                if attempt == 0 and await warmed_up.wait() == 0:  # the timed registrations start together
                    on_timed_start()
                began = time.time()
                await register_once(
                    browser, url, title, f"Personne {number}-{attempt}", f"p{number}.{attempt}@bench.example.fr"
                )
                if attempt >= 0:
                    timings.append((began, time.time()))
            return timings

        results = await asyncio.gather(*(worker(number) for number in range(workers)))
        await browser.close()
    return [timing for timings in results for timing in timings]


def _through_proxy(database_url: str, work: Path, processes: int, meeting_id: int, title: str) -> dict:
    """Registrations through nginx in front of `processes` app processes."""
    from pvd_survey import meetings

    folder = work / f"{processes}-processes"
    folder.mkdir()
    with running_apps(database_url, folder, processes) as apps, running_nginx(folder, [a for a, _ in apps]) as url:
        page = f"{url}/{meetings.MEETING_PAGE_PATH}?{meetings.MEETING_PARAMETER}={meeting_id}"
        cpu_at_start: list[float] = []
        busy_at_start: list[tuple[int, int]] = []

        def timed_start() -> None:
            cpu_at_start.append(sum(_cpu_seconds(pid) for _, pid in apps))
            busy_at_start.append(_machine_busy())

        timings = asyncio.run(_registrations(page, title, WORKERS, ATTEMPTS, timed_start))
        cpu = sum(_cpu_seconds(pid) for _, pid in apps) - cpu_at_start[0]
        busy_after, busy_before = _machine_busy(), busy_at_start[0]
        served = {address: 0 for address, _ in apps}
        for line in (folder / "access.log").read_text().splitlines():
            for address in served:
                if f"upstream={address} " in line and '"GET /_stcore/stream"' in line:
                    served[address] += 1  # one WebSocket a browser
    wall = max(end for _, end in timings) - min(start for start, _ in timings)
    busy = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
    return {
        f"p{processes}_registrations_timed": len(timings),
        f"p{processes}_registrations_per_minute": round(len(timings) / wall * 60, 1),
        **_latency_figures(f"p{processes}_registration", [end - start for start, end in timings]),
        # The app processes' CPU (user + system) over the timed phase.
        f"p{processes}_app_cpu_s_per_registration": round(cpu / len(timings), 3),
        f"p{processes}_machine_busy_share": round(busy, 2),
        f"p{processes}_websockets_by_process": sorted(served.values()),
    }


def proxy_benchmark(postgres_admin_url: str, workdir: str | None = None) -> dict:
    """Registrations a minute through nginx (deploy/) with one and two app processes, on a scratch PostgreSQL."""

    from pvd_survey import accounts, meetings
    from pvd_survey.config import load_settings

    url, drop = _scratch_database("postgresql", "proxy", workdir, postgres_admin_url)
    work = Path(tempfile.mkdtemp(prefix="pvd-bench-proxy-", dir=workdir))
    try:
        engine = db.make_engine(url)
        db.migrate(engine)
        title = "Rencontre régionale (banc d'essai du mandataire)"
        form = bench_meeting(title, capacity=10_000)  # every registration is confirmed: the same work each time
        settings = load_settings({"PVD_DATABASE_URL": url, **BENCH_KEY}, _no_secrets_file())
        with db.transaction(db.make_session_factory(engine)) as session:
            # An installed site: with no administrator, every page would ask for the first one.
            accounts.create_user(
                session, email="admin@bench.example.fr", display_name="Admin", role="admin", settings=settings,
                notify=False,
            )  # fmt: skip
            meeting_ids = [meetings.create_meeting(session, form) for _ in range(2)]
        engine.dispose()
        result: dict = {"benchmark": "proxy", "database": "postgresql", "cores": os.cpu_count()}
        result |= {"browsers_at_once": WORKERS, "registrations_per_browser": ATTEMPTS}
        for processes, meeting_id in zip((1, 2), meeting_ids, strict=True):
            result |= _through_proxy(url, work, processes, meeting_id, title)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
        drop()
