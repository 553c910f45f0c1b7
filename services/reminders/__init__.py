"""The clock's planner: reminders and briefings become outbox rows exactly when they are due."""

from services.reminders.planner import ReminderPlanner, ReminderPolicy

__all__ = ["ReminderPlanner", "ReminderPolicy"]
