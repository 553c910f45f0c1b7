"""Out of scope (其他（非本专题）), calibrated confidence and the title weighting: real models."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bot import classifier_cli
from domain.classifier import DEFAULT_THRESHOLD, ClassifierError, ThemeClassifier
from domain.classifier.corpus import SHIPPED_HELDOUT, SHIPPED_TRAIN, read_labeled
from domain.classifier.features import FeatureSpec, extract, has_han, lead_end
from domain.classifier.metrics import reliability
from domain.classifier.taxonomy import (
    OTHER_ID,
    OTHER_NAME,
    label_index,
    load_taxonomy,
    parse_taxonomy,
)
from domain.classifier.training import evaluate, no_progress, train_model

ROOT = Path(__file__).resolve().parent.parent
SCOPE_EXTERNAL = ROOT / "bench" / "data" / "scope_external.csv"
ELDERLY_EXTERNAL = ROOT / "bench" / "data" / "elderly_external.csv"
# Floors a little under the figures in docs/classifier-figures.md: a drop below one means the
# scope model or the calibration broke, not that the corpus changed by a sentence.
OUT_MARKED_FLOOR = 0.88
IN_MARKED_CEILING = 0.10
ECE_CEILING = 0.05


@pytest.fixture(scope="module")
def clf(jieba_cache: Path) -> ThemeClassifier:
    return ThemeClassifier.load(None, cache_dir=jieba_cache)


def rows(path: Path) -> list[tuple[str, str]]:
    return read_labeled(path, label_index(load_taxonomy())).examples


# -- the taxonomy -------------------------------------------------------------------------------


def test_every_taxonomy_gets_the_out_of_scope_outcome() -> None:
    themes = parse_taxonomy('{"themes": [{"id": "a", "name": "甲"}, {"id": "b"}]}', "json")
    assert [t.id for t in themes] == ["a", "b", OTHER_ID]
    assert themes[-1].out_of_scope and themes[-1].name == OTHER_NAME
    assert label_index(themes)["其他"] == OTHER_ID == label_index(themes)["非本专题"]


def test_the_out_of_scope_name_is_the_stations() -> None:
    themes = parse_taxonomy("id,name,keywords\na,甲,x\nb,乙,y\nother,不属于本次调研,\n", "csv")
    assert [(t.id, t.name, t.out_of_scope) for t in themes][-1] == (
        "other",
        "不属于本次调研",
        True,
    )
    custom = parse_taxonomy(
        '[{"id": "a"}, {"id": "b"}, {"id": "misc", "name": "别的", "out_of_scope": true}]', "json"
    )
    assert [t.id for t in custom if t.out_of_scope] == ["misc"]
    assert len(custom) == 3  # nothing added: the file has its own


def test_two_out_of_scope_themes_are_refused() -> None:
    with pytest.raises(ClassifierError, match="只能保留一个"):
        parse_taxonomy(
            '[{"id": "a"}, {"id": "b"}, {"id": "other"}, {"id": "x", "out_of_scope": true}]',
            "json",
        )


# -- the packaged model ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("楼下广场舞太吵了", OTHER_ID),
        ("建议修一下东环路的路灯，晚上太黑", OTHER_ID),
        ("物业费太贵了", OTHER_ID),
        ("退休金什么时候涨", "funding"),  # pensions are old-age income: 经济支撑
        ("我想问一下你们几点下班", OTHER_ID),
        ("学校门口接送孩子的车太多，交通拥堵", OTHER_ID),
    ],
)
def test_the_issues_examples_come_out_sensibly(
    clf: ThemeClassifier, text: str, category: str
) -> None:
    v = clf.classify(text)
    assert v.category == category
    assert v.out_of_scope == (category == OTHER_ID)
    if v.out_of_scope:
        assert v.label == OTHER_NAME


def test_same_words_different_asks(clf: ThemeClassifier) -> None:
    """Dancing noise is out of scope; a place for older people to dance is not."""
    assert clf.classify("晚上楼下跳舞的音响太吵了，孩子没法写作业").out_of_scope
    v = clf.classify("老人们没有跳广场舞的地方，只能在停车场跳，希望社区给找块场地")
    assert v.category == "home_community" and not v.needs_review


def test_scope_targets_on_the_external_sets(clf: ThemeClassifier) -> None:
    """The issue's targets on texts never used for training or tuning (see bench/data/README)."""
    data = rows(ELDERLY_EXTERNAL) + rows(SCOPE_EXTERNAL)
    verdicts = clf.classify_many([t for _, t in data])
    marked: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for (gold, _), v in zip(data, verdicts, strict=True):
        kind = "out" if gold == OTHER_ID else "in"
        total[kind] += 1
        marked[kind] += v.out_of_scope or v.needs_review
    assert total["out"] >= 200 and total["in"] >= 300
    assert marked["out"] / total["out"] >= OUT_MARKED_FLOOR
    assert marked["in"] / total["in"] <= IN_MARKED_CEILING


