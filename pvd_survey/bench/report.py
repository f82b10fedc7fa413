"""Benchmark of the steering committee's PDF report."""

from __future__ import annotations

import io
import itertools
import random
import time

import pypdf

from pvd_survey import db
from pvd_survey.bench.common import BENCH_KEY, _median_ms, _no_secrets_file, _peak_rss_mb, _scratch_database
from pvd_survey.bench.survey import _fill_survey
from pvd_survey.config import load_settings

REPORT_RUNS = 3


def report_benchmark(
    size: int, workdir: str | None = None, kind: str = "sqlite", postgres_admin_url: str | None = None
) -> dict:
    """Time the steering committee's PDF report over `size` survey responses (France, then one region)."""
    from pvd_survey import report

    url, drop = _scratch_database(kind, f"report-{size}", workdir, postgres_admin_url)
    try:
        settings = load_settings({"PVD_DATABASE_URL": url, **BENCH_KEY}, _no_secrets_file())
        fill_seconds = _fill_survey(url, size, random.Random(size), kind, settings)
        engine = db.make_engine(url)
        factory = db.make_session_factory(engine)
        result: dict = {"benchmark": "report", "database": kind, "responses": size, "fill_seconds": fill_seconds}
        for name, request in (("france", report.ReportRequest()), ("region_27", report.ReportRequest(region="27"))):
            durations, steps = [], {}
            for _ in range(REPORT_RUNS):
                marks = [time.perf_counter()]

                def mark(_step: str, marks: list[float] = marks) -> None:
                    marks.append(time.perf_counter())

                with db.read_only(factory) as session:
                    pdf = report.build_report(session, request, progress=mark, settings=settings)
                marks.append(time.perf_counter())
                durations.append(marks[-1] - marks[0])
                steps = {f"step_{n}_ms": round((b - a) * 1000) for n, (a, b) in enumerate(itertools.pairwise(marks))}
            result[f"{name}_first_ms"] = round(durations[0] * 1000)  # includes vl-convert's start
            result[f"{name}_ms_median"] = _median_ms(durations)
            result[f"{name}_pages"] = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
            result[f"{name}_kb"] = len(pdf) // 1024
            result[f"{name}_last_run_steps"] = steps
        engine.dispose()
        result["peak_rss_mb"] = _peak_rss_mb()
        return result
    finally:
        drop()
