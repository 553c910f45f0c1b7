"""Likely originals of a new opinion (并单建议): each station's open opinions, indexed in process.

One `domain.similarity.SimilarityIndex` per station, built from its open opinions (received,
assigned, in progress, reopened) the first time it is needed — at start-up the bot warms every
station — and kept current by the use cases: intake and the ledger import add, merging,
rejecting, withdrawing and closing forget. Several processes each keep their own index: the
clock tick adds what other processes took in (`catch_up`), and a suggestion is checked against
the database before it is shown (an opinion closed elsewhere is dropped then), so an index that
lags only ever shows fewer suggestions, never a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.lifecycle import Status
from domain.similarity import DEFAULT_MIN_SCORE, Match, SimilarityIndex, features
from storage.models import Opinion, Station

OPEN = (Status.RECEIVED, Status.ASSIGNED, Status.IN_PROGRESS, Status.REOPENED)
SUGGEST = 3  # suggestions on a card
_PROBE = 8  # asked of the index: a few may have closed in another process
_RECENT = 16
_REMEMBERED = 1024  # opinions whose suggestions are kept for re-drawing their card
_FRESH = 64  # a remembered answer is reused while fewer opinions were indexed since


@dataclass(frozen=True)
class Suggested:
    """An open opinion that may say the same: shown on the card with a one-tap merge."""

    id: int
    ref_no: str
    score: float


class OpenOpinions:
    """Per-station similarity indexes of open opinions (not thread-safe: the event loop's)."""

    def __init__(self, min_score: float = DEFAULT_MIN_SCORE) -> None:
        self.min_score = min_score
        self._index: dict[int, SimilarityIndex] = {}
        self._last_id: dict[int, int] = {}  # station -> highest opinion id read from the table
        # The features of the opinions suggest() just looked at, for add() to reuse (intake asks
        # for suggestions, then adds the same text): one segmentation per opinion, not two.
        self._recent: dict[int, tuple[str, npt.NDArray[np.uint64]]] = {}
        # What the index answered for an opinion (by id, with its text): the staff card is drawn
        # again after every button (theme, assign), and the answer is the one intake got.
        self._answered: dict[int, tuple[str, int, int, list[Match]]] = {}  # text, station, adds
        self._adds: dict[int, int] = {}  # station -> opinions indexed since start-up

    def __len__(self) -> int:
        """Opinions indexed, all stations together."""
        return sum(len(index) for index in self._index.values())

    async def _ensure(self, s: AsyncSession, station_id: int) -> SimilarityIndex:
        index = self._index.get(station_id)
        if index is not None:
            return index
        rows = (
            await s.execute(
                select(Opinion.id, Opinion.text).where(
                    Opinion.station_id == station_id, Opinion.status.in_(OPEN)
                )
            )
        ).all()
        index = self._index.get(station_id)  # built by another task while we read
        if index is None:
            index = self._index[station_id] = SimilarityIndex.build((i, t) for i, t in rows)
            self._last_id[station_id] = max((i for i, _ in rows), default=0)
        return index

    async def warm(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        """Build every station's index (at start-up); returns the opinions indexed."""
        async with sessions() as s:
            ids = (await s.execute(select(Station.id))).scalars().all()
            return sum([len(await self._ensure(s, sid)) for sid in ids])

    async def catch_up(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        """Add open opinions other processes took in since we last looked (the clock tick)."""
        if not self._index:
            return 0
        added = 0
        async with sessions() as s:
            for station_id, index in list(self._index.items()):
                rows = (
                    await s.execute(
                        select(Opinion.id, Opinion.text).where(
                            Opinion.station_id == station_id,
                            Opinion.id > self._last_id.get(station_id, 0),
                            Opinion.status.in_(OPEN),
                        )
                    )
                ).all()
                for oid, text in rows:
                    if oid not in index:
                        index.add(oid, text)
                        added += 1
                        self._adds[station_id] = self._adds.get(station_id, 0) + 1
                    self._last_id[station_id] = max(self._last_id.get(station_id, 0), oid)
        return added

    def add(self, station_id: int, opinion_id: int, text: str) -> None:
        """A new (or edited, or reopened) open opinion. Built-later indexes read it themselves."""
        index = self._index.get(station_id)
        if index is not None:
            seen = self._recent.pop(opinion_id, None)
            codes = seen[1] if seen is not None and seen[0] == text else features(text)
            index.add_features(opinion_id, codes)
            self._adds[station_id] = self._adds.get(station_id, 0) + 1
            self._last_id[station_id] = max(self._last_id.get(station_id, 0), opinion_id)

    def _ask(
        self, index: SimilarityIndex, station_id: int, opinion_id: int, text: str
    ) -> list[Match]:
        """The index's answer for an opinion: the one given before for the same text, if any.

        Opinions taken in since (fewer than _FRESH) may be missing from a remembered answer;
        they are newer, and their own cards suggest this one. Ones gone since are dropped by
        the caller."""
        adds = self._adds.get(station_id, 0)
        seen = self._answered.pop(opinion_id, None)
        if seen is not None and seen[:2] == (text, station_id) and adds - seen[2] < _FRESH:
            adds, found = seen[2], seen[3]
        else:
            codes = features(text)
            self._recent[opinion_id] = (text, codes)
            while len(self._recent) > _RECENT:
                del self._recent[next(iter(self._recent))]
            found = index.query_features(
                codes, k=_PROBE, min_score=self.min_score, exclude=opinion_id
            )
        self._answered[opinion_id] = (text, station_id, adds, found)  # last used: dropped last
        while len(self._answered) > _REMEMBERED:
            del self._answered[next(iter(self._answered))]
        return found

    def forget(self, station_id: int, opinion_id: int) -> None:
        """An opinion that is no longer open (merged, rejected, withdrawn, closed)."""
        self._answered.pop(opinion_id, None)
        index = self._index.get(station_id)
        if index is not None:
            index.remove(opinion_id)

    async def suggest(
        self, s: AsyncSession, station_id: int, opinion_id: int, text: str, k: int = SUGGEST
    ) -> list[Suggested]:
        """The open opinions of the station most like `text` (not itself), best first."""
        index = await self._ensure(s, station_id)
        found = self._ask(index, station_id, opinion_id, text)
        found = [m for m in found if m.id != opinion_id and m.id in index]
        if not found:
            return []
        rows = (
            await s.execute(
                select(Opinion.id, Opinion.ref_no, Opinion.status, Opinion.station_id).where(
                    Opinion.id.in_([m.id for m in found])
                )
            )
        ).all()
        live = {oid: ref for oid, ref, status, sid in rows if status in OPEN and sid == station_id}
        for m in found:
            if m.id not in live:
                index.remove(m.id)  # closed or merged by another process, or rolled back
        return [Suggested(m.id, live[m.id], round(m.score, 2)) for m in found if m.id in live][:k]
