"""Statistical disclosure control for every aggregate the app shows or exports.

Rule (k = 5 by default): a cell counting 1 to k-1 respondents is hidden (primary suppression).
Then, within one table whose total is shown, hidden cells must not be recoverable by subtraction:
as long as the hidden cells of a table are a single cell, or add up to fewer than k, the smallest
visible cell is hidden too (secondary suppression). A table whose total is below k is hidden whole.
Zero cells are shown: they say nothing about anybody.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_K = 5


@dataclass(frozen=True)
class Cell:
    """One published figure: count and share, or hidden (both None)."""

    count: int | None
    share: float | None

    @property
    def suppressed(self) -> bool:
        """True when the figure is hidden."""
        return self.count is None


def hidden_cells(counts: dict[str, int], k: int = DEFAULT_K, additive: bool = True) -> set[str]:
    """Keys to hide in one table of counts; `additive` when the cells add up to a shown total."""
    hidden = {key for key, count in counts.items() if 0 < count < k}
    if not additive or not hidden:
        return hidden
    # Secondary suppression: the hidden cells together must neither be one cell (total minus the
    # others gives it) nor add up to a small group. Take the smallest visible cells first, so that
    # as little as possible is lost; zero cells do not help, so skip them.
    visible = sorted((count, key) for key, count in counts.items() if key not in hidden and count > 0)
    while visible and (len(hidden) == 1 or sum(counts[key] for key in hidden) < k):
        hidden.add(visible.pop(0)[1])
    return hidden


def protect_table(
    counts: dict[str, int], base: int, k: int = DEFAULT_K, additive: bool = True
) -> tuple[int | None, dict[str, Cell]]:
    """Publishable (base, cells) for one question: shares are percentages of `base` (1 decimal)."""
    if 0 < base < k:
        return None, {key: Cell(None, None) for key in counts}
    hidden = hidden_cells(counts, k, additive)
    cells = {
        key: Cell(None, None) if key in hidden else Cell(count, round(100 * count / base, 1) if base else 0.0)
        for key, count in counts.items()
    }
    return base, cells
