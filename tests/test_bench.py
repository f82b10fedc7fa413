"""The benchmarks that drive a real server (pvd_survey/bench/): run with tiny sizes, they report every figure.

A benchmark is never a timed test: these check that each measure runs and gives a number, not how fast it is.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.database_independent]


def test_web_benchmark_reports_every_measure_with_positive_numbers(tmp_path):
    from pvd_survey import bench

    figures = bench.web_benchmark(
        "sqlite", str(tmp_path), views=1, actions=1, idle_seconds=0.5, refresh_seconds=2, watch_seconds=2,
        dashboards=1, settle_seconds=0.5, concurrency=(2,), rounds=1, sustained_pages=1, sustained_seconds=1,
        protocol_clients=2, protocol_seconds=1,
    )  # fmt: skip
    assert figures["benchmark"] == "web" and figures["database"] == "sqlite"
    assert len(figures["load_average_at_start"]) == len(figures["load_average_at_end"]) == 3
    assert figures["idle_cpu_ms_per_s"] >= 0
    positive = [
        "start_to_first_page_s", "ready_to_first_page_ms", "first_page_cpu_ms",
        "jobs_view_cold_cpu_ms", "jobs_view_warm_cpu_ms", "meetings_view_cold_cpu_ms", "meetings_view_warm_cpu_ms",
        "registration_cpu_ms", "survey_submission_cpu_ms", "registration_send_cpu_ms", "survey_send_cpu_ms",
        "jobs_view_cold_behind_nginx_cpu_ms", "registration_behind_nginx_cpu_ms",
        "dashboard_first_open_cpu_ms", "dashboard_open_cpu_ms", "dashboard_first_drawn_ms", "dashboard_drawn_ms",
        "dashboard_refresh_after_change_cpu_ms",
        "rss_before_mb", "rss_with_1_dashboards_mb", "rss_after_close_mb",
        "jobs_view_2_at_once_p50_ms", "jobs_view_2_at_once_p95_ms",
        "sustained_registrations", "sustained_registrations_per_minute", "sustained_cpu_ms_per_registration",
        "protocol_registrations", "protocol_registrations_per_minute", "protocol_cpu_ms_per_registration",
        "protocol_visit_p50_ms", "protocol_visit_p95_ms",
        "protocol_behind_nginx_registrations_per_minute", "protocol_behind_nginx_cpu_ms_per_registration",
    ]  # fmt: skip
    assert {name: figures.get(name) for name in positive if not figures.get(name, 0) > 0} == {}
    # A refresh that finds nothing new costs a read and one line: within the clock's 10 ms tick of nothing here.
    assert figures["dashboard_refresh_cpu_ms"] >= 0
    assert figures["start_to_first_page_s"] * 1000 > figures["ready_to_first_page_ms"]
    assert "rss_mb_per_dashboard" in figures and "rss_returned_mb" in figures
