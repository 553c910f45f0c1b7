"""Process-wide resources loaded once at start (jieba dictionary, the active model)."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from domain.classifier import ThemeClassifier, init_jieba


def active_model_dir(settings: Settings) -> Path | None:
    """MODEL_DIR, else the model `liaison-bot train` left in the data folder, else the packaged one."""
    if settings.model_dir is not None:
        return settings.model_dir
    trained = settings.data_dir / "model"
    return trained if trained.is_dir() else None


def load_classifier(settings: Settings) -> ThemeClassifier:
    init_jieba(settings.data_dir)
    return ThemeClassifier.load(
        active_model_dir(settings),
        threshold=settings.review_threshold,
        cache_dir=settings.data_dir,
    )
