"""Meetings, reception days, announcements and residents' subscriptions, managed from chat."""

from services.meetings.manage import MeetingService, meeting_kind

__all__ = ["MeetingService", "meeting_kind"]
