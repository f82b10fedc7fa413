"""`python -m pvd_survey bench`: measured figures for docs/benchmarks.md (a benchmark, never a timed test)."""

from pvd_survey.bench.door import door_benchmark
from pvd_survey.bench.imports import import_benchmark
from pvd_survey.bench.jobs import jobs_benchmark
from pvd_survey.bench.meetings import meetings_benchmark
from pvd_survey.bench.proxy import proxy_benchmark
from pvd_survey.bench.report import report_benchmark
from pvd_survey.bench.signin import signin_benchmark
from pvd_survey.bench.survey import survey_benchmark
from pvd_survey.bench.web import web_benchmark

__all__ = [
    "door_benchmark",
    "import_benchmark",
    "jobs_benchmark",
    "meetings_benchmark",
    "proxy_benchmark",
    "report_benchmark",
    "signin_benchmark",
    "survey_benchmark",
    "web_benchmark",
]
