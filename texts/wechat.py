"""Strings the WeChat channel adds around a message. Plain text (WeChat shows no HTML but links).

Many readers are elderly: short lines, a number to reply with, and the meaning next to it.
"""

from __future__ import annotations


def choices_intro() -> str:
    return "请回复数字："


def choice_line(number: int, label: str) -> str:
    # an ideographic space keeps the labels in one column for numbers 1–9
    return f"回复 {number}\u3000{label}"


def reply_prefix() -> str:
    """What residents may type before the number ("回复1")."""
    return "回复"


def ellipsis() -> str:
    return "…"
