"""Use cases: what residents, staff and the clock can do. Calls storage and domain, never Telegram."""
