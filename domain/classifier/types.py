"""Value types the rest of the bot sees: a theme and one text's classification."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Theme:
    """One theme of a taxonomy; keywords seed the model where labeled data is thin.

    `out_of_scope` marks the taxonomy's one "其他（非本专题）" outcome: opinions outside the
    campaign's themes, which staff still handle but statistics keep apart.
    """

    id: str
    name: str
    keywords: tuple[str, ...] = ()
    out_of_scope: bool = False


@dataclass(frozen=True)
class Classification:
    """The verdict for one text, with the evidence shown to staff as the reason.

    `confidence` is a calibrated probability that `category` is right (fitted on held-out
    scores), so a review threshold of 0.6 means "review when the model is less than 60 % sure".
    """

    category: str  # theme id (or the CSV label for a custom model); "other": out of scope
    label: str  # display name (== category for custom labels without taxonomy)
    confidence: float  # [0, 1]
    terms: tuple[str, ...]  # top contributing terms, best first (max 5)
    needs_review: bool
    out_of_scope: bool = False  # category is the taxonomy's out-of-scope outcome
