"""Duplicate suggestions: the index against the written pairs, incremental upkeep, persistence."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from domain.classifier.corpus import SHIPPED_TRAIN, read_labeled
from domain.similarity import (
    DEFAULT_MIN_SCORE,
    Match,
    SimilarityIndex,
    analyze,
    cosine,
    features,
    synonyms,
)

ROOT = Path(__file__).resolve().parent.parent
PAIRS = ROOT / "bench" / "data" / "duplicates.csv"


@pytest.fixture(scope="module", autouse=True)
def _jieba(jieba_cache: Path) -> None:
    """Segmentation with the project's dictionary (the session fixture loads it once)."""


def load_pairs() -> tuple[list[str], list[str], list[str]]:
    with PAIRS.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    dup = [r for r in rows if r["duplicate"] == "1"]
    near = [r for r in rows if r["duplicate"] == "0"]
    return [r["original"] for r in dup], [r["new"] for r in dup], [r["new"] for r in near]


def test_paraphrases_are_found_among_the_originals() -> None:
    """Floors under the figures in docs/classifier-figures.md (recall 0.67, precision 0.53)."""
    originals, paraphrases, near = load_pairs()
    index = SimilarityIndex.build(enumerate(originals))
    hits = sum(any(m.id == i for m in index.query(p)) for i, p in enumerate(paraphrases))
    made = sum(len(index.query(t)) for t in [*paraphrases, *near])
    assert hits / len(originals) >= 0.6
    assert hits / made >= 0.45
    # The paraphrase scores above the near-topic text for most originals.
    above = sum(
        dict(index.query(p, k=200, min_score=0.0)).get(i, 0.0)
        > dict(index.query(n, k=200, min_score=0.0)).get(i, 0.0)
        for i, (p, n) in enumerate(zip(paraphrases, near, strict=True))
    )
    assert above / len(originals) >= 0.65


def test_query_returns_best_first_within_k_and_min_score() -> None:
    index = SimilarityIndex.build(
        [
            (1, "东环路的路灯坏了好几盏，晚上很黑"),
            (2, "东环路路灯不亮，晚上走路看不见"),
            (3, "社区老年食堂的饭菜太咸"),
        ]
    )
    found = index.query("东环路的路灯坏了，晚上太黑", k=2, min_score=0.0)
    assert [m.id for m in found] == [1, 2]
    assert found[0].score >= found[1].score > 0
    assert all(isinstance(m, Match) and 0 < m.score <= 1 for m in found)
    assert index.query("东环路的路灯坏了，晚上太黑", k=1)[0].id == 1
    assert index.query("东环路的路灯坏了，晚上太黑", min_score=0.99) == []
    assert [m.id for m in index.query("东环路的路灯坏了好几盏，晚上很黑", 1, 0.0, exclude=1)] == [2]
    assert index.query("") == [] and index.query("😀") == []


def test_identical_text_scores_one() -> None:
    index = SimilarityIndex.build([(7, "小区没有助餐点，老人吃饭难"), (8, "物业费太贵")])
    (best, *_) = index.query("小区没有助餐点，老人吃饭难")
    assert best.id == 7 and best.score == pytest.approx(1.0)


def test_add_remove_and_replace() -> None:
    index = SimilarityIndex()
    index.add(1, "养老院押金要交五万，太高了")
    index.add(2, "高龄津贴三个月没到账")
    assert len(index) == 2 and 1 in index
    assert index.query("入住养老院押金五万太高", min_score=0.2)[0].id == 1
    assert index.remove(1) and not index.remove(1)
    assert 1 not in index and len(index) == 1
    assert all(m.id != 1 for m in index.query("入住养老院押金五万太高", min_score=0.0))
    index.add(2, "养老院押金要交五万，太高了")  # same id, new text: replaced
    assert len(index) == 1
    assert index.query("入住养老院押金五万太高", min_score=0.2)[0].id == 2


def test_build_equals_one_by_one_and_bytes_round_trip() -> None:
    texts = read_labeled(SHIPPED_TRAIN).texts[:300]
    built = SimilarityIndex.build(enumerate(texts))
    one_by_one = SimilarityIndex()
    for i, t in enumerate(texts):
        one_by_one.add(i, t)
    loaded = SimilarityIndex.from_bytes(built.to_bytes())
    assert len(loaded) == len(built) == len(texts)
    for q in texts[:40:3]:
        want = built.query(q, k=5, min_score=0.1)
        assert [m.id for m in loaded.query(q, k=5, min_score=0.1)] == [m.id for m in want]
        # One by one, idf moved while documents came in: the same best match.
        assert one_by_one.query(q, k=1, min_score=0.1)[0].id == want[0].id
    with pytest.raises(ValueError):
        SimilarityIndex.from_bytes(b"not an index")


def test_many_removals_compact_and_keep_answers() -> None:
    texts = read_labeled(SHIPPED_TRAIN).texts
    index = SimilarityIndex.build(enumerate(texts))
    keep = set(range(0, len(texts), 7))
    for i in range(len(texts)):
        if i not in keep:
            index.remove(i)
    assert len(index) == len(keep)
    for i in sorted(keep)[:30]:
        best = index.query(texts[i], k=1, min_score=0.0)
        assert best and best[0].id in keep
        assert best[0].score == pytest.approx(1.0) or texts[best[0].id] == texts[i]


def test_features_are_words_bigrams_and_characters() -> None:
    words, codes = analyze("星期六联络站开门吗")
    assert "周六" in words  # synonym groups map to their first word
    assert len(codes) == len(set(codes.tolist()))
    assert (features("周六联络站开门吗") == features("周六联络站开门吗")).all()
    assert synonyms()["星期六"] == "周六"
    assert cosine("周六开门吗", "星期六开门吗") > cosine("周六开门吗", "周六几点关门")
    assert cosine("", "任何") == 0.0


def test_default_threshold_is_the_documented_one() -> None:
    assert DEFAULT_MIN_SCORE == 0.3


def test_pruned_query_returns_what_the_exhaustive_one_does() -> None:
    """Candidates from the rarest features, exact scores: the same top 3 as reading every list,
    also when a tight posting budget leaves most common features to the exact rescoring."""
    originals, paraphrases, near = load_pairs()
    texts = [*read_labeled(SHIPPED_TRAIN).texts, *originals]
    queries = [*paraphrases, *near, *texts[::40]]
    for budget in (20_000, 300):
        index = SimilarityIndex.build(enumerate(texts))
        index.max_postings = budget
        same = 0
        for q in queries:
            codes = features(q)
            pruned = index.query_features(codes, k=3)
            full = index.query_features(codes, k=3, exhaustive=True)
            assert all(m.score >= DEFAULT_MIN_SCORE for m in pruned)
            same += [m.id for m in pruned] == [m.id for m in full]
            for m in pruned:  # a pruned answer carries its exact score
                assert m.score == pytest.approx(dict(full).get(m.id, m.score))
        assert same == len(queries) if budget == 20_000 else same >= 0.95 * len(queries)
