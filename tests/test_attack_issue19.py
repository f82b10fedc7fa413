"""Attacks on issue 19 (integrity at the edges), written by an adversary: each defect found is fixed and its test
kept; attacks that failed are kept for their coverage."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pvd_survey import cli
from tests.factories import run_cli
from tests.test_cli import GOOD_ROW, SURVEY_HEADER, responses_in

# ---------------------------------------------------------------------------- import-survey


def test_import_refuses_a_fifo_instead_of_waiting_for_a_writer_forever(database_url, tmp_path):
    # open() of a FIFO blocks until someone opens it for writing: the command hung before its S_ISREG check.
    fifo = tmp_path / "reponses.csv"
    os.mkfifo(fifo)
    outcome: list[object] = []

    def open_it() -> None:
        try:
            outcome.append(cli._open_import_file(str(fifo)))
        except Exception as error:
            outcome.append(error)

    opener = threading.Thread(target=open_it, daemon=True)
    opener.start()
    opener.join(timeout=5)
    if opener.is_alive():  # unblock it (a writer appears) before failing
        with open(fifo, "wb"):
            pass
        opener.join()
        pytest.fail("opening a FIFO waited for a writer")
    assert outcome and getattr(outcome[0], "code", None) == "import_file_not_file", outcome
    # And through the command, for a symlink to a FIFO and to /dev/zero: exit 2, a French sentence.
    for target in (fifo, Path("/dev/zero")):
        link = tmp_path / f"lien-{target.name}.csv"
        link.symlink_to(target)
        result = run_cli(database_url, "import-survey", str(link))
        assert result.returncode == 2 and "n'est pas un fichier" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        # Old Mac line ends: the header line holds a bare CR, which the CSV reader refuses.
        ((SURVEY_HEADER.strip() + "\r" + GOOD_ROW.strip() + "\r").encode(), "row_bad_csv"),
        # A header cell past the CSV reader's field limit.
        (b"x" * 200_000 + b"\n" + GOOD_ROW.encode(), "row_field_too_long"),
    ],
)
def test_a_broken_header_line_is_a_french_refusal_with_its_line_not_a_traceback(
    factory, database_url, tmp_path, content, reason
):
    source = tmp_path / "reponses.csv"
    source.write_bytes(content)
    result = run_cli(database_url, "import-survey", str(source))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1 and "ligne 1" in result.stderr, result.stderr
    assert responses_in(factory) == 0
