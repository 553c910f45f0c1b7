"""Bad input at the edges (issue 13, section 3): what cannot be stored or written is dropped once,
where it enters; the workbook writer copes with rows stored before that."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

from sqlalchemy import select

from domain.message import Rich, Span, Style
from domain.text import storable
from handlers.telegram.render import fit, render_html
from services.kernel.context import ServiceContext
from services.ledger import LedgerService
from storage.models import Opinion
from tests.support import chat, outbox_messages, tg
from tests.test_casework_service import ADMIN, RES, STAFF, STAFF_CHAT, setup_station

HOSTILE = "路灯\x00坏了\x01\x0b\x0c\x1f\ud800\ufffe，\t请修\n理"


def test_storable_drops_nul_surrogates_and_xml_control_characters() -> None:
    assert storable(HOSTILE) == "路灯坏了，\t请修\n理"
    assert storable("正常的文字") == "正常的文字"


def test_text_longer_than_telegram_takes_is_cut_with_its_markup_intact() -> None:
    rich = Rich((Span("标题", Style.BOLD), Span("长" * 5000), Span("尾", Style.CODE)))
    cut = fit(rich, 4096)
    assert len(cut.plain) == 4096 and cut.plain.endswith("…")
    assert render_html(rich).startswith("<b>标题</b>") and "<code>" not in render_html(rich)
    emoji = Rich((Span("😀" * 3000),))  # two UTF-16 units each, as Telegram counts
    assert len(fit(emoji, 4096).plain) == 2048


async def test_the_ledger_export_of_a_hostile_opinion_opens(ctx: ServiceContext) -> None:
    """Control characters in a stored opinion (the services take text as given): the workbook
    is still well-formed XML, which Excel insists on."""
    _, intake = await setup_station(ctx)
    stored = "小区路灯坏了\x01\x0b\x0c，晚上出门很不安全，请尽快修理。"
    await intake.submit_text(RES, chat(RES.external_id), "1", stored, None)
    export = await LedgerService(ctx).export(STAFF, "", STAFF.private_chat)
    assert export.data is not None
    with zipfile.ZipFile(io.BytesIO(export.data)) as book:  # Excel parses strictly
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/")]
        texts = ["".join(ElementTree.fromstring(book.read(n)).itertext()) for n in sheets]
    assert any("小区路灯坏了，晚上出门很不安全" in t for t in texts)


async def test_a_hostile_staff_name_in_already_handled_is_text(ctx: ServiceContext) -> None:
    cw, intake = await setup_station(ctx)
    hostile = tg(903, "<b>&amp;</b>", "<i>")
    await intake.start(hostile, None)
    await cw.add_staff(ADMIN, hostile.external_id, None)
    await intake.submit_text(
        RES, chat(RES.external_id), "1", "小区的路灯坏了一个星期了，请修理。", None
    )
    async with ctx.sessions() as s:
        op_id = (await s.execute(select(Opinion.id))).scalar_one()
    await cw.triage_button(hostile, "rj", (op_id,))
    await cw.pending_text(hostile, chat(hostile.external_id), "2", "不属于本站职责")
    late = await cw.triage_button(STAFF, "rj", (op_id,))
    assert late.toast is not None and "<b>&amp;</b> <i>" in late.toast
    told = await outbox_messages(ctx, STAFF_CHAT)
    rendered = [render_html(m.text) for m in told if "<b>&amp;</b>" in m.plain]
    assert rendered and all("&lt;b&gt;&amp;amp;&lt;/b&gt;" in r for r in rendered)
