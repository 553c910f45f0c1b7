"""Reference numbers (受理编号) in the form PREFIX-YYYY-NNNNN."""

from __future__ import annotations

import re

REF_RE = re.compile(r"^([A-Z]{1,8})-(\d{4})-(\d{5,})$")


def format_ref(prefix: str, year: int, seq: int) -> str:
    """Five digits per station and year; a sixth appears only past 99,999 rather than wrapping."""
    return f"{prefix}-{year:04d}-{seq:05d}"


def normalize_ref(raw: str) -> str | None:
    """Accept what a person types (lower case, full-width dash, spaces) and return the canonical form."""
    text = raw.strip().upper().replace("－", "-").replace("—", "-").replace("–", "-")
    text = re.sub(r"\s+", "", text)
    return text if REF_RE.match(text) else None
