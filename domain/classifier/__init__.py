"""Theme classifier for residents' opinions: jieba + TF-IDF + a linear model, pure numpy at run time.

Training (`domain.classifier.training`) needs scikit-learn; loading and classifying need only
numpy and jieba. Nothing here knows about Telegram or the database.
"""

from domain.classifier.errors import ClassifierError
from domain.classifier.model import DEFAULT_MODEL_DIR, DEFAULT_THRESHOLD, ThemeClassifier
from domain.classifier.segment import init_jieba
from domain.classifier.taxonomy import load_taxonomy
from domain.classifier.types import Classification, Theme

__all__ = [
    "DEFAULT_MODEL_DIR",
    "DEFAULT_THRESHOLD",
    "Classification",
    "ClassifierError",
    "Theme",
    "ThemeClassifier",
    "init_jieba",
    "load_taxonomy",
]
