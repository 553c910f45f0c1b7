"""Statistics, the 工作简报 and its schedule, charts."""

from domain.periods import Period, parse_period
from services.reports import rates_view  # noqa: F401  (adds the three rates to /stats, briefings)
from services.reports.briefing import Briefing, build_briefing, post_briefing
from services.reports.schedule import BriefingSlot, latest_briefing_slot
from services.reports.service import ReportsService
from services.reports.stats import Report, Stats, collect_stats, compute_stats, stats_text

__all__ = [
    "Briefing",
    "BriefingSlot",
    "Period",
    "Report",
    "ReportsService",
    "Stats",
    "build_briefing",
    "collect_stats",
    "compute_stats",
    "latest_briefing_slot",
    "parse_period",
    "post_briefing",
    "stats_text",
]
