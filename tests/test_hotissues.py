"""Hot issues: planted recurring issues come back as clusters, biggest first, with an example."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from domain.classifier.corpus import SHIPPED_HELDOUT, SHIPPED_TRAIN, read_labeled
from domain.hotissues import Cluster, cluster

ISSUES = [
    ("幸福里小区3号楼没有电梯，住着好几位八十多岁的老人，希望加装电梯", 18),
    ("建设路口的红绿灯坏了，车和人乱成一团", 12),
    ("社区老年食堂只做中午饭，晚上老人没地方吃饭", 8),
]
PLACES = ["东光", "西华", "南山", "北湖", "中和", "新民"]


@pytest.fixture(scope="module", autouse=True)
def _jieba(jieba_cache: Path) -> None:
    """Segmentation with the project's dictionary (the session fixture loads it once)."""


def month(seed: int = 1) -> tuple[list[str], list[int]]:
    """The planted issues, reworded a little, among the corpus texts (issue -1)."""
    rng = random.Random(seed)
    texts: list[str] = []
    issue: list[int] = []
    for k, (text, size) in enumerate(ISSUES):
        for _ in range(size):
            opening = rng.choice(["", "你好，", "我想反映一下，", "代表您好，"])
            closing = rng.choice(["", "，希望尽快解决", "，谢谢", "！"])
            at = rng.randrange(len(text) - 1)
            texts.append(opening + rng.choice(PLACES) + "，" + text[:at] + text[at + 1 :] + closing)
            issue.append(k)
    background = read_labeled(SHIPPED_TRAIN).texts[::3] + read_labeled(SHIPPED_HELDOUT).texts[::3]
    texts += background
    issue += [-1] * len(background)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [issue[i] for i in order]


def planted_found(clusters: list[Cluster], issue: list[int]) -> list[tuple[float, float]]:
    """Per planted issue: (recall, purity) of the cluster holding most of it."""
    out = []
    for k, (_, size) in enumerate(ISSUES):
        best = max(clusters, key=lambda c: sum(issue[i] == k for i in c.ids))
        hit = sum(issue[i] == k for i in best.ids)
        out.append((hit / size, hit / best.count))
    return out


def test_planted_issues_are_the_biggest_clusters() -> None:
    texts, issue = month()
    clusters = cluster(texts, limit=20)
    assert clusters == sorted(clusters, key=lambda c: -c.count)
    for recall, purity in planted_found(clusters, issue):
        assert recall >= 0.8 and purity >= 0.8
    top = clusters[0]
    assert issue[top.representative] == 0  # the 18-strong issue leads
    assert top.ids[0] == top.representative and top.count == len(top.ids) == len(set(top.ids))
    assert "电梯" in top.terms or "加装电梯" in top.terms


def test_every_opinion_is_in_at_most_one_cluster_and_ids_map_back() -> None:
    texts, _ = month(2)
    ids = [1000 + 7 * i for i in range(len(texts))]
    clusters = cluster(texts, ids, min_size=2, limit=100)
    seen = [i for c in clusters for i in c.ids]
    assert len(seen) == len(set(seen))
    assert set(seen) <= set(ids)
    assert all(c.count >= 2 for c in clusters)


def test_sampled_centres_find_the_same_issues() -> None:
    """Above exact_up_to opinions centres come from a sample: big issues are still found."""
    texts, issue = month(3)
    sampled = cluster(texts, limit=20, exact_up_to=len(texts) // 2)
    for recall, purity in planted_found(sampled, issue)[:2]:  # the two bigger issues
        assert recall >= 0.7 and purity >= 0.8


def test_small_or_empty_input() -> None:
    assert cluster([]) == []
    assert cluster(["只有一条意见"]) == []
    assert cluster(["😀", "", "？？"]) == []
    with pytest.raises(ValueError):
        cluster(["一", "二"], ids=[1])
