"""并单建议 through the services: the triage card names likely originals among the station's open
opinions with a one-tap merge each; the index follows intake, merges, rejections and restarts."""

from __future__ import annotations

from sqlalchemy import select

from domain.channels import Sender
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.kernel.duplicates import OpenOpinions
from storage.models import CoSigner, Opinion
from tests.support import chat, outbox_messages, outbox_texts, payloads, tg
from tests.test_casework_service import OTHER, RES, STAFF, STAFF_CHAT, setup_station

ORIGINAL = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"
SAME = "小区里没有老年食堂，老人们吃饭不方便，建议社区开个助餐点。"
UNRELATED = "东环路二中附近那几盏路灯一直不亮，晚上走路看不见，请修一下。"
THIRD = tg(103, "李大爷")


async def _opinion(ctx: ServiceContext, msg: str) -> Opinion:
    async with ctx.sessions() as s:
        return (await s.execute(select(Opinion).where(Opinion.src_message_id == msg))).scalar_one()


async def _submit(
    ctx: ServiceContext, intake: IntakeService, who: Sender, msg: str, text: str
) -> Opinion:
    await intake.submit_text(who, chat(who.external_id), msg, text, None)
    return await _opinion(ctx, msg)


async def test_card_suggests_the_original_and_one_tap_merges(ctx: ServiceContext) -> None:
    cw, intake = await setup_station(ctx)
    first = await _submit(ctx, intake, RES, "1", ORIGINAL)
    await _submit(ctx, intake, THIRD, "2", UNRELATED)
    dup = await _submit(ctx, intake, OTHER, "3", SAME)

    cards = await outbox_messages(ctx, STAFF_CHAT)
    first_card, unrelated_card, dup_card = cards[-3:]
    assert "可能与" not in first_card.plain  # nothing open to compare with yet
    assert "可能与" not in unrelated_card.plain
    assert f"可能与 {first.ref_no} 重复（相似 0." in dup_card.plain
    assert f"t:mg:{dup.id}:{first.id}" in payloads(dup_card)
    assert f"🔁 并入 {first.ref_no}" in [a.label for a in dup_card.choices()]

    # Someone who is not staff cannot merge; staff can, with one tap.
    refused = await cw.triage_button(RES, "mg", (dup.id, first.id))
    assert refused.alert and "权限" in (refused.toast or "")
    merged = await cw.triage_button(STAFF, "mg", (dup.id, first.id))
    assert merged.edit is not None and "已合并到" in merged.edit.plain
    fresh = await _opinion(ctx, "3")
    assert fresh.status == "duplicate" and fresh.duplicate_of_id == first.id
    async with ctx.sessions() as s:
        cosigners = (await s.execute(select(CoSigner.user_id))).scalars().all()
    assert cosigners == [fresh.resident_id]
    assert any("合并" in t for t in await outbox_texts(ctx, OTHER.external_id))
    # Pressed twice (or on a stale card): refused, nothing changes.
    again = await cw.triage_button(STAFF, "mg", (dup.id, first.id))
    assert again.alert

    # The merged opinion is no longer suggested; a fourth wording meets only the original.
    await _submit(
        ctx,
        intake,
        tg(104, "赵奶奶"),
        "4",
        "小区没有老年食堂，老人吃饭太不方便了，能不能办个助餐点",
    )
    fourth = (await outbox_messages(ctx, STAFF_CHAT))[-1]
    assert first.ref_no in fourth.plain and fresh.ref_no not in fourth.plain


async def test_no_merge_into_itself_or_another_station_and_typing_still_works(
    ctx: ServiceContext,
) -> None:
    cw, intake = await setup_station(ctx)
    first = await _submit(ctx, intake, RES, "1", ORIGINAL)
    dup = await _submit(ctx, intake, OTHER, "2", SAME)
    assert (await cw.triage_button(STAFF, "mg", (dup.id, dup.id))).alert
    assert (await cw.triage_button(STAFF, "mg", (dup.id, 999_999))).alert
    assert (await _opinion(ctx, "2")).status == "received"
    # Typing the reference by reply keeps working.
    await cw.triage_button(STAFF, "du", (dup.id,))
    typed = await cw.pending_text(STAFF, chat(STAFF_CHAT), "50", first.ref_no)
    assert typed is not None and "合并" in typed.plain
    assert (await _opinion(ctx, "2")).status == "duplicate"


async def test_rejected_originals_drop_out_and_a_restart_rebuilds_from_open_opinions(
    ctx: ServiceContext,
) -> None:
    cw, intake = await setup_station(ctx)
    first = await _submit(ctx, intake, RES, "1", ORIGINAL)
    await cw.triage_button(STAFF, "rj", (first.id,))
    await cw.pending_text(STAFF, chat(STAFF_CHAT), "50", "不属于受理范围")
    await _submit(ctx, intake, OTHER, "2", SAME)
    assert "可能与" not in (await outbox_messages(ctx, STAFF_CHAT))[-1].plain

    # A new process: the index is built from the database's open opinions only.
    second = await _submit(ctx, intake, THIRD, "3", ORIGINAL + "谢谢")
    ctx.duplicates = OpenOpinions()
    assert await ctx.duplicates.warm(ctx.sessions) == 2  # "2" and "3"; the rejected one is out
    async with ctx.sessions() as s:
        found = await ctx.duplicates.suggest(s, second.station_id, 0, SAME)
    assert {f.id for f in found} == {second.id, (await _opinion(ctx, "2")).id}


async def test_catch_up_reads_what_another_process_took_in(ctx: ServiceContext) -> None:
    _, intake = await setup_station(ctx)
    first = await _submit(ctx, intake, RES, "1", ORIGINAL)
    other_process = OpenOpinions()
    await other_process.warm(ctx.sessions)
    dup = await _submit(ctx, intake, OTHER, "2", SAME)  # taken in by "this" process only
    assert await other_process.catch_up(ctx.sessions) == 1
    async with ctx.sessions() as s:
        found = await other_process.suggest(s, first.station_id, 0, SAME)
    assert {f.id for f in found} == {first.id, dup.id}
    # An opinion merged elsewhere is dropped when it would be shown.
    async with ctx.sessions.begin() as s:
        op = await s.get(Opinion, first.id)
        assert op is not None
        op.status = "rejected"
    async with ctx.sessions() as s:
        found = await other_process.suggest(s, first.station_id, 0, SAME)
    assert [f.id for f in found] == [dup.id]


async def test_a_card_drawn_again_reuses_its_answer_without_what_closed(
    ctx: ServiceContext,
) -> None:
    _, intake = await setup_station(ctx)
    first = await _submit(ctx, intake, RES, "1", ORIGINAL)
    dup = await _submit(ctx, intake, OTHER, "2", SAME)  # its card suggested the first
    async with ctx.sessions() as s:  # drawn again (after a theme press): the same answer
        again = await ctx.duplicates.suggest(s, dup.station_id, dup.id, SAME)
    assert [f.id for f in again] == [first.id]
    ctx.duplicates.forget(first.station_id, first.id)  # merged, rejected or closed meanwhile
    async with ctx.sessions() as s:
        assert await ctx.duplicates.suggest(s, dup.station_id, dup.id, SAME) == []