def test_confidence_is_calibrated_on_the_heldout_set(clf: ThemeClassifier) -> None:
    report = evaluate(clf, rows(SHIPPED_HELDOUT))
    assert report.reliability is not None
    assert report.reliability.ece <= ECE_CEILING
    assert sum(b.count for b in report.reliability.bins) == report.n
    # Confident verdicts are right more often than unsure ones.
    bins = [b for b in report.reliability.bins if b.count >= 10]
    assert bins[-1].accuracy >= bins[0].accuracy


def test_threshold_is_a_probability(clf: ThemeClassifier, jieba_cache: Path) -> None:
    assert clf.threshold == DEFAULT_THRESHOLD == 0.5
    for text, _ in rows(SHIPPED_HELDOUT)[::4]:
        v = clf.classify(text)
        # Below the threshold, or nothing in Chinese to go by ("1", "??").
        assert v.needs_review == (v.confidence < clf.threshold or not has_han(text))
        p = clf.probabilities(text)
        assert abs(float(p.sum()) - 1.0) < 1e-4
        if v.confidence == 0.0:  # nothing the model knows: no probability is claimed
            continue
        assert abs(float(p.max()) - v.confidence) < 1e-4
        assert clf.classes[int(p.argmax())] == v.category


def test_reasons_for_out_of_scope_are_words_of_the_text(clf: ThemeClassifier) -> None:
    text = "小区停车位太少了，晚上回来根本没地方停"
    v = clf.classify(text)
    assert v.out_of_scope
    assert v.terms and all(t in text for t in v.terms)


# -- training ------------------------------------------------------------------------------------


def test_training_with_other_examples_makes_a_scope_model(jieba_cache: Path) -> None:
    """A station's own labels with an `other` label: two-stage model, other last, calibrated."""
    themes = load_taxonomy()
    data = rows(SHIPPED_TRAIN)
    by_label: dict[str, list[tuple[str, str]]] = {}
    for lab, text in data:
        by_label.setdefault(lab, []).append((lab, text))
    small = [r for lab, part in by_label.items() for r in part[:60]]
    result = train_model(small, themes, progress=no_progress)
    model = result.model
    assert model.classes[-1] == OTHER_ID and model.scope is not None
    assert result.cv is not None and 0.0 <= result.cv.extra["ece"] <= 1.0
    clf = ThemeClassifier(model)
    assert clf.classify("你们联络站几点上班").out_of_scope
    assert not clf.classify("社区能不能办个老年食堂，老人吃饭太难了").out_of_scope
    # No `other` examples: a flat model; the outcome exists for texts without evidence only.
    flat = train_model([r for r in small if r[0] != OTHER_ID], themes, progress=no_progress).model
    assert OTHER_ID not in flat.classes and flat.scope is None
    flat_clf = ThemeClassifier(flat)
    assert flat_clf.themes[-1].out_of_scope
    assert flat_clf.classify("😀😀").category == OTHER_ID


def test_evaluate_prints_the_reliability_table(
    tmp_path: Path, jieba_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "jieba.cache").write_bytes((jieba_cache / "jieba.cache").read_bytes())
    args = ["evaluate", "--data", str(SHIPPED_HELDOUT), "--data-dir", str(tmp_path)]
    assert classifier_cli.main(args) == 0
    out = capsys.readouterr().out
    for needle in ("reliability", "ECE", "mean confidence", "非本专题意见被判为非本专题或需复核"):
        assert needle in out
    assert classifier_cli.main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reliability"]["ece"] <= ECE_CEILING
    assert report["out_of_scope_marked"] >= OUT_MARKED_FLOOR


def test_classify_json_reports_other_as_its_own_category(
    tmp_path: Path, jieba_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "jieba.cache").write_bytes((jieba_cache / "jieba.cache").read_bytes())
    assert (
        classifier_cli.main(
            ["classify", "--json", "--data-dir", str(tmp_path), "物业费太贵了", "助餐点太少"]
        )
        == 0
    )
    first, second = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert (first["category"], first["label"], first["out_of_scope"]) == (
        OTHER_ID,
        OTHER_NAME,
        True,
    )
    assert second["category"] == "home_community" and second["out_of_scope"] is False


# -- calibration maths and the title weighting ------------------------------------------------------


def test_reliability_table_adds_up() -> None:
    rel = reliability([0.95, 0.95, 0.55, 0.55, 0.0], [True, True, True, False, False])
    assert [b.count for b in rel.bins] == [1, 2, 2]
    assert rel.bins[0].lo == 0.0 and rel.bins[-1].hi == 1.0
    # 1/5 * |0 - 0| + 2/5 * |0.5 - 0.55| + 2/5 * |1 - 0.95|
    assert rel.ece == pytest.approx(0.04)
    assert "ECE" in rel.render()


def test_lead_counts_the_first_sentence_more() -> None:
    text = "路灯坏了。我们小区晚上很黑，希望修一修"
    plain = extract(text, FeatureSpec())
    lead = extract(text, FeatureSpec(lead=2))
    assert lead.words["路灯"] == plain.words["路灯"] + 2
    assert lead.words["小区"] == plain.words["小区"]
    assert lead_end("没有句号的一句话", 40) == len("没有句号的一句话")
    one = "只有一句话没有结尾"
    assert extract(one, FeatureSpec(lead=2)).words == extract(one, FeatureSpec()).words
