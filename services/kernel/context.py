"""What every service needs: the session factory, the clock, the station defaults, the signer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock, SystemClock
from domain.workdays import WorkCalendar
from services.kernel.actions import ActionCodec
from services.kernel.duplicates import OpenOpinions
from services.kernel.policy import CaseworkPolicy
from services.kernel.routes import StationRoutes


class ThemeResult(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def terms(self) -> Sequence[str]: ...
    @property
    def needs_review(self) -> bool: ...


class ThemeInfo(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...


class Classifier(Protocol):
    """The theme classifier as services see it (domain.classifier.ThemeClassifier fits)."""

    @property
    def themes(self) -> Sequence[ThemeInfo]: ...

    def classify(self, text: str) -> ThemeResult: ...


@dataclass(frozen=True)
class StationDefaults:
    code: str = "default"
    name: str = "人大代表联络站"
    ref_prefix: str = "LL"


@dataclass(frozen=True)
class Limits:
    opinions_per_hour: int = 10
    min_chars: int = 5
    max_chars: int = 2000
    # A typed-answer prompt (a reason, a note, a result) older than this is not applied.
    prompt_ttl: timedelta = timedelta(minutes=60)
    # /stats and /briefing: how long the text waits for its chart; past it the text goes alone
    # and the chart follows through the outbox. None: always wait (the chart comes with it).
    chart_wait: float | None = None


OUT_OF_SCOPE_ID = "other"  # domain.classifier.taxonomy.OTHER_ID, unless a taxonomy marks another
AdminIds = frozenset[tuple[str, str]]  # (channel, external id)


@dataclass
class ServiceContext:
    sessions: async_sessionmaker[AsyncSession]
    classifier: Classifier
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    clock: Clock = field(default_factory=SystemClock)
    station: StationDefaults = field(default_factory=StationDefaults)
    limits: Limits = field(default_factory=Limits)
    admin_ids: AdminIds = frozenset()
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    # Signs every action payload; its secret is loaded from the database by `prepare()`.
    actions: ActionCodec = field(default_factory=ActionCodec)
    # Casework defaults (time limits, rates, 回访, noise); stations may override them.
    casework: CaseworkPolicy = field(default_factory=CaseworkPolicy)
    # Each station's open opinions, indexed for duplicate suggestions (built on first use).
    duplicates: OpenOpinions = field(default_factory=OpenOpinions)
    # Each station's routing model (权责清单 + past assignments), for 交办 suggestions.
    routes: StationRoutes = field(default_factory=StationRoutes)

    async def prepare(self) -> ServiceContext:
        """Load what lives in the database (the signing secret); call once before serving."""
        await self.actions.load(self.sessions)
        return self

    def out_of_scope(self, category: str) -> bool:
        """Whether a theme id is the taxonomy's 其他（非本专题）: outside the campaign's statistics."""
        return category in self.out_of_scope_ids()

    def out_of_scope_ids(self) -> frozenset[str]:
        return frozenset(
            t.id
            for t in self.classifier.themes
            if t.id == OUT_OF_SCOPE_ID or getattr(t, "out_of_scope", False)
        )

    def theme_label(self, category: str) -> str:
        for theme in self.classifier.themes:
            if theme.id == category:
                return theme.name
        return category
