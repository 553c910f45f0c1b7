"""Supervised term weights (`liaison-bot train --term-weights`): the maths and a real model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from bot import classifier_cli
from domain.classifier import ThemeClassifier
from domain.classifier.corpus import read_labeled
from domain.classifier.features import extract
from domain.classifier.training import (
    TERM_BASE,
    TrainConfig,
    no_progress,
    term_weights,
    train_model,
)
from domain.classifier.vectorize import Vocabulary, transform

ROOT = Path(__file__).resolve().parent.parent
PROXY = ROOT / "bench" / "data" / "gov7_proxy.csv"


def test_a_feature_of_one_class_weighs_more_than_one_of_every_class() -> None:
    # columns: only in class 0; in both classes alike; in neither
    x = sparse.csr_matrix(np.array([[1.0, 0.5, 0.0], [2.0, 0.5, 0.0], [0.0, 0.5, 0.0]]))
    y = np.array([0, 0, 1])
    tw = term_weights(x, y, 2, np.ones(3))
    assert tw[0] > 1.4 and tw[1] == pytest.approx(TERM_BASE)
    assert tw[2] == pytest.approx(TERM_BASE)  # never seen: spread evenly by the smoothing
    # A sample weight of 0 removes a row from the counts: column 1 now belongs to class 1.
    assert term_weights(x, y, 2, np.array([0.0, 0.0, 1.0]))[1] > 1.4


def test_term_weights_fold_into_the_model(jieba_cache: Path) -> None:
    """Inference is unchanged: the stored weights already carry the scale, and the model scores
    a text as its training matrix row times the weights."""
    data = read_labeled(PROXY).examples
    cfg = replace(TrainConfig(), term_weights=True)
    model = train_model(data, None, cfg, progress=no_progress).model
    plain = train_model(data, None, progress=no_progress).model
    assert model.meta is not None and model.meta["config"]["term_weights"] is True
    assert not np.allclose(model.weights, plain.weights)
    clf = ThemeClassifier(model)
    texts = [t for _, t in data[:20]]
    vocab = Vocabulary(model.word_vocab, model.char_codes, model.idf)
    x = transform([extract(t, model.spec) for t in texts], vocab, model.spec)
    want = np.asarray(x @ model.weights) + model.bias
    for i, t in enumerate(texts):
        np.testing.assert_allclose(clf.scores(t), want[i], atol=1e-4)
    right = sum(
        v.category == lab for v, (lab, _) in zip(clf.classify_many(texts), data[:20], strict=True)
    )
    assert right >= 18  # training texts


def test_train_term_weights_option(tmp_path: Path, jieba_cache: Path) -> None:
    (tmp_path / "jieba.cache").write_bytes((jieba_cache / "jieba.cache").read_bytes())
    out = tmp_path / "m"
    args = ["train", "--data", str(PROXY), "--out", str(out), "--data-dir", str(tmp_path)]
    assert classifier_cli.main([*args, "--term-weights", "--lead", "2"]) == 0
    info = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert info["meta"]["config"]["term_weights"] is True
    assert info["features"]["lead"] == 2
