"""/stats, /briefing and /export: statistics, the 工作简报 and the Excel ledger, for staff.

The services check the caller's role and compute nothing for anyone else; these handlers only
send what they return: text first, then the chart or the workbook.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import ContextTypes

from handlers.common import answer, sender_of, services
from services.reports import Report


def _args(context: ContextTypes.DEFAULT_TYPE) -> str:
    return " ".join(context.args or []).strip()


async def _send_report(msg: Message, context: ContextTypes.DEFAULT_TYPE, report: Report) -> None:
    await answer(msg, report.reply)
    if report.chart is not None:
        await context.bot.send_photo(chat_id=msg.chat_id, photo=report.chart)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/stats [本周|本月|全部|YYYY-MM-DD YYYY-MM-DD]`."""
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    report = await services(context).reports.stats(
        sender_of(msg.from_user), _args(context), msg.chat_id
    )
    await _send_report(msg, context, report)


async def briefing(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/briefing [period]`: the 工作简报 on demand (default: this half month so far)."""
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    report = await services(context).reports.briefing(
        sender_of(msg.from_user), _args(context), msg.chat_id
    )
    await _send_report(msg, context, report)


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/export [实名]`: the ledger workbook (names masked unless staff ask for them)."""
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    result = await services(context).ledger.export(
        sender_of(msg.from_user), _args(context), msg.chat_id
    )
    if result.data is None:
        await answer(msg, result.reply)
        return
    await context.bot.send_document(
        chat_id=msg.chat_id,
        document=result.data,
        filename=result.filename,
        caption=result.reply.text,
    )
