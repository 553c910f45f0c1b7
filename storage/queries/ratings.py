"""Which rating rows count: shared by the live reports (services.reports.rates) and the per-day
sums (storage.rollup), so the stored figures and their reference cannot drift apart."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from storage.models import CoSigner, Rating


def cosigned(rating: Any) -> Any:
    """The rating was given by a co-signer of its case (not the case's own resident)."""
    return (
        select(CoSigner.id)
        .where(CoSigner.opinion_id == rating.opinion_id, CoSigner.user_id == rating.user_id)
        .exists()
    )


def is_final() -> Any:
    """A rating row is its case's final rating: not a co-signer's, and no later rating of the
    case (other than a co-signer's) supersedes it. Index lookups per rating (ratings and
    cosigners by opinion), so a period's ratings are checked without scanning the table."""
    later = aliased(Rating)
    superseded = (
        select(later.id)
        .where(later.opinion_id == Rating.opinion_id, later.id > Rating.id, ~cosigned(later))
        .exists()
    )
    return and_(~cosigned(Rating), ~superseded)
