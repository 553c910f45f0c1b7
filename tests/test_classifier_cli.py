"""`classify`, `train`, `evaluate` and retrain_active: files in, defined results or one-line errors out."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import classifier_cli
from domain.classifier import ThemeClassifier
from domain.classifier.corpus import SHIPPED_HELDOUT, SHIPPED_TRAIN, parse_labeled, read_labeled
from domain.classifier.training import RetrainReport, no_progress, retrain_active

ROOT = Path(__file__).resolve().parent.parent
PROXY = ROOT / "bench" / "data" / "gov7_proxy.csv"


def write_csv(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header or ["label", "text"])
        w.writerows(rows)
    return path


def run_cli(
    data_dir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh interpreter, as an operator runs it."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("MODEL_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "bot.classifier_cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(autouse=True)
def no_model_dir_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A MODEL_DIR in the environment would override the models these tests choose."""
    monkeypatch.delenv("MODEL_DIR", raising=False)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, jieba_cache: Path) -> Path:
    """One data folder per module, so subprocesses reuse jieba's cache."""
    folder = tmp_path_factory.mktemp("data")
    (folder / "jieba.cache").write_bytes((jieba_cache / "jieba.cache").read_bytes())
    return folder


@pytest.fixture(scope="module")
def station_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A station's own 7-label taxonomy (the government-message proxy), with odd label spellings."""
    rows = list(csv.reader(PROXY.open(encoding="utf-8")))[1:]
    rename = {"劳动和社会保障": "劳动 & 社会保障 (人社)", "卫生计生": "Health/卫生"}
    return write_csv(
        tmp_path_factory.mktemp("station") / "station.csv", [[rename.get(a, a), b] for a, b in rows]
    )


@pytest.fixture(scope="module")
def station_model(station_csv: Path, data_dir: Path) -> Iterator[Path]:
    out = data_dir.parent / "station_model"
    code = classifier_cli.main(
        ["train", "--data", str(station_csv), "--out", str(out), "--data-dir", str(data_dir)]
    )
    assert code == 0
    yield out


# -- classify --------------------------------------------------------------------------------------


def test_classify_json_lines_from_arguments(data_dir: Path) -> None:
    res = run_cli(data_dir, "classify", "--json", "小区没有助餐点", "护理员工资太低了", "")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert set(row) == {
            "text",
            "category",
            "label",
            "confidence",
            "terms",
            "needs_review",
            "out_of_scope",
        }
        assert 0 <= row["confidence"] <= 1
    assert rows[0]["category"] == "home_community" and rows[0]["label"] == "居家社区养老"
    assert rows[1]["category"] == "workforce"
    assert rows[2]["needs_review"] is True
    assert "居家社区养老" in res.stdout  # ensure_ascii=False


def test_classify_reads_stdin_one_per_line(data_dir: Path) -> None:
    res = run_cli(data_dir, "classify", "--json", stdin="高龄津贴太少\n\n家庭医生不上门\n")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["category"] for r in rows] == ["funding", "medical_care"]


