"""Intake use cases against a real migrated SQLite database and the real classifier."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from domain.clock import ManualClock
from domain.message import Message
from services.intake import IntakeService, Media
from services.kernel.context import ServiceContext
from storage.models import Attachment, Opinion, OpinionEvent, Outbox, Revision
from tests.support import bind_staff, chat, html, payloads, tg

ALICE = tg(101, "王", "阿姨", "wang_ayi")
BOB = tg(102, "李大爷")
ADMIN = tg(900, "站长")
STAFF_CHAT = -1001
TEXT = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"


async def count(ctx: ServiceContext, model: type, *where: Any) -> int:
    async with ctx.sessions() as s:
        return int(
            (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def test_receipt_has_reference_theme_and_buttons(ctx: ServiceContext) -> None:
    reply = await IntakeService(ctx).submit_text(ALICE, chat(101), str(1), TEXT, None)
    assert "LL-2026-00001" in reply.text
    assert "居家社区养老" in reply.text
    data = [b.payload for row in reply.actions for b in row]
    assert any(d.startswith("o:d:") for d in data)
    assert any(d.startswith("o:a:") for d in data)
    assert any(d.startswith("o:w:") for d in data)
    assert re.search(r"LL-\d{4}-\d{5}", reply.plain)


async def test_redelivered_update_creates_nothing_new(ctx: ServiceContext) -> None:
    intake = IntakeService(ctx)
    first = await intake.submit_text(ALICE, chat(101), str(7), TEXT, None)
    again = await intake.submit_text(ALICE, chat(101), str(7), TEXT, None)
    assert "LL-2026-00001" in first.text and "LL-2026-00001" in again.text
    assert await count(ctx, Opinion) == 1


async def test_concurrent_redelivery_is_still_one_opinion(ctx: ServiceContext) -> None:
    intake = IntakeService(ctx)
    replies = await asyncio.gather(
        *(intake.submit_text(ALICE, chat(101), str(9), TEXT, None) for _ in range(5))
    )
    assert all("LL-2026-00001" in r.text for r in replies)
    assert await count(ctx, Opinion) == 1


async def test_sequence_is_per_year(ctx: ServiceContext, clock: ManualClock) -> None:
    intake = IntakeService(ctx)
    await intake.submit_text(ALICE, chat(101), str(1), TEXT, None)
    await intake.submit_text(BOB, chat(102), str(1), TEXT + "二", None)
    # 2026-12-31 16:30 UTC is already 2027-01-01 in Beijing: the year of receipt is local.
    clock.set(datetime(2026, 12, 31, 16, 30, tzinfo=UTC))
    third = await intake.submit_text(ALICE, chat(101), str(2), TEXT + "三", None)
    assert "LL-2027-00001" in third.text
    async with ctx.sessions() as s:
        refs = sorted((await s.execute(select(Opinion.ref_no))).scalars())
    assert refs == ["LL-2026-00001", "LL-2026-00002", "LL-2027-00001"]


async def test_bad_text_is_answered_and_not_stored(ctx: ServiceContext) -> None:
    intake = IntakeService(ctx)
    short = await intake.submit_text(ALICE, chat(101), str(1), "好的", None)
    assert "至少 5 个字" in short.text
    emoji = await intake.submit_text(ALICE, chat(101), str(2), "😀😀😀😀😀👍", None)
    assert "表情" in emoji.text
    long = await intake.submit_text(ALICE, chat(101), str(3), "长" * 2001, None)
    assert "2001" in long.text and "分成几条" in long.text
    assert await count(ctx, Opinion) == 0


async def test_markup_and_sql_are_stored_verbatim_and_escaped_for_staff(
    ctx: ServiceContext,
) -> None:
    bound = await bind_staff(ctx, ADMIN, STAFF_CHAT)
    assert "绑定" in bound.text
    nasty = "<b>电梯</b> & *坏了* _[x]_ '; DROP TABLE opinions; -- 😡"
    await IntakeService(ctx).submit_text(ALICE, chat(101), str(1), nasty, None)
    async with ctx.sessions() as s:
        op = (await s.execute(select(Opinion))).scalar_one()
        post = (await s.execute(select(Outbox))).scalar_one()
    assert op.text == nasty
    assert post.chat_id == str(STAFF_CHAT)
    shown = html(Message.from_json(post.message))
    assert "&lt;b&gt;电梯&lt;/b&gt; &amp; *坏了*" in shown
    assert "<b>电梯</b>" not in shown
    assert "王 阿姨" in shown


async def test_only_admin_binds_the_staff_chat(ctx: ServiceContext) -> None:
    reply = await bind_staff(ctx, BOB, STAFF_CHAT)
    assert "权限" in reply.text
    await IntakeService(ctx).submit_text(ALICE, chat(101), str(1), TEXT, None)
    assert await count(ctx, Outbox) == 0


async def test_rate_limit_per_hour(ctx: ServiceContext, clock: ManualClock) -> None:
    intake = IntakeService(ctx)
    for i in range(10):
        r = await intake.submit_text(ALICE, chat(101), str(i + 1), f"{TEXT}第{i}条", None)
        assert "受理编号" in r.text
    limited = await intake.submit_text(ALICE, chat(101), str(99), TEXT + "再来", None)
    assert "一小时内已提交 10 条" in limited.text
    assert await count(ctx, Opinion) == 10
    clock.advance(timedelta(minutes=61))
    ok = await intake.submit_text(ALICE, chat(101), str(100), TEXT + "再来", None)
    assert "LL-2026-00011" in ok.text


async def test_detail_button_then_text_is_an_attachment(ctx: ServiceContext) -> None:
    intake = IntakeService(ctx)
    await intake.submit_text(ALICE, chat(101), str(1), TEXT, None)
    async with ctx.sessions() as s:
        op_id = (await s.execute(select(Opinion.id))).scalar_one()
    asked = await intake.ask_detail(ALICE, op_id)
    assert asked is not None and "补充说明" in asked.text
    added = await intake.submit_text(ALICE, chat(101), str(2), "就在3号楼旁边那块空地", None)
    assert "补充" in added.text
    assert await count(ctx, Opinion) == 1
    assert await count(ctx, Attachment, Attachment.opinion_id == op_id) == 1
    # The pending state is consumed: the next text is a new opinion again.
    nxt = await intake.submit_text(
        ALICE, chat(101), str(3), "另外，小区路灯坏了好久没人修，晚上老人出门不安全。", None
    )
    assert "LL-2026-00002" in nxt.text


async def test_someone_elses_buttons_change_nothing(ctx: ServiceContext) -> None:
    intake = IntakeService(ctx)
    await intake.submit_text(ALICE, chat(101), str(1), TEXT, None)
    async with ctx.sessions() as s:
        op_id = (await s.execute(select(Opinion.id))).scalar_one()
    assert await intake.withdraw(BOB, op_id) is None
    assert await intake.set_anonymous(BOB, op_id, False) is None
    assert await intake.ask_detail(BOB, op_id) is None
    assert await intake.withdraw(ALICE, op_id + 999) is None
    async with ctx.sessions() as s:
        op = await s.get(Opinion, op_id)
        assert op is not None and op.status == "received" and op.anonymous


async def test_withdraw_and_anonymity(ctx: ServiceContext) -> None:
    intake = IntakeService(ctx)
    await intake.submit_text(ALICE, chat(101), str(1), TEXT, None)
    async with ctx.sessions() as s:
        op_id = (await s.execute(select(Opinion.id))).scalar_one()
    pair = await intake.set_anonymous(ALICE, op_id, False)
    assert pair is not None and "实名" in pair[0].text
    pair = await intake.withdraw(ALICE, op_id)
    assert pair is not None and "已撤回" in pair[0].text
    assert not any(b.payload.startswith("o:w") for row in pair[1].actions for b in row)
    again = await intake.withdraw(ALICE, op_id)
    assert again is not None and "已撤回" in again[0].text
    assert await count(ctx, OpinionEvent, OpinionEvent.action == "withdraw") == 1


async def test_status_of_someone_elses_number_looks_like_a_missing_one(ctx: ServiceContext) -> None:
    intake = IntakeService(ctx)
    await intake.submit_text(ALICE, chat(101), str(1), TEXT, None)
    mine = await intake.status(ALICE, "ll-2026-00001")
    assert "LL-2026-00001" in mine.text and "已受理" in mine.text
    theirs = await intake.status(BOB, "LL-2026-00001")
    missing = await intake.status(BOB, "LL-2026-09999")
    assert theirs.plain.replace("00001", "X") == missing.plain.replace("09999", "X")
    usage = await intake.status(ALICE, "")
    assert "例如" in usage.text


async def test_my_list_is_paged_newest_first(ctx: ServiceContext, clock: ManualClock) -> None:
    intake = IntakeService(ctx)
    for i in range(7):
        clock.advance(timedelta(minutes=1))
        await intake.submit_text(ALICE, chat(101), str(i + 1), f"第{i + 1}条意见：{TEXT}", None)
    page1 = await intake.my_list(ALICE, 1)
    assert "共 7 条" in page1.text and "第 1/2 页" in page1.text
    assert page1.plain.index("LL-2026-00007") < page1.plain.index("LL-2026-00003")
    assert "LL-2026-00002" not in page1.text
    assert payloads(page1) == ["my:p:2"]
    page2 = await intake.my_list(ALICE, 2)
    assert "LL-2026-00001" in page2.text and "LL-2026-00007" not in page2.text
    assert (await intake.my_list(BOB, 1)).plain.startswith("您还没有")


async def test_photo_joins_latest_open_opinion_or_waits_for_text(ctx: ServiceContext) -> None:
    intake = IntakeService(ctx)
    photo = Media("photo", "FILEID1", "U1", None)
    waiting = await intake.submit_media(BOB, chat(102), str(1), photo)
    assert "先用文字" in waiting.text
    created = await intake.submit_text(BOB, chat(102), str(2), TEXT, None)
    assert "LL-2026-00001" in created.text
    async with ctx.sessions() as s:
        att = (await s.execute(select(Attachment))).scalar_one()
        assert att.opinion_id is not None and att.file_id == "FILEID1"
    voice = await intake.submit_media(BOB, chat(102), str(3), Media("voice", "V1", "UV1"))
    assert "已添加到" in voice.text
    captioned = await intake.submit_media(
        ALICE,
        chat(101),
        str(1),
        Media("photo", "P2", "UP2", "楼道里堆满杂物，消防通道被堵，老人出行危险"),
    )
    assert "LL-2026-00002" in captioned.text
    loc = await intake.submit_media(
        ALICE, chat(101), str(2), Media("location", latitude=31.2, longitude=121.5)
    )
    assert "位置" in loc.text
    assert await count(ctx, Attachment) == 4


async def test_edit_keeps_a_revision_and_tells_staff(ctx: ServiceContext) -> None:
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    intake = IntakeService(ctx)
    await intake.submit_text(ALICE, chat(101), str(1), TEXT, None)
    reply = await intake.edit(
        ALICE, chat(101), str(1), TEXT + "（补充：最好中午有热饭）", 1790000000
    )
    assert reply is not None and "修改" in reply.text
    again = await intake.edit(
        ALICE, chat(101), str(1), TEXT + "（补充：最好中午有热饭）", 1790000000
    )
    assert again is not None
    assert await count(ctx, Revision) == 1
    assert await count(ctx, Outbox, Outbox.kind == "staff_edit") == 1
    async with ctx.sessions() as s:
        op = (await s.execute(select(Opinion))).scalar_one()
    assert op.text.endswith("热饭）")
    assert await intake.edit(ALICE, chat(101), str(555), "不是意见的消息", 1790000001) is None


def test_new_opinion_row_sets_every_column() -> None:
    """The hot path INSERTs this row as it is and answers from a snapshot of it (NewOpinion):
    every column is set here, and the snapshot reads the same values."""
    from dataclasses import fields
    from types import SimpleNamespace

    from services.intake import NewOpinion, Source, opinion_row

    station: Any = SimpleNamespace(id=1, ref_prefix="LL")
    user: Any = SimpleNamespace(id=2)
    verdict: Any = SimpleNamespace(
        category="funding", confidence=0.9, terms=("津贴",), needs_review=False
    )
    now = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    row = opinion_row(
        station, user, Source(chat(5), "6"), "高龄津贴没到账", verdict, {}, now, 2026, 42
    )
    columns = {c.key for c in Opinion.__table__.columns} - {"id"}
    assert set(row) == columns
    assert row["ref_no"] == "LL-2026-00042" and row["theme_terms"] == ["津贴"]
    snap = NewOpinion.of(9, row)
    assert snap.id == 9
    assert all(getattr(snap, f.name) == row[f.name] for f in fields(NewOpinion) if f.name != "id")
    relayed = opinion_row(
        station, user, Source(chat(5), "7"), "代张大爷反映：路灯坏了", verdict,
        {"source": "representative", "submitted_by_id": 2, "on_behalf_of": "张大爷"}, now, 2026, 43,
    )  # fmt: skip
    assert set(relayed) == columns and relayed["source"] == "representative"
