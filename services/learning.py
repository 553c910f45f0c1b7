"""Staff corrections as training data for `liaison-bot train`."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import make_engine, make_sessionmaker
from storage.models import ThemeCorrection


async def load_corrections(database_url: str) -> list[tuple[str, str]]:
    """(label, text) for every theme staff set by hand; the latest one per opinion wins."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as s:
            rows = (
                await s.execute(
                    select(
                        ThemeCorrection.opinion_id, ThemeCorrection.new_theme, ThemeCorrection.text
                    ).order_by(ThemeCorrection.id)
                )
            ).all()
    finally:
        await engine.dispose()
    latest: dict[object, tuple[str, str]] = {}
    for i, (opinion_id, theme, text) in enumerate(rows):
        latest[opinion_id if opinion_id is not None else f"row{i}"] = (theme, text)
    return list(latest.values())
