"""Statistical disclosure control for every published count that describes people.

Two protections, applied in this order to every table the app shows or exports:

1. Suppression (k = 5 by default): a cell counting fewer than k people is hidden (primary
   suppression), zero included: if an empty cell were shown, a hidden one would mean "at least one
   person", and a region's hidden cell beside its other departments' zeros would point at the one
   person of the remaining department. Within one table whose total is shown, hidden people must not
   be recoverable by subtraction: as long as the hidden cells hold people in a single cell, or fewer
   than k people in all, the smallest visible cell is hidden too (secondary suppression). A table
   whose total is below k (zero included) is hidden whole. In the survey's tables (whose population
   is known to whoever knows who answered), a cell is also hidden when fewer than k of the people who
   answered the question lie outside it: "all of them but two answered X" would otherwise tell the
   answer of nearly everyone in the group (attribute disclosure).
2. Cell-key perturbation (the method of the UK's ONS for the 2021 census and of the Australian
   Bureau of Statistics' TableBuilder): every record carries a random record key in 0..255, fixed
   when the record is stored; a cell's key is the sum of its records' keys modulo 256. A fixed table
   maps (count, cell key) to a small noise that is added to every shown count. The same cell always
   gives the same published value (dashboard, CSV, PNG, `stats`), so asking again or averaging gives
   nothing, while a figure that differs from another by one person no longer tells that person's answer.

Every shown count (k or more) gets the same noise distribution, so that no count is published
exactly: -2, -1, 0, +1, +2 with probabilities 13/256, 51/256, 1/2, 51/256, 13/256 (mean exactly
zero, variance 0.80, never more than MAX_NOISE in absolute value). A published count is never below
1 (this only bounds the noise when k is 2). Shares are computed from the published counts, never
from the true ones.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

DEFAULT_K = 5
KEY_SPACE = 256
MAX_NOISE = 2

# Noise by position 0..255 in the table of a count: symmetric, so the mean is exactly zero.
_NOISE = [-2] * 13 + [-1] * 51 + [0] * 128 + [1] * 51 + [2] * 13
# Each count reads its row of the table from its own starting position (ABS-style), so that two cells
# that happen to share a key but not a count do not get the same noise.
_ROW_SHIFT = 97


@dataclass(frozen=True, slots=True)
class Tally:
    """A true count and the sum of its records' keys (what the pre-aggregated tables store).

    A frozen dataclass rather than a NamedTuple: a tuple's `count` method would clash with the field.
    """

    count: int
    key_sum: int = 0

    def __add__(self, other: object) -> Tally:
        if not isinstance(other, Tally):
            return NotImplemented
        return Tally(self.count + other.count, self.key_sum + other.key_sum)


ZERO = Tally(0, 0)


def new_record_key() -> int:
    """A random record key, drawn once per record."""
    return secrets.randbelow(KEY_SPACE)


def noise(count: int, cell_key: int) -> int:
    """The perturbation of a shown cell of `count` people whose records' keys add up to `cell_key`."""
    return _NOISE[(cell_key + _ROW_SHIFT * count) % KEY_SPACE]


def perturb(tally: Tally, k: int = DEFAULT_K) -> int | None:
    """The published value of one cell: fewer than k people (zero included) is hidden (None), others get the noise."""
    if tally.count < k or tally.count <= 0:
        return None
    return max(1, tally.count + noise(tally.count, tally.key_sum % KEY_SPACE))


@dataclass(frozen=True)
class Cell:
    """One published figure: count and share, or hidden (both None)."""

    count: int | None
    share: float | None

    @property
    def suppressed(self) -> bool:
        """True when the figure is hidden."""
        return self.count is None


def hidden_cells(
    counts: dict[str, int], k: int = DEFAULT_K, additive: bool = True, population: int | None = None
) -> set[str]:
    """Keys to hide in one table of true counts; `additive` when the cells add up to a shown total.

    With `population` (the people who answered), a cell leaving fewer than k of them outside is hidden too.
    """
    hidden = {key for key, count in counts.items() if count < k or (population is not None and population - count < k)}
    if not additive:
        return hidden
    # Secondary suppression: the people in hidden cells must neither sit in one cell (total minus
    # the others gives it) nor be fewer than k. Empty hidden cells protect nobody and hide nobody.
    # Take the smallest visible cells first, so that as little as possible is lost.
    visible = sorted((count, key) for key, count in counts.items() if key not in hidden)

    def exposed() -> bool:
        holding = [counts[key] for key in hidden if counts[key] > 0]
        return bool(holding) and (len(holding) == 1 or sum(holding) < k)

    while visible and exposed():
        hidden.add(visible.pop(0)[1])
    return hidden


def publish_table(
    tallies: dict[str, Tally], k: int = DEFAULT_K, additive: bool = True, population: int | None = None
) -> dict[str, int | None]:
    """Published counts of one table: suppressed cells are None, the others perturbed."""
    hidden = hidden_cells({key: tally.count for key, tally in tallies.items()}, k, additive, population)
    return {key: None if key in hidden else perturb(tally, k) for key, tally in tallies.items()}


def protect_table(
    tallies: dict[str, Tally], base: Tally, k: int = DEFAULT_K, additive: bool = True
) -> tuple[int | None, dict[str, Cell]]:
    """Publishable (base, cells) for one question of the survey; shares are percentages of the published base.

    `base` is everybody who answered the question: no shown cell leaves fewer than k of them outside.
    """
    published_base = perturb(base, k)
    if published_base is None:
        return None, {key: Cell(None, None) for key in tallies}
    cells = {}
    for key, count in publish_table(tallies, k, additive, population=base.count).items():
        cells[key] = Cell(count, None if count is None else round(100 * count / published_base, 1))
    return published_base, cells