def test_classify_plain_output_and_active_model(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert classifier_cli.main(["classify", "--data-dir", str(data_dir), "加装电梯太难了"]) == 0
    out = capsys.readouterr().out
    assert "居家社区养老" in out and "依据" in out


def test_classify_with_missing_model_is_one_line(data_dir: Path) -> None:
    res = run_cli(data_dir, "classify", "--model", str(data_dir / "nope"), "助餐点")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "模型目录" in res.stderr


# -- train / evaluate with a station's own labels ----------------------------------------------------


def test_custom_labels_round_trip_exactly(
    station_model: Path, station_csv: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = set(read_labeled(station_csv).labels)
    assert "劳动 & 社会保障 (人社)" in labels and "Health/卫生" in labels
    clf = ThemeClassifier.load(station_model)
    assert set(clf.classes) == labels
    # No taxonomy: the label is its own name; the out-of-scope outcome is there, never trained.
    assert {t.name for t in clf.themes if not t.out_of_scope} == labels
    assert clf.themes[-1].out_of_scope and clf.themes[-1].id not in clf.classes
    texts = ["医院挂号太难，专家号一号难求", "公司拖欠工资三个月不发，社保也没交"]
    assert (
        classifier_cli.main(
            [
                "classify",
                "--json",
                "--model",
                str(station_model),
                "--data-dir",
                str(data_dir),
                *texts,
            ]
        )
        == 0
    )
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["category"] for r in rows] == ["Health/卫生", "劳动 & 社会保障 (人社)"]
    assert all(r["label"] == r["category"] for r in rows)


def test_evaluate_prints_all_figures(
    station_model: Path, station_csv: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = classifier_cli.main(
        [
            "evaluate",
            "--data",
            str(station_csv),
            "--model",
            str(station_model),
            "--data-dir",
            str(data_dir),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    for needle in (
        "accuracy",
        "macro-F1",
        "precision",
        "recall",
        "混淆矩阵",
        "劳动 & 社会保障 (人社)",
    ):
        assert needle in out
    code = classifier_cli.main(
        [
            "evaluate",
            "--json",
            "--data",
            str(station_csv),
            "--model",
            str(station_model),
            "--data-dir",
            str(data_dir),
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] > 0.9  # its own training data
    assert len(report["confusion"]) == 7 and sum(map(sum, report["confusion"])) == report["n"]


def test_evaluate_default_model_on_shipped_heldout(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        classifier_cli.main(
            ["evaluate", "--json", "--data", str(SHIPPED_HELDOUT), "--data-dir", str(data_dir)]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["n"] >= 100 and report["accuracy"] >= 0.9


def test_bad_rows_are_reported_with_line_numbers(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "bad.csv"
    good = [["甲", f"第{i}条 关于道路和交通的意见"] for i in range(6)]
    good += [["乙", f"第{i}条 关于学校和教育的意见"] for i in range(6)]
    lines = ["label,text", *(f"{a},{b}" for a, b in good[:3])]
    lines += [",没有标签的一行", "甲,", "只有一列", *(f"{a},{b}" for a, b in good[3:])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = run_cli(data_dir, "train", "--data", str(path), "--out", str(tmp_path / "m"))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    for line_no in (5, 6, 7):
        assert f"第 {line_no} 行" in res.stderr
    assert "共 3 行未采用" in res.stderr
    assert "分词" in res.stderr  # progress is shown on stderr
    assert (tmp_path / "m" / "model.json").is_file()


def test_parse_keeps_unquoted_commas_in_text() -> None:
    data = parse_labeled("label,text\n甲,你好，世界,还有逗号\n", "x.csv")
    assert data.examples == [("甲", "你好，世界,还有逗号")]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("category2,content2\n甲,乙\n", "缺少 label 列"),
        ("label,words\n甲,乙\n", "缺少 text 列"),
        ("", "空文件"),
    ],
)
def test_csv_without_the_columns_is_one_line(
    tmp_path: Path, data_dir: Path, content: str, needle: str
) -> None:
    path = tmp_path / "x.csv"
    path.write_text(content, encoding="utf-8")
    res = run_cli(data_dir, "train", "--data", str(path), "--out", str(tmp_path / "m"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and needle in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_non_utf8_file_is_one_line(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("label,text\n城乡建设,小区路灯坏了\n".encode("gbk"))
    for args in (
        ["train", "--data", str(path), "--out", str(tmp_path / "m")],
        ["evaluate", "--data", str(path)],
    ):
        res = run_cli(data_dir, *args)
        assert res.returncode == 2
        assert "Traceback" not in res.stderr and "UTF-8" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_taxonomy_file_maps_names_and_reports_unknown_labels(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taxonomy = tmp_path / "tax.csv"
    taxonomy.write_text(
        "id,name,keywords\nroads,道路交通,公交 红绿灯 停车\nschools,教育,学校 老师 学生\n",
        encoding="utf-8",
    )
    rows = [["道路交通", f"公交车太少了{i}"] for i in range(5)] + [
        ["schools", f"学校食堂太贵{i}"] for i in range(5)
    ]
    rows.append(["未知主题", "这一行的标签不在分类表里"])
    data = write_csv(tmp_path / "d.csv", rows)
    out = tmp_path / "m"
    code = classifier_cli.main(
        [
            "train",
            "--data",
            str(data),
            "--taxonomy",
            str(taxonomy),
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0
    assert "第 12 行" in err and "未知主题" in err and "不在分类表中" in err
    clf = ThemeClassifier.load(out)
    v = clf.classify("路口没有红绿灯，公交车也不来")
    assert (v.category, v.label) == ("roads", "道路交通")


def test_bad_taxonomy_file_is_one_line(tmp_path: Path, data_dir: Path) -> None:
    taxonomy = tmp_path / "tax.json"
    taxonomy.write_text('{"themes": [{"id": "only_one", "name": "唯一"}]}', encoding="utf-8")
    res = run_cli(
        data_dir,
        "train",
        "--data",
        str(PROXY),
        "--taxonomy",
        str(taxonomy),
        "--out",
        str(tmp_path / "m"),
    )
    assert (
        res.returncode == 2 and "Traceback" not in res.stderr and "至少需要 2 个主题" in res.stderr
    )


def test_single_label_csv_is_one_line(tmp_path: Path, data_dir: Path) -> None:
    data = write_csv(tmp_path / "one.csv", [["甲", "只有一个类别"], ["甲", "还是这个类别"]])
    res = run_cli(data_dir, "train", "--data", str(data), "--out", str(tmp_path / "m"))
    assert (
        res.returncode == 2 and "Traceback" not in res.stderr and "至少需要 2 个类别" in res.stderr
    )


# -- retraining the active model ----------------------------------------------------------------------


def small_corpus(tmp_path: Path) -> tuple[Path, Path]:
    """A quick stand-in for the shipped corpus: 24 training and 8 held-out texts per theme."""
    train, held = read_labeled(SHIPPED_TRAIN), read_labeled(SHIPPED_HELDOUT)
    pick_train: list[list[str]] = []
    pick_held: list[list[str]] = []
    for theme in sorted(set(train.labels)):
        pick_train += [[lab, t] for lab, t in train.examples if lab == theme][:24]
        pick_held += [[lab, t] for lab, t in held.examples if lab == theme][:8]
    return write_csv(tmp_path / "train.csv", pick_train), write_csv(
        tmp_path / "held.csv", pick_held
    )


def test_retrain_active_replaces_only_when_not_worse(tmp_path: Path, jieba_cache: Path) -> None:
    train_csv, held_csv = small_corpus(tmp_path)
    model_dir = tmp_path / "data" / "model"

    def retrain(extra: list[tuple[str, str]], force: bool = False) -> RetrainReport:
        return retrain_active(
            extra, model_dir, no_progress, force=force, train_csv=train_csv, heldout_csv=held_csv
        )

    corrections = [
        ("居家社区养老", "楼下的长者食堂停业了，老人吃饭没着落"),
        ("nonsense", "x"),
        ("funding", " "),
    ]

    first = retrain(corrections, force=True)
    assert first.replaced and (model_dir / "model.json").is_file()
    assert first.n_extra == 1 and len(first.skipped) == 2  # unknown label, empty text
    assert first.old is not None  # compared with the packaged model
    assert "→" in first.render()

    again = retrain([("home_community", "楼下的长者食堂停业了，老人吃饭没着落")])
    assert again.replaced and again.delta_accuracy == pytest.approx(0.0)
    assert (model_dir.with_name("model.prev") / "model.json").is_file()

    # Corrections that contradict the held-out set make the new model worse: refused.
    held = read_labeled(held_csv).examples
    themes = sorted({lab for lab, _ in held})
    wrong = [(themes[(themes.index(lab) + 1) % len(themes)], t) for lab, t in held] * 3
    before = (model_dir / "weights.npz").read_bytes()
    worse = retrain(wrong)
    assert not worse.replaced and worse.delta_accuracy is not None and worse.delta_accuracy < 0
    assert "--force" in worse.reason
    assert (model_dir / "weights.npz").read_bytes() == before
    forced = retrain(wrong, force=True)
    assert forced.replaced and (model_dir / "weights.npz").read_bytes() != before
    assert not list(model_dir.parent.glob(".model.new-*"))  # no temp dirs left behind


def test_train_without_data_retrains_into_data_dir(
    tmp_path: Path,
    jieba_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    train_csv, held_csv = small_corpus(tmp_path)
    from domain.classifier import training

    real = training.retrain_active

    def quick(
        extra: list[tuple[str, str]],
        model_dir: Path,
        progress: training.Progress = no_progress,
        **kw: object,
    ) -> training.RetrainReport:
        return real(
            extra, model_dir, progress, force=True, train_csv=train_csv, heldout_csv=held_csv
        )

    monkeypatch.setattr(training, "retrain_active", quick)
    data_dir = tmp_path / "d"
    (data_dir).mkdir()
    (data_dir / "jieba.cache").write_bytes((jieba_cache / "jieba.cache").read_bytes())
    assert classifier_cli.main(["train", "--data-dir", str(data_dir)]) == 0
    assert "留出集" in capsys.readouterr().out
    assert (data_dir / "model" / "model.json").is_file()
    assert classifier_cli.active_model(data_dir) == data_dir / "model"


def test_train_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    """A plain install (no scikit-learn): one line naming the install command, exit 2."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\nfor name in ('sklearn', 'scipy', 'threadpoolctl'):\n    sys.modules[name] = None\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "train"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{hide}:{ROOT}",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
            "DATA_DIR": str(tmp_path / "data"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "liaison-bot[train]" in lines[0], out.stderr
    assert "Traceback" not in out.stderr
