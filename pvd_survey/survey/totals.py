"""The survey's counted totals: every count the figures need, in memory as arrays, at rest as one sealed blob.

Each release rewrites one snapshot of the totals, sealed with the server key (see `links.seal_bytes`):
the database shows its size and nothing else, and that size depends only on the shape of the arrays
(departments × employers × start periods × counted cells), never on the answers. Each process opens
the current snapshot once per release and keeps it (`current`), so the dashboard reads memory.

Dimensions: the answer's department (its region follows), employer and start period; "" stands for
"no answer". Cells: respondents, respondents through a personal link, each option of the counted
questions ("" = no answer) and, for the multiple-choice question, those who ticked at least one box.
Each cell holds a count and the sum of its records' keys modulo 256 (the cell key of `disclosure`).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pvd_survey import territory
from pvd_survey.clock import paris_today, utcnow
from pvd_survey.config import Settings
from pvd_survey.disclosure import KEY_SPACE
from pvd_survey.errors import DomainError
from pvd_survey.models import ServerKey, SurveyRelease, SurveyResponse
from pvd_survey.survey.links import seal_bytes, unseal_bytes
from pvd_survey.survey_questions import COUNTED_QUESTIONS, EMPLOYER, Answers, Question, period_options

RESPONDENTS = "_respondents"
LINK_RESPONDENTS = "_respondents_link"
ANSWERED_PREFIX = "_answered:"

DEPARTMENT_AXIS: tuple[str, ...] = ("", *territory.DEPARTMENTS)
EMPLOYER_AXIS: tuple[str, ...] = ("", *EMPLOYER.options)


def _cells() -> tuple[tuple[str, str], ...]:
    cells = [(RESPONDENTS, ""), (LINK_RESPONDENTS, "")]
    for question in COUNTED_QUESTIONS:
        if question.kind == "multiple":
            cells += [(question.code, option) for option in question.options]
            cells.append((ANSWERED_PREFIX + question.code, ""))
        else:
            cells += [(question.code, option) for option in ("", *question.options)]
    return tuple(cells)


CELLS = _cells()
CELL_INDEX = {cell: number for number, cell in enumerate(CELLS)}
_EVERYONE, _THROUGH_LINKS = (CELL_INDEX[(RESPONDENTS, "")],), (CELL_INDEX[(LINK_RESPONDENTS, "")],)
DEPARTMENT_INDEX = {code: number for number, code in enumerate(DEPARTMENT_AXIS)}
EMPLOYER_INDEX = {code: number for number, code in enumerate(EMPLOYER_AXIS)}
_SEAL_PURPOSE = "survey-totals"


@dataclass
class Totals:
    """Counts and cell keys by department × employer × start period × cell (see the module's docstring)."""

    periods: tuple[str, ...]
    counts: np.ndarray  # int64, shape (departments, employers, periods, cells)
    keys: np.ndarray  # int64, the same shape, each in 0..255

    @staticmethod
    def empty() -> Totals:
        """No answer counted yet."""
        shape = (len(DEPARTMENT_AXIS), len(EMPLOYER_AXIS), 1, len(CELLS))
        return Totals(("",), np.zeros(shape, np.int64), np.zeros(shape, np.int64))

    def copy(self) -> Totals:
        """An independent copy (the cached snapshot is shared by threads and never changed in place)."""
        return Totals(self.periods, self.counts.copy(), self.keys.copy())

    def period_index(self, period: str) -> int | None:
        """Position of a start period on the axis, None if no answer has it."""
        try:
            return self.periods.index(period)
        except ValueError:
            return None

    def cover(self, periods: tuple[str, ...]) -> None:
        """Make room for every given start period (at once), so that the shape depends on them, not the answers."""
        if not set(periods) <= set(self.periods):
            self._grow(*periods)

    def _grow(self, *new: str) -> int:
        period = new[0]
        periods = tuple(sorted({*self.periods, *new}))
        shape = (len(DEPARTMENT_AXIS), len(EMPLOYER_AXIS), len(periods), len(CELLS))
        counts, keys = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        for old, code in enumerate(self.periods):
            counts[:, :, periods.index(code)] = self.counts[:, :, old]
            keys[:, :, periods.index(code)] = self.keys[:, :, old]
        self.periods, self.counts, self.keys = periods, counts, keys
        return periods.index(period)

    def _period(self, answers: Answers) -> int:
        period = answers.start_period or ""
        p = self.period_index(period)
        return self._grow(period) if p is None else p

    @staticmethod
    def _question_cells(question: Question, value: str | tuple[str, ...] | None) -> list[int]:
        """The cells one answer to a counted question adds to."""
        if isinstance(value, tuple):  # (the multiple-choice question)
            chosen = [option for option in value if (question.code, option) in CELL_INDEX]
            cells = [CELL_INDEX[(question.code, option)] for option in chosen]
            return [*cells, CELL_INDEX[(ANSWERED_PREFIX + question.code, "")]] if chosen else cells
        return [CELL_INDEX.get((question.code, value or ""), 0)]

    def _place(self, answers: Answers, linked: bool) -> tuple[int, int, int, list[int]]:
        """Where one record counts: department, employer and period indexes, and its cells."""
        cells = [*_EVERYONE, *_THROUGH_LINKS] if linked else list(_EVERYONE)
        for question in COUNTED_QUESTIONS:
            cells += self._question_cells(question, getattr(answers, question.code))
        d = DEPARTMENT_INDEX.get(answers.department or "", 0)
        return d, EMPLOYER_INDEX.get(answers.employer or "", 0), self._period(answers), cells

    def add(self, answers: Answers, record_key: int, linked: bool, sign: int = 1) -> None:
        """Count one record (sign 1) or take it out (sign -1)."""
        d, e, p, cells = self._place(answers, linked)
        np.add.at(self.counts[d, e, p], cells, sign)
        np.add.at(self.keys[d, e, p], cells, sign * record_key)
        self.keys[d, e, p] %= KEY_SPACE

    def add_many(self, records: list[tuple[Answers, int, bool]]) -> None:
        """Count many records at once (a large import): the same sums as `add` for each, in two array operations.

        A record's place is looked up part by part (period, each answer's cells): a file repeats each part often.
        """
        periods: dict[str | None, str] = {}  # start month -> period code
        parts: dict[tuple[int, object], list[int]] = {}
        placed = []
        for answers, key, linked in records:
            p = periods.get(answers.start_month)
            if p is None:
                p = periods[answers.start_month] = answers.start_period or ""
            cells = [*_EVERYONE, *_THROUGH_LINKS] if linked else list(_EVERYONE)
            for number, question in enumerate(COUNTED_QUESTIONS):
                value = getattr(answers, question.code)
                found = parts.get((number, value))
                if found is None:
                    found = parts[(number, value)] = self._question_cells(question, value)
                cells += found
            d = DEPARTMENT_INDEX.get(answers.department or "", 0)
            placed.append((d, EMPLOYER_INDEX.get(answers.employer or "", 0), p, cells, key))
        for period in set(periods.values()):
            if self.period_index(period) is None:
                self._grow(period)
        # Indexes once every period is in (a new one may move the others); flat views need contiguous arrays.
        index_of = {period: self.period_index(period) or 0 for period in set(periods.values())}
        self.counts, self.keys = np.ascontiguousarray(self.counts), np.ascontiguousarray(self.keys)
        _, employers, period_count, cell_count = self.counts.shape
        flat: list[int] = []
        keys: list[int] = []
        for d, e, period, cells, key in placed:
            base = ((d * employers + e) * period_count + index_of[period]) * cell_count
            flat += [base + cell for cell in cells]
            keys += [key] * len(cells)
        index = np.array(flat, np.int64)
        np.add.at(self.counts.reshape(-1), index, 1)
        np.add.at(self.keys.reshape(-1), index, np.array(keys, np.int64))
        self.keys %= KEY_SPACE

    def to_bytes(self) -> bytes:
        """Header (axes, as JSON) then the two arrays; the length depends on the axes only."""
        header = json.dumps(
            {"departments": DEPARTMENT_AXIS, "employers": EMPLOYER_AXIS, "periods": self.periods, "cells": CELLS}
        ).encode("utf-8")
        buffer = io.BytesIO()
        buffer.write(len(header).to_bytes(4, "big"))
        buffer.write(header)
        buffer.write(self.counts.astype("<i4").tobytes())
        buffer.write(self.keys.astype("u1").tobytes())
        return buffer.getvalue()

    @staticmethod
    def from_bytes(data: bytes) -> Totals:
        """Read `to_bytes`' format, mapping its axes onto today's (a department or cell added since reads as 0)."""
        size = int.from_bytes(data[:4], "big")
        header = json.loads(data[4 : 4 + size])
        departments, employers, periods = header["departments"], header["employers"], tuple(header["periods"])
        cells = [tuple(cell) for cell in header["cells"]]
        shape = (len(departments), len(employers), len(periods), len(cells))
        cell_count = int(np.prod(shape))
        start = 4 + size
        counts = np.frombuffer(data, "<i4", cell_count, start).reshape(shape).astype(np.int64)
        keys = np.frombuffer(data, "u1", cell_count, start + 4 * cell_count).reshape(shape).astype(np.int64)
        if departments == list(DEPARTMENT_AXIS) and employers == list(EMPLOYER_AXIS) and cells == list(CELLS):
            return Totals(periods, counts, keys)
        totals = Totals(
            periods,
            np.zeros((len(DEPARTMENT_AXIS), len(EMPLOYER_AXIS), len(periods), len(CELLS)), np.int64),
            np.zeros((len(DEPARTMENT_AXIS), len(EMPLOYER_AXIS), len(periods), len(CELLS)), np.int64),
        )
        d_map = [(i, DEPARTMENT_INDEX[code]) for i, code in enumerate(departments) if code in DEPARTMENT_INDEX]
        e_map = [(i, EMPLOYER_INDEX[code]) for i, code in enumerate(employers) if code in EMPLOYER_INDEX]
        c_map = [(i, CELL_INDEX[cell]) for i, cell in enumerate(cells) if cell in CELL_INDEX]
        for d_old, d_new in d_map:
            for e_old, e_new in e_map:
                for c_old, c_new in c_map:
                    totals.counts[d_new, e_new, :, c_new] = counts[d_old, e_old, :, c_old]
                    totals.keys[d_new, e_new, :, c_new] = keys[d_old, e_old, :, c_old]
        return totals


def calendar_periods(today: date | None = None) -> tuple[str, ...]:
    """Every start period an answer may give today ("" = no answer): the totals' period axis, whatever was answered."""
    return ("", *period_options(today or paris_today()))


def seal(settings: Settings, totals: Totals) -> bytes:
    """The sealed snapshot written at each release (`totals` first covers every start period of the calendar).

    Used or not, every period is in it: its size must not tell which periods the answers give (each adds
    some 51 KB).
    """
    totals.cover(calendar_periods())
    return seal_bytes(settings, totals.to_bytes(), _SEAL_PURPOSE)


def unseal(settings: Settings, sealed: bytes) -> Totals:
    """Open a snapshot; a wrong key or a changed byte raises DomainError('survey_key_mismatch')."""
    return Totals.from_bytes(unseal_bytes(settings, sealed, _SEAL_PURPOSE))


# One cache per process: {(database, key fingerprint): (version, totals)}. A release gives the snapshot a
# new random version, so every process opens each snapshot once.
_cache: dict[tuple[str, str], tuple[str, Totals]] = {}
_cache_lock = threading.Lock()


def _cache_key(session: Session, settings: Settings) -> tuple[str, str]:
    bind = session.get_bind()
    return str(bind.engine.url), settings.secret_key


def current_totals(session: Session, settings: Settings) -> Totals:
    """The released totals (read-only: copy before changing); one small read when the cache is fresh."""
    version = session.scalar(select(SurveyRelease.totals_version).where(SurveyRelease.id == 1))
    if version is None:
        # No snapshot yet: no answer counted either. Counted rows without one mean the totals were removed by
        # hand: never read as zero (a release would then build on it), refused like a changed snapshot.
        if session.scalar(select(SurveyResponse.id).limit(1)) is not None:
            raise DomainError("survey_key_mismatch")
        return Totals.empty()
    key = _cache_key(session, settings)
    cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    sealed = session.scalar(select(SurveyRelease.totals).where(SurveyRelease.id == 1))
    if not sealed:  # a version without its snapshot: emptied by hand
        raise DomainError("survey_key_mismatch")
    totals = unseal(settings, sealed)
    with _cache_lock:
        _cache[key] = (version, totals)
    return totals


def key_fingerprint(settings: Settings) -> str:
    """What the database keeps of the server key: a keyed hash of a fixed text, from which the key cannot be had."""
    return hmac.new(settings.secret_key.encode("utf-8"), b"pvd/server-key-fingerprint", hashlib.sha256).hexdigest()


def check_key(session: Session, settings: Settings) -> None:
    """At start: the server key must be the one recorded for this database and open the released totals, else
    DomainError('survey_key_lost')."""
    recorded = session.scalar(select(ServerKey.fingerprint).where(ServerKey.id == 1))
    if recorded is not None and not hmac.compare_digest(recorded, key_fingerprint(settings)):
        raise DomainError("survey_key_lost")
    try:
        current_totals(session, settings)
    except DomainError as error:
        raise DomainError("survey_key_lost") from error


def remember_key(session: Session, settings: Settings) -> None:
    """After check_key passed: record the key's fingerprint if none is (the first start, or a database from before
    the fingerprint); a later start with another key is then refused, even before any answer exists."""
    if session.scalar(select(ServerKey.id).where(ServerKey.id == 1)) is None:
        session.add(ServerKey(id=1, fingerprint=key_fingerprint(settings), recorded_at=utcnow()))


def forget_cache() -> None:
    """Drop every opened snapshot (a benchmark's cold start; tests that swap databases)."""
    with _cache_lock:
        _cache.clear()


def store(session: Session, settings: Settings, totals: Totals) -> None:
    """Write a new snapshot (the caller holds the release row's lock) and keep it in this process's cache."""
    version = secrets.token_hex(8)
    session.execute(
        update(SurveyRelease).where(SurveyRelease.id == 1).values(totals=seal(settings, totals), totals_version=version)
    )
    with _cache_lock:
        _cache[_cache_key(session, settings)] = (version, totals)
