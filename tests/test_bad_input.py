"""Bad input at the edges (issue 13, section 3): what cannot be stored or written is dropped once,
where it enters; the workbook writer copes with rows stored before that."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

from domain.message import Rich, Span, Style
from domain.text import storable
from handlers.telegram.render import fit, render_html
from services.kernel.context import ServiceContext
from services.ledger import LedgerService
from tests.support import chat
from tests.test_casework_service import RES, STAFF, setup_station

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
