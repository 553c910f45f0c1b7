"""Telegram in and out: turn updates into service calls and service replies into messages."""
