"""Out-of-scope opinions (其他（非本专题）) in /stats and the briefing: staff handle them like any
other, but they are not the campaign's concerns, so they stay out of the theme statistics, the
theme chart and the growing themes, and are counted apart."""

from __future__ import annotations

from collections.abc import Sequence

from services.kernel.context import ServiceContext

ThemeRow = tuple[str, str, int]  # (theme id, label, count)


def split_scope(ctx: ServiceContext, by_theme: Sequence[ThemeRow]) -> tuple[list[ThemeRow], int]:
    """The campaign's theme rows, and how many opinions were out of scope."""
    outside = ctx.out_of_scope_ids()
    kept = [row for row in by_theme if row[0] not in outside]
    return kept, sum(n for theme, _, n in by_theme if theme in outside)
