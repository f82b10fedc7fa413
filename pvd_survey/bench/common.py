"""Benchmark helpers shared by every section: scratch databases, settings, timings."""

from __future__ import annotations

import random
import resource
import secrets
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from pvd_survey.meetings import MeetingForm

RUNS = 5
# Scratch databases only: any server key will do.
BENCH_KEY = {"PVD_SECRET_KEY": secrets.token_urlsafe(32)}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _no_secrets_file() -> Path:
    """A secrets path that surely does not exist: the benchmark's settings come from its arguments only."""
    return Path(tempfile.mkdtemp(prefix="pvd-bench-")) / "secrets.toml"


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def _scratch_database(
    kind: str, name: str, workdir: str | None, postgres_admin_url: str | None
) -> tuple[str, Callable[[], None]]:
    """A new empty database for the benchmark, and how to drop it afterwards."""
    if kind == "sqlite":
        directory = Path(workdir or tempfile.mkdtemp(prefix="pvd-bench-"))
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"bench-{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}", lambda: None
    if postgres_admin_url is None:
        raise ValueError(
            f"a {kind} benchmark database needs postgres_admin_url (the URL of an account that may create one)"
        )
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    database = f"pvd_bench_{random.randrange(16**8):08x}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()

    return make_url(postgres_admin_url).set(database=database).render_as_string(hide_password=False), drop


def _percentile_ms(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, int(len(ordered) * fraction) - 1)] * 1000, 2)


def _after_bulk_load(engine, kind: str) -> None:
    """What the database would do on its own after a bulk load: statistics (and, on PostgreSQL, the visibility map)."""
    if kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def _latency_figures(prefix: str, samples: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of a list of durations in seconds, in ms."""
    return {f"{prefix}_p{int(q * 100)}_ms": _percentile_ms(samples, q) for q in (0.5, 0.95, 0.99)}


def bench_meeting(title: str, capacity: int) -> MeetingForm:
    """The regional meeting every registration benchmark fills: open for a month, all audiences."""
    from datetime import timedelta

    from pvd_survey.clock import utcnow
    from pvd_survey.meetings import MeetingForm

    now = utcnow()
    return MeetingForm(
        title=title,
        kind="rencontre_regionale",
        region="27",
        city="Dijon",
        venue="",
        online_url=None,
        starts_at=now + timedelta(days=30),
        ends_at=now + timedelta(days=30, hours=7),
        capacity=capacity,
        registration_opens_at=now - timedelta(days=1),
        registration_closes_at=now + timedelta(days=29),
        audiences=("chef_de_projet", "elu", "partenaire"),
    )
