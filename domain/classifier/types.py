"""Value types the rest of the bot sees: a theme and one text's classification."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Theme:
    """One theme of a taxonomy; keywords seed the model where labeled data is thin."""

    id: str
    name: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Classification:
    """The verdict for one text, with the evidence shown to staff as the reason."""

    category: str  # theme id (or the CSV label for a custom model)
    label: str  # display name (== category for custom labels without taxonomy)
    confidence: float  # [0, 1]
    terms: tuple[str, ...]  # top contributing terms, best first (max 5)
    needs_review: bool
