"""The Excel ledger the bot sends, and importing opinions collected offline (.xlsx and .csv)."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from telegram import Chat, Message, Update
from telegram import User as TgUser

import texts.ledger as tl
import texts.reports as tr
from domain.clock import ManualClock
from handlers.telegram.inbound import on_message
from services.inbound.router import Router
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.ledger import LedgerService, mask_name
from storage.models import Opinion, OpinionEvent
from tests.support import bind_staff, chat, outbox_texts
from tests.test_reports import ADMIN, REP, RES, STAFF, STAFF_CHAT, TEXTS, build_scenario

HEADER = [
    "受理编号",
    "受理日期",
    "反映人",
    "主题",
    "意见内容",
    "承办人/单位",
    "办理期限",
    "状态",
    "办理进展",
    "办结结果",
    "满意度",
]

# ---- export ---------------------------------------------------------------------------------


class FakeBot:
    """Records what a handler sends, in the shape python-telegram-bot calls it."""

    defaults = None
    username = "liaison_test_bot"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def send_message(self, **kwargs: Any) -> None:
        self.calls.append(("send_message", kwargs))

    async def send_photo(self, **kwargs: Any) -> None:
        self.calls.append(("send_photo", kwargs))

    async def send_document(self, **kwargs: Any) -> None:
        self.calls.append(("send_document", kwargs))


def command(
    ctx: ServiceContext, who: Any, chat_id: int | str, text: str
) -> tuple[Update, Any, FakeBot]:
    bot = FakeBot()
    chat_type = "private" if int(chat_id) > 0 else "supergroup"
    msg = Message(
        message_id=1,
        date=datetime.now(UTC),
        chat=Chat(id=int(chat_id), type=chat_type),
        from_user=TgUser(id=int(who.external_id), first_name=who.first_name, is_bot=False),
        text=text,
    )
    msg.set_bot(bot)  # type: ignore[arg-type]
    context = SimpleNamespace(
        bot=bot, bot_data={"router": Router.build(ctx)}, args=text.split()[1:]
    )
    return Update(update_id=1, message=msg), context, bot


async def test_export_handler_sends_a_workbook_staff_can_read(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    sc = await build_scenario(ctx, clock)
    update, context, bot = command(ctx, STAFF, STAFF_CHAT, "/export")
    await on_message(update, context)
    [(kind, sent)] = bot.calls
    assert kind == "send_document" and sent["chat_id"] == STAFF_CHAT
    assert sent["filename"] == "台账-2026-09-28.xlsx"
    assert "共 8 件" in sent["caption"] and "打码" in sent["caption"]
    wb = openpyxl.load_workbook(io.BytesIO(sent["document"]))

    assert wb.sheetnames == ["汇总", "全部意见", "居家社区养老", "医养结合", "经济支撑", "三率"]
    rates = wb["三率"]
    assert rates["A1"].value == "排名" and rates["F1"].value == "响应率"
    assert rates.cell(row=rates.max_row, column=3).value == "合计"  # the station's total last
    ws = wb["全部意见"]
    assert [c.value for c in ws[1]] == HEADER
    assert ws.freeze_panes == "B2"
    assert ws.auto_filter.ref == "A1:K9"
    assert ws.max_row == 9
    assert ws.column_dimensions["E"].width >= 30  # the text column is wide and wraps
    assert ws["E2"].alignment.wrap_text
    rows = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=2)}

    op1 = rows[sc.ops["op1"].ref_no]
    received = op1[1]
    assert isinstance(received, datetime) and received == datetime(2026, 9, 1, 10, 0)
    assert ws["B2"].number_format == "yyyy-mm-dd hh:mm"
    assert op1[2] == "王**"  # she gave her name on op1: masked, not hidden
    assert op1[3] == "居家社区养老" and op1[4] == TEXTS["op1"]
    assert op1[5] == "居家养老专题组"
    assert op1[7] == "已评价"
    assert "已联系街道选址" in op1[8] and op1[8].startswith("09-03")
    assert op1[9] == "A 已解决" and op1[10] == "满意"

    op2 = rows[sc.ops["op2"].ref_no]
    assert op2[2] == tr.ANONYMOUS  # anonymous (the default): 匿名群众
    assert op2[5] == "刘代表" and op2[7] == "已交办"
    assert isinstance(op2[6], datetime) and op2[6].date() > date(2026, 9, 5)
    assert op2[9] is None and op2[10] is None
    op3 = rows[sc.ops["op3"].ref_no]
    assert op3[5] == "区民政局（已退回）" and op3[6] is None and op3[7] == "已受理"
    op5 = rows[sc.ops["op5"].ref_no]
    assert op5[7] == "重新办理" and op5[9].startswith("C") and op5[10] == "不满意"
    op6 = rows[sc.ops["op6"].ref_no]
    assert op6[10] == "未评价" and op6[9].startswith("B")

    theme_sheet = wb["居家社区养老"]
    assert theme_sheet.max_row == 4 and theme_sheet.freeze_panes == "B2"
    assert theme_sheet.auto_filter.ref == "A1:K4"

    summary = {r[0].value: [c.value for c in r] for r in wb["汇总"].iter_rows() if r[0].value}
    assert summary["联络站"][1] == "测试联络站"
    assert summary["意见总数"][1] == "8"
    assert summary["居家社区养老"][-1] == 3 and summary["医养结合"][-1] == 3
    assert summary["合计"][-1] == 8
    assert summary["满意"][1] == 1 and summary["不满意"][1] == 1 and summary["未评价"][1] == 1
    assert summary[tl.SUMMARY_RATE][1] == 0.5


async def test_real_names_only_for_staff_who_ask(ctx: ServiceContext, clock: ManualClock) -> None:
    sc = await build_scenario(ctx, clock)
    ledger = LedgerService(ctx)
    named = await ledger.export(STAFF, "实名")
    assert named.data is not None and "实名" in named.reply.text
    ws = openpyxl.load_workbook(io.BytesIO(named.data))["全部意见"]
    header = [c.value for c in ws[1]]
    assert header[3] == "联系方式" and ws.auto_filter.ref == "A1:L9"
    names = {r[0].value: r[2].value for r in ws.iter_rows(min_row=2)}
    assert names[sc.ops["op1"].ref_no] == "王 阿姨"
    assert names[sc.ops["op2"].ref_no] == "王 阿姨"  # staff see who wrote, anonymous or not

    for who in (RES, REP):
        refused = await ledger.export(who, "实名")
        assert refused.data is None and "只对联络站工作人员开放" in refused.reply.text
    usage = await ledger.export(STAFF, "全部导出")
    assert usage.data is None and "用法" in usage.reply.text

    update, context, bot = command(ctx, RES, RES.external_id, "/export 实名")
    await on_message(update, context)
    [(kind, sent)] = bot.calls
    assert kind == "send_message" and "只对联络站工作人员开放" in sent["text"]


async def test_stats_handler_sends_text_then_chart(ctx: ServiceContext, clock: ManualClock) -> None:
    await build_scenario(ctx, clock)
    update, context, bot = command(ctx, STAFF, STAFF_CHAT, "/stats 本月")
    await on_message(update, context)
    assert [k for k, _ in bot.calls] == ["send_message", "send_photo"]
    assert "收到意见 6 件" in bot.calls[0][1]["text"]
    assert bot.calls[1][1]["photo"].startswith(b"\x89PNG")
    update, context, bot = command(ctx, STAFF, STAFF_CHAT, "/briefing")
    await on_message(update, context)
    assert [k for k, _ in bot.calls] == ["send_message", "send_photo"]
    assert "工作简报" in bot.calls[0][1]["text"]


def test_mask_name() -> None:
    assert mask_name("王阿姨") == "王**"
    assert mask_name("王 阿姨") == "王**"
    assert mask_name("李") == "李*"
    assert mask_name("") == mask_name(None) == "匿名群众"


async def test_formula_like_text_stays_text(ctx: ServiceContext) -> None:
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    await IntakeService(ctx).submit_text(
        RES, chat(RES.external_id), str(1), '=HYPERLINK("http://x","点我")看看', None
    )
    data, _, count = await LedgerService(ctx).export_station()
    ws = openpyxl.load_workbook(io.BytesIO(data))["全部意见"]
    assert count == 1 and ws["E2"].data_type == "s"
    assert ws["E2"].value.startswith("=HYPERLINK")


# ---- import ---------------------------------------------------------------------------------

CSV_GOOD = (
    "日期,反映人,联系方式,内容,分类,来源\n"
    "2026-09-12,张大爷,13800138000,小区没有电梯，老人上下楼太难了，希望加装电梯。,居家社区养老,接待日\n"
    "2026/9/12,,,社区卫生服务中心的药品不全，希望增加慢病用药。,,接待日\n"
    '2026年9月13日,李阿姨,,"高龄津贴标准多年没有调整，\n希望提高。",经济支撑,代表转交\n'
)


async def opinion_count(ctx: ServiceContext) -> int:
    async with ctx.sessions() as s:
        return int((await s.execute(select(func.count(Opinion.id)))).scalar_one())


async def test_csv_import_then_again_adds_nothing(ctx: ServiceContext, tmp_path: Path) -> None:
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    await IntakeService(ctx).submit_text(
        RES, chat(RES.external_id), str(1), TEXTS["op1"], None
    )  # LL-2026-00001
    path = tmp_path / "接待日.csv"
    path.write_text(CSV_GOOD, encoding="utf-8-sig")
    steps: list[tuple[str, int, int]] = []
    ledger = LedgerService(ctx)

    first = await ledger.import_file(path, progress=lambda *a: steps.append(a))
    assert first.ok, first.message
    assert (first.added, first.skipped) == (3, 0)
    assert first.ref_nos == ["LL-2026-00002", "LL-2026-00003", "LL-2026-00004"]
    assert "新增 3 条" in first.message
    assert ("写入", 3, 3) in steps and ("检查", 3, 3) in steps
    async with ctx.sessions() as s:
        ops = list(
            (
                await s.execute(
                    select(Opinion).where(Opinion.source == "import").order_by(Opinion.id)
                )
            ).scalars()
        )
        details = list(
            (
                await s.execute(
                    select(OpinionEvent.note).where(OpinionEvent.action == "import_detail")
                )
            ).scalars()
        )
    cards = await outbox_texts(ctx, STAFF_CHAT)
    zhang, anon, li = ops
    assert zhang.on_behalf_of == "张大爷" and zhang.resident_id is None and not zhang.anonymous
    assert zhang.theme == "home_community" and zhang.theme_confirmed
    assert zhang.created_at == datetime(2026, 9, 12, 4, 0, tzinfo=UTC)  # 12:00 Beijing
    assert anon.on_behalf_of is None and anon.anonymous and not anon.theme_confirmed
    assert anon.theme in {t.id for t in ctx.classifier.themes}
    assert li.theme == "funding" and "\n希望提高" in li.text
    assert li.created_at.astimezone(ctx.tz).date() == date(2026, 9, 13)
    assert any(
        "联系方式：13800138000" in (d or "") and "来源：接待日" in (d or "") for d in details
    )
    assert any("导入 3 条" in c for c in cards)
    assert sum("新意见" in c for c in cards) == 4  # the intake one, plus one card per import

    second = await ledger.import_file(path)
    assert second.ok and (second.added, second.skipped) == (0, 3)
    assert "3 条此前已导入" in second.message
    assert await opinion_count(ctx) == 4

    refused = await ledger.export(STAFF, "实名")
    assert refused.data is None  # nobody made 小张 staff in this test
    data, _, _ = await ledger.export_station(real_names=True)
    ws = openpyxl.load_workbook(io.BytesIO(data))["全部意见"]
    by_ref = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=2)}
    assert by_ref["LL-2026-00002"][2:4] == ["张大爷", "13800138000"]
    masked, _, _ = await ledger.export_station()
    ws = openpyxl.load_workbook(io.BytesIO(masked))["全部意见"]
    by_ref = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=2)}
    assert by_ref["LL-2026-00002"][2] == "张**" and by_ref["LL-2026-00003"][2] == "匿名群众"


async def test_bad_rows_are_reported_by_number_and_nothing_is_imported(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "日期,反映人,内容,分类\n"
        "2026-09-12,张大爷,小区没有电梯，老人上下楼太难了。,\n"
        "9月12日,王,路灯坏了很久没人修。,\n"
        "\n"
        "2026-09-13,赵,,\n"
        "2026-09-14,钱,垃圾分类亭太臭了，夏天味道很大。,环境卫生\n"
        "2026-10-01,孙,国庆以后才会发生的事情。,\n"
        "2026-09-15,周,好的,\n",
        encoding="utf-8",
    )
    result = await LedgerService(ctx).import_file(path)
    assert not result.ok and result.added == 0
    assert [e.split("：")[0] for e in result.errors] == [
        "第 3 行",
        "第 5 行",
        "第 6 行",
        "第 7 行",
        "第 8 行",
    ]
    msg = result.message
    assert "本次没有导入任何一条" in msg
    assert "第 3 行：日期“9月12日”看不懂" in msg
    assert "第 5 行：内容为空" in msg
    assert "第 6 行：分类“环境卫生”不存在" in msg and "居家社区养老" in msg
    assert "第 7 行：日期 2026-10-01 在今天之后" in msg
    assert "第 8 行：内容太短" in msg
    assert await opinion_count(ctx) == 0


async def test_file_level_problems_have_clear_messages(ctx: ServiceContext, tmp_path: Path) -> None:
    ledger = LedgerService(ctx)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(CSV_GOOD.encode("gbk"))
    result = await ledger.import_file(gbk)
    assert not result.ok
    assert "UTF-8" in result.message and "--encoding gbk" in result.message
    assert await opinion_count(ctx) == 0
    fixed = await ledger.import_file(gbk, encoding="gbk")
    assert fixed.ok and fixed.added == 3

    missing = tmp_path / "missing.csv"
    missing.write_text("日期,姓名,备注\n2026-09-12,张,小区没有电梯\n", encoding="utf-8")
    result = await ledger.import_file(missing)
    assert not result.ok and "缺少必需的列：内容" in result.message
    assert "日期、姓名、备注" in result.message

    twice = tmp_path / "twice.csv"
    twice.write_text("日期,内容,意见内容\n2026-09-12,小区没有电梯,小区没有电梯\n", encoding="utf-8")
    assert "“意见内容”出现了两次" in (await ledger.import_file(twice)).message

    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert "文件是空的" in (await ledger.import_file(empty)).message
    header_only = tmp_path / "header.csv"
    header_only.write_text("日期,内容\n\n", encoding="utf-8")
    assert "文件是空的" in (await ledger.import_file(header_only)).message

    assert "找不到文件" in (await ledger.import_file(tmp_path / "nope.csv")).message
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    assert "不支持的文件类型" in (await ledger.import_file(xls)).message
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    assert "无法读取文件" in (await ledger.import_file(broken)).message
    assert await opinion_count(ctx) == 3


async def test_xlsx_import_with_real_dates_and_a_numeric_phone(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["2026年9月接待日意见汇总"])  # a title row above the header is common
    ws.append(["日期（必填）", "反映人", "联系电话", "意见内容", "分类", "来源", "备注"])
    ws.append([datetime(2026, 9, 20), "周师傅", 13912345678, TEXTS["op2"], "", "接待日", "x"])
    ws.append([datetime(2026, 9, 21, 15, 30), None, None, TEXTS["op4"], "funding", None, None])
    ws.append([None, None, None, None, None, None, None])
    path = tmp_path / "接待日.xlsx"
    wb.save(path)

    ledger = LedgerService(ctx)
    checked = await ledger.import_file(path, dry_run=True)
    assert checked.ok and "2 条可以导入" in checked.message and await opinion_count(ctx) == 0
    result = await ledger.import_file(path)
    assert result.ok and result.added == 2, result.message
    assert "未识别的列已忽略：备注" in result.message
    async with ctx.sessions() as s:
        ops = list((await s.execute(select(Opinion).order_by(Opinion.id))).scalars())
    assert ops[0].created_at == datetime(2026, 9, 20, 4, 0, tzinfo=UTC)
    assert ops[1].created_at == datetime(2026, 9, 21, 7, 30, tzinfo=UTC)  # 15:30 Beijing
    assert ops[1].theme == "funding"
    data, _, _ = await ledger.export_station(real_names=True)
    sheet = openpyxl.load_workbook(io.BytesIO(data))["全部意见"]
    assert sheet["D2"].value == "13912345678"
    assert (await ledger.import_file(path)).added == 0

    bad = openpyxl.Workbook()
    sheet = bad.active
    assert sheet is not None
    sheet.append(["2026年9月接待日意见汇总"])
    sheet.append(["日期", "内容"])
    sheet.append(["下周一", TEXTS["op3"]])
    bad.save(tmp_path / "bad.xlsx")
    result = await ledger.import_file(tmp_path / "bad.xlsx")
    assert not result.ok and result.errors == [
        "第 3 行：日期“下周一”看不懂，请写成 2026-09-28 这样的格式"
    ]


# ---- command line ---------------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    from bot import reports_cli

    parser = argparse.ArgumentParser(prog="liaison-bot")
    sub = parser.add_subparsers(dest="command", required=True)
    reports_cli.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "cli"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{work / 'liaison.db'}")
    monkeypatch.setenv("DATA_DIR", str(work / "data"))
    monkeypatch.setenv("STATION_NAME", "命令行联络站")
    monkeypatch.setenv("LIAISON_CLOCK_START", "2026-09-28T01:00:00+00:00")
    return work


def test_cli_import_and_export(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = cli_env / "接待日.csv"
    good.write_text(CSV_GOOD, encoding="utf-8")
    assert run_cli(["import", str(good), "--no-cards"]) == 0
    out = capsys.readouterr()
    assert "新增 3 条" in out.out and "写入 3/3" in out.err and "Traceback" not in out.err
    assert run_cli(["import", str(good)]) == 0
    assert "3 条此前已导入" in capsys.readouterr().out

    gbk = cli_env / "gbk.csv"
    gbk.write_bytes(CSV_GOOD.replace("张大爷", "钱大爷").encode("gbk"))
    assert run_cli(["import", str(gbk)]) == 1
    err = capsys.readouterr().err
    assert "--encoding gbk" in err and "Traceback" not in err
    assert run_cli(["import", str(gbk), "--encoding", "gbk", "--check"]) == 0
    assert "1 条可以导入" in capsys.readouterr().out

    out_file = cli_env / "out" / "台账.xlsx"
    out_file.parent.mkdir()
    assert run_cli(["export", "--out", str(out_file)]) == 0
    assert "已导出 3 件" in capsys.readouterr().out
    wb = openpyxl.load_workbook(out_file)
    assert wb.sheetnames[:2] == ["汇总", "全部意见"]
    assert wb["汇总"]["B1"].value == "命令行联络站"
    assert wb["全部意见"]["C2"].value == "张**"
    assert run_cli(["export", "--out", str(cli_env / "nodir" / "x.xlsx")]) == 1
    assert "无法写入" in capsys.readouterr().err
    assert run_cli(["export", "--station", "nosuch"]) == 1
    assert "没有找到代码为 nosuch 的联络站" in capsys.readouterr().err
