"""Benchmark of `import-survey`: a generated file of a given size, imported by the command as operators run it."""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

from pvd_survey import territory
from pvd_survey.bench.common import BENCH_KEY, _scratch_database
from pvd_survey.config import PROJECT_ROOT
from pvd_survey.models import SurveyResponse
from pvd_survey.survey_questions import CSV_COLUMNS, DIPLOMA, EMPLOYER, EXPERIENCE, GENDER, TRAINING_FIELD

DEFAULT_IMPORT_MB = 50


def write_import_file(path: Path, megabytes: float, seed: int = 2026) -> int:
    """Write a valid responses file of about `megabytes` MB (varied answers, a few blanks); return its rows."""
    rng = random.Random(seed)
    months = [f"{y}-{m:02d}" for y in range(2020, 2026) for m in range(1, 13)]
    departments = list(territory.DEPARTMENTS)
    fields = list(TRAINING_FIELD.options)
    columns = [
        months,
        [*EMPLOYER.options, ""],
        [*GENDER.options, ""],
        [*EXPERIENCE.options, ""],
        [*DIPLOMA.options, ""],
    ]
    target = int(megabytes * 1_000_000)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        written = out.write(",".join(CSV_COLUMNS) + "\n")
        while written < target:
            chosen = rng.sample(fields, rng.choice((1, 1, 2, 3)))
            training = "|".join(code for code in fields if code in chosen)
            cells = [rng.choice(values) for values in columns] + [training, rng.choice(departments)]
            written += out.write(",".join(cells) + "\n")
            rows += 1
    return rows


def import_benchmark(
    megabytes: float = DEFAULT_IMPORT_MB,
    workdir: str | None = None,
    kind: str = "sqlite",
    postgres_admin_url: str | None = None,
) -> dict:
    """Run `python -m pvd_survey import-survey` on a generated file in a fresh database: rows/s and peak memory."""
    directory = Path(workdir or tempfile.mkdtemp(prefix="pvd-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / f"import-{megabytes:g}mb.csv"
    rows = write_import_file(source, megabytes)
    size_mb = source.stat().st_size / 1_000_000
    url, drop = _scratch_database(kind, f"import-{megabytes:g}", str(directory), postgres_admin_url)
    environment = {
        **os.environ,
        **BENCH_KEY,
        "PVD_DATABASE_URL": url,
        "PYTHONPATH": str(PROJECT_ROOT),
        "PVD_MAIL_THREAD": "false",
    }
    try:
        # The schema first (not timed), then the import alone, as its own process: its peak memory is its own.
        subprocess.run([sys.executable, "-m", "pvd_survey", "migrate"], env=environment, cwd=directory, check=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pvd_survey", "import-survey", str(source)],
            env=environment,
            cwd=directory,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - began
        # ru_maxrss of the children is the largest peak of any child waited for: the import's (migrate is smaller).
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb = after.ru_maxrss / 1024
        # CPU seconds too: on a shared machine the wall clock also counts the time other processes ran.
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        engine = create_engine(url)
        with engine.connect() as connection:
            stored = connection.scalar(select(func.count()).select_from(SurveyResponse))
        engine.dispose()
    finally:
        drop()
        source.unlink(missing_ok=True)
    return {
        "section": "import",
        "database": kind,
        "file_mb": round(size_mb, 1),
        "rows": rows,
        "exit_code": done.returncode,
        "stored": stored,
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "cpu_seconds": round(cpu, 1),
        "peak_rss_mb": round(peak_mb, 1),
        **({"stderr": done.stderr[-500:]} if done.returncode else {}),
    }
