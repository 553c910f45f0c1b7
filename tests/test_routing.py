"""Routing suggestions: the 权责清单 files (CSV, GBK, xlsx, bad ones) and the ranked units."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import openpyxl
import pytest

from domain.routing import (
    DutyRule,
    RoutingError,
    RoutingModel,
    parse_duty_list,
    parse_duty_rows,
    top_k_accuracy,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "routing"
SAMPLE = DATA / "权责清单.csv"


@pytest.fixture(scope="module", autouse=True)
def _jieba(jieba_cache: Path) -> None:
    """Segmentation with the project's dictionary (the session fixture loads it once)."""


def xlsx(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


# -- the file ---------------------------------------------------------------------------------


def test_sample_duty_list_parses() -> None:
    duty = parse_duty_list(SAMPLE.read_bytes(), SAMPLE.name)
    assert not duty.problems
    units = {r.unit: r for r in duty.rules}
    assert len(units) == 17
    assert "路灯" in units["区城市管理综合执法局"].keywords
    assert "居家社区养老" in units["区民政局"].themes


def test_xlsx_and_gbk_csv_give_the_same_rules() -> None:
    rows = [
        ["单位", "事项", "主题"],
        ["区民政局", "助餐点、高龄津贴", "居家社区养老"],
        ["城管局", "路灯", ""],
    ]
    from_xlsx = parse_duty_list(xlsx(rows), "清单.xlsx").rules
    text = "\n".join(",".join(r) for r in rows)
    from_gbk = parse_duty_list(text.encode("gb18030"), "清单.csv").rules
    from_utf8 = parse_duty_list(("\ufeff" + text).encode("utf-8"), "清单.csv").rules
    assert from_xlsx == from_gbk == from_utf8
    assert from_xlsx[0] == DutyRule("区民政局", ("助餐点", "高龄津贴"), ("居家社区养老",), "")


def test_bad_rows_are_reported_and_units_merged() -> None:
    duty = parse_duty_rows(
        [
            ["部门", "关键词", "备注"],
            ["区民政局", "助餐点", "养老"],
            ["", "路灯", ""],
            ["城管局", "", ""],
            ["区民政局", "高龄津贴；助餐点", "救助"],
        ]
    )
    assert [r.unit for r in duty.rules] == ["区民政局"]
    assert duty.rules[0].keywords == ("助餐点", "高龄津贴")
    assert duty.rules[0].note == "养老；救助"
    assert duty.problems == [
        "第 3 行: 缺少单位名称，已跳过",
        "第 4 行: 单位“城管局”没有填写事项或主题，已跳过",
    ]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.csv", "是空的"),
        ("名称,事项\n甲,乙\n".encode(), "a.csv", "缺少“单位”列"),
        ("单位,电话\n甲,123\n".encode(), "a.csv", "缺少“事项”列"),
        ("单位,事项\n,乙\n".encode(), "a.csv", "没有可用的行"),
        (b"\xff\xfe\x00\xd8garbage\x00\xdc", "a.csv", "不是 UTF-8 或 GBK"),
        (b"PK\x03\x04 not really a workbook", "a.xlsx", "不是有效的 xlsx 文件"),
        (b"\xd0\xcf\x11\xe0", "a.xls", "另存为"),
    ],
)
def test_unusable_files_are_one_clear_line(data: bytes, name: str, message: str) -> None:
    with pytest.raises(RoutingError, match=message) as info:
        parse_duty_list(data, name)
    assert "\n" not in str(info.value)


# -- ranking ----------------------------------------------------------------------------------


def test_duty_list_keywords_rank_and_explain() -> None:
    model = RoutingModel.from_rules(parse_duty_list(SAMPLE.read_bytes(), SAMPLE.name).rules)
    first = model.rank("建议修一下东环路的路灯，晚上太黑")[0]
    assert first.unit == "区城市管理综合执法局"
    assert first.reason == "依据：权责清单 路灯"
    assert 0 < first.score <= 1
    canteen = model.rank("小区没有老年食堂，希望办一个助餐点")[0]
    assert canteen.unit == "区民政局" and "老年食堂" in canteen.reason
    # A keyword inside a longer one that matched adds nothing (养老 in 养老院).
    rules = RoutingModel.from_rules(
        [DutyRule("甲", ("养老", "养老院")), DutyRule("乙", ("养老院",))]
    )
    assert {s.unit: s.reason for s in rules.rank("养老院太贵")}["甲"] == "依据：权责清单 养老院"


def test_theme_is_weak_evidence() -> None:
    model = RoutingModel.from_rules(
        [DutyRule("民政", ("助餐点",), ("居家社区养老",)), DutyRule("卫健", ("医院",))]
    )
    ranked = model.rank("希望多办活动", theme=("home_community", "居家社区养老"))
    assert [s.unit for s in ranked] == ["民政"]
    assert ranked[0].reason == "依据：权责清单 主题 居家社区养老"
    assert ranked[0].score < model.rank("助餐点太少")[0].score


def test_past_assignments_are_learned_and_counted() -> None:
    model = RoutingModel()
    model.learn(
        [
            ("小区门口的井盖丢了", "市政公司"),
            ("路中间的井盖坏了，晚上很危险", "市政公司"),
            ("井盖松动，车压过去哐哐响", "市政公司"),
            ("养老院伙食太差", "区民政局"),
        ]
    )
    assert model.units == ["市政公司", "区民政局"]
    top = model.rank("我们楼下的井盖没了")[0]
    assert top.unit == "市政公司"
    assert "以往交办" in top.reason
    model.learn_one("", "空")  # ignored
    assert "空" not in model.units
    assert RoutingModel().rank("任何意见") == []


def test_top_k_on_held_out_assignments_beats_each_source_alone() -> None:
    """Floors under bench/routing.py's figures (duty list + history: top-1 0.69, top-3 0.86)."""
    duty = parse_duty_list(SAMPLE.read_bytes(), SAMPLE.name).rules
    with (DATA / "assignments.csv").open(encoding="utf-8") as fh:
        rows = [(r["text"], r["unit"]) for r in csv.DictReader(fh)]
    random.Random(5).shuffle(rows)
    past, held = rows[:240], rows[240:]
    cases = [(t, u, ()) for t, u in held]
    rules = RoutingModel.from_rules(duty)
    history = RoutingModel()
    history.learn(past)
    both = RoutingModel.from_rules(duty)
    both.learn(past)
    got = {
        name: top_k_accuracy(m, cases) for name, m in (("r", rules), ("h", history), ("b", both))
    }
    assert got["b"][1] >= 0.6 and got["b"][3] >= 0.75
    assert got["b"][3] > max(got["r"][3], got["h"][3])
