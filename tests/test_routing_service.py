"""派单建议 through the services: the 权责清单 imported from a file, by staff command and on the
command line; the 交办 step lists the best-matching units first with the reason, from the list
and from the station's past assignments."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain.message import Message
from services.casework.duties import import_duty_file
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from storage.models import Opinion, Setting, Unit
from tests.support import chat
from tests.test_casework_service import OTHER, RES, STAFF, setup_station

SAMPLE = Path(__file__).resolve().parent.parent / "bench" / "data" / "routing" / "权责清单.csv"
CITY = "区城市管理综合执法局"


async def _submit(ctx: ServiceContext, intake: IntakeService, msg: str, text: str) -> Opinion:
    await intake.submit_text(RES, chat(RES.external_id), msg, text, None)
    async with ctx.sessions() as s:
        return (await s.execute(select(Opinion).where(Opinion.src_message_id == msg))).scalar_one()


def _labels(message: Message | None) -> list[str]:
    assert message is not None
    return [a.label for a in message.choices()]


async def test_duty_list_puts_matching_units_first_with_the_reason(ctx: ServiceContext) -> None:
    cw, intake = await setup_station(ctx)
    done = await import_duty_file(ctx, SAMPLE.read_bytes(), SAMPLE.name)
    assert done.ok and "17 个单位" in done.message and "17 个新建为责任单位" in done.message
    async with ctx.sessions() as s:
        assert (await s.execute(select(func.count(Unit.id)))).scalar_one() == 17

    op = await _submit(ctx, intake, "1", "建议修一下东环路的路灯，晚上太黑，老人出门不安全。")
    menu = await cw.triage_button(STAFF, "as", (op.id,))
    labels = _labels(menu.edit)
    assert labels[0].startswith(f"👍 责任单位：{CITY}（依据：权责清单 路灯")
    assert "刘代表" in " ".join(labels)  # representatives are still offered
    assert sum(CITY in label for label in labels) == 1  # suggested once, not listed again
    # The suggested button assigns like any other.
    press = menu.edit.actions[0][0].payload.split(".")[0]  # type: ignore[union-attr]
    kind, target = (int(x) for x in press.split(":")[3:5])
    assigned = await cw.triage_button(STAFF, "dl", (op.id, kind, target, 15))
    assert assigned.edit is not None and "已交办" in assigned.edit.plain


async def test_past_assignments_teach_the_suggestions(ctx: ServiceContext) -> None:
    cw, intake = await setup_station(ctx)
    await cw.add_unit(STAFF, "department", "幸福里社区居委会")
    async with ctx.sessions() as s:
        unit_id = (await s.execute(select(Unit.id))).scalar_one()
    texts = (
        "幸福里小区门口的快递柜坏了，老人取快递很麻烦。",
        "幸福里小区的快递总是堆在门口，希望快递柜修一修。",
    )
    for n, text in enumerate(texts):
        op = await _submit(ctx, intake, f"p{n}", text)
        await cw.triage_button(STAFF, "dl", (op.id, 2, unit_id, 15))
    new = await _submit(ctx, intake, "new", "幸福里小区快递柜又坏了，取不了快递。")
    labels = _labels((await cw.triage_button(STAFF, "as", (new.id,))).edit)
    assert labels[0].startswith("👍 责任单位：幸福里社区居委会（依据：以往交办 2 次")
    # An assignment made now is learnt at once by the model this process keeps.
    await cw.triage_button(STAFF, "dl", (new.id, 2, unit_id, 15))
    again = await _submit(
        ctx, intake, "again", "幸福里小区的快递柜坏了好几天了，老人取件很不方便。"
    )
    labels = _labels((await cw.triage_button(STAFF, "as", (again.id,))).edit)
    assert labels[0].startswith("👍 责任单位：幸福里社区居委会（依据：以往交办 3 次")

    # A new process learns the same from the tables (bounced assignments are left out).
    from services.kernel.routes import StationRoutes

    ctx.routes = StationRoutes()
    labels = _labels((await cw.triage_button(STAFF, "as", (again.id,))).edit)
    assert labels[0].startswith("👍 责任单位：幸福里社区居委会（依据：以往交办 3 次")


async def test_duty_command_and_bad_files(ctx: ServiceContext) -> None:
    cw, intake = await setup_station(ctx)
    assert "只有联络站工作人员" in (await cw.duty(OTHER, "区水务局 停水")).plain
    assert "还没有权责清单" in (await cw.duty(STAFF, "")).plain
    added = await cw.duty(STAFF, "区城市管理局 路灯、井盖")
    assert "已记入权责清单：区城市管理局 — 路灯、井盖（已新建为责任单位）" in added.plain
    more = await cw.duty(STAFF, "区城市管理局 占道经营")
    assert "路灯、井盖、占道经营" in more.plain and "新建" not in more.plain
    assert "区城市管理局：路灯、井盖、占道经营" in (await cw.duty(STAFF, "")).plain
    op = await _submit(ctx, intake, "1", "路口的井盖丢了，晚上很危险，请尽快补上。")
    labels = _labels((await cw.triage_button(STAFF, "as", (op.id,))).edit)
    assert labels[0] == "👍 责任单位：区城市管理局（依据：权责清单 井盖）"

    async with ctx.sessions() as s:
        before = (await s.execute(select(Setting.value).where(Setting.key == "duty_list:1"))).one()
    for data, name, says in (
        (b"\xd0\xcf\x11\xe0", "清单.xls", "另存为"),
        ("名称,电话\n甲,1\n".encode(), "清单.csv", "缺少“单位”列"),
        (b"PK\x03\x04broken", "清单.xlsx", "不是有效的 xlsx"),
    ):
        bad = await import_duty_file(ctx, data, name)
        assert not bad.ok and says in bad.message, bad.message
    assert (
        "没有找到代码为 nosuch"
        in (await import_duty_file(ctx, SAMPLE.read_bytes(), "a.csv", "nosuch")).message
    )
    async with ctx.sessions() as s:
        after = (await s.execute(select(Setting.value).where(Setting.key == "duty_list:1"))).one()
    assert after == before


def test_cli_units_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot import units_cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))

    def run(argv: list[str]) -> int:
        parser = argparse.ArgumentParser(prog="liaison-bot")
        units_cli.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        return int(args.func(args))

    assert run(["units", "import", str(SAMPLE)]) == 0
    assert "17 个单位" in capsys.readouterr().out
    assert run(["units", "import", str(tmp_path / "none.csv")]) == 1
    assert "无法读取" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("名称\n甲\n", encoding="utf-8")
    assert run(["units", "import", str(bad)]) == 1
    assert "缺少“单位”列" in capsys.readouterr().err
