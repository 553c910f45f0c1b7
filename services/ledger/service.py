"""The station's ledger (问题清单 / 整改台账) in Excel, and opinions collected offline brought in.

Export: one row per opinion from the live tables, a summary sheet, an all-opinions sheet and one
sheet per theme; resident names masked unless staff ask for them. Import: an .xlsx or a UTF-8 CSV
with a documented Chinese header (docs/ledger-import.md). Every row is checked before anything is
written, and the whole file goes in one transaction, so a file is imported completely or not at
all; a stable key per row makes a second import of the same file add nothing.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import texts.ledger as tl
import texts.reports as tr
from domain.channels import Address, Sender
from domain.lifecycle import Status
from domain.message import Message
from domain.periods import Period, parse_period
from domain.refs import format_ref
from domain.states import EventKind, MessageKind, OpinionSource
from services.kernel import outbox
from services.kernel.cards import post_triage_card
from services.kernel.context import ServiceContext
from services.kernel.numbering import next_seq
from services.kernel.people import default_station, staff_chat, station_by_code
from services.ledger.importer import (
    ImportFileError,
    ImportResult,
    ImportRow,
    Progress,
    check_rows,
    detail_note,
    existing_keys,
    read_table,
)
from services.ledger.rates_sheet import rates_rows
from services.ledger.rows import (
    REAL_NAME_WORDS,
    Export,
    Scope,
    count_ledger_rows,
    stream_ledger_rows,
)
from services.ledger.workbook import LedgerWriter
from services.reports.service import staff_station
from storage.models import Opinion, OpinionEvent, Station

Verdict = tuple[str, float, list[str], bool, bool]  # theme, confidence, terms, review, confirmed


def _imported_opinion(
    station: Station, row: ImportRow, verdict: Verdict, year: int, seq: int, now: datetime
) -> Opinion:
    theme, conf, terms, review, confirmed = verdict
    return Opinion(
        station_id=station.id,
        ref_no=format_ref(station.ref_prefix, year, seq),
        year=year,
        seq=seq,
        resident_id=None,
        source=OpinionSource.IMPORT,
        on_behalf_of=row.name,
        contact=row.contact,
        import_key=row.key,
        text=row.text,
        theme=theme,
        theme_confidence=conf,
        theme_terms=terms,
        needs_review=review,
        theme_confirmed=confirmed,
        anonymous=row.name is None,
        status=Status.RECEIVED,
        created_at=row.received,
        updated_at=now,
    )


def _import_events(op: Opinion, row: ImportRow, filename: str, now: datetime) -> list[OpinionEvent]:
    return [
        OpinionEvent(
            opinion_id=op.id, action=EventKind.IMPORT, to_status=op.status, note=row.key, at=now
        ),
        OpinionEvent(
            opinion_id=op.id,
            action=EventKind.IMPORT_DETAIL,
            note=detail_note(row, filename),
            at=now,
        ),
    ]


def _temp_beside(path: Path) -> str:
    """A temporary file in the target's directory: a half-written workbook never replaces a
    good one, and the final rename stays on one file system."""
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".ledger-", suffix=".xlsx")
    os.close(fd)
    return tmp


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)


# /export in a chat sends at most this many opinions (a month of a city-sized station): 50,000 rows
# make a workbook of about 5 MB in seconds; a larger ledger is exported by period or on the server.
CHAT_EXPORT_MAX = 50_000


@dataclass
class LedgerService:
    ctx: ServiceContext

    def _theme_order(self) -> list[str]:
        return [t.name for t in self.ctx.classifier.themes]

    async def export(self, sender: Sender, raw: str = "", chat: Address | None = None) -> Export:
        """`/export [实名] [期间]` for staff: the ledger as .xlsx (names masked unless asked), at
        most CHAT_EXPORT_MAX opinions; a larger ledger is exported by period or on the server."""
        words = raw.split()
        real_names = any(w in REAL_NAME_WORDS for w in words)
        today = self.ctx.clock.now().astimezone(self.ctx.tz).date()
        rest = " ".join(w for w in words if w not in REAL_NAME_WORDS)
        period = parse_period(rest, today, Period.all_time())
        if period is None:
            return Export(Message(tl.export_usage(CHAT_EXPORT_MAX)))
        async with self.ctx.sessions.begin() as s:
            station = await staff_station(s, self.ctx, sender, chat)
            if station is None:
                return Export(Message(tr.only_staff()))
            if chat is not None and chat != sender.private_chat and chat != staff_chat(station):
                return Export(Message(tl.export_wrong_chat()))
            scope = Scope(station.id, *period.bounds(self.ctx.tz))
            total = await count_ledger_rows(s, scope)
            name = station.name
        if total > CHAT_EXPORT_MAX:
            return Export(Message(tl.export_too_many(total, CHAT_EXPORT_MAX)))
        buf = io.BytesIO()
        count = await self._write(name, scope, real_names, buf, total, None)
        caption = tl.export_caption(count, real_names)
        if period != Period.all_time():
            caption = caption + tl.export_period(period.label())
        return Export(Message(caption), buf.getvalue(), self._filename(), count)

    def _filename(self) -> str:
        return tl.export_filename(self.ctx.clock.now().astimezone(self.ctx.tz).date())

    async def _write(
        self,
        station_name: str,
        scope: Scope,
        real_names: bool,
        target: str | IO[bytes],
        total: int,
        progress: Progress | None,
    ) -> int:
        """Stream the ledger into `target`: rows read a chunk at a time, written in a worker
        thread (openpyxl write-only), so neither the rows nor the workbook sit in memory."""
        writer = LedgerWriter(real_names, self._theme_order())
        done = 0
        writing: asyncio.Future[None] | None = None
        try:
            # Two stages: the next chunk is read while the worker thread writes this one.
            async for rows in stream_ledger_rows(self.ctx, scope, real_names):
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(asyncio.to_thread(writer.add, rows))
                done += len(rows)
                if progress is not None and done < total:
                    progress(tl.CLI_STAGE_EXPORT, done, total)
            if writing is not None:
                await writing
        except BaseException:
            if writing is not None and not writing.done():
                await asyncio.wait({writing})
            writer.discard()
            raise
        now = self.ctx.clock.now().astimezone(self.ctx.tz).replace(tzinfo=None)
        rates = await rates_rows(self.ctx, scope.station_id, scope.lo, scope.hi)
        await asyncio.to_thread(writer.finish, station_name, now, target, rates)
        if progress is not None:
            progress(tl.CLI_STAGE_EXPORT, done, done)
        return done

    async def export_station(
        self,
        station_code: str | None = None,
        real_names: bool = False,
        progress: Progress | None = None,
    ) -> tuple[bytes, str, int]:
        """The same workbook for the command line (the operator is trusted): bytes, name, count."""
        buf = io.BytesIO()
        _, count = await self.export_station_to(buf, station_code, real_names, progress)
        return buf.getvalue(), self._filename(), count

    async def export_station_to(
        self,
        target: Path | IO[bytes] | None,
        station_code: str | None = None,
        real_names: bool = False,
        progress: Progress | None = None,
    ) -> tuple[Path | None, int]:
        """The whole ledger into a file (default: 台账-YYYY-MM-DD.xlsx here), replaced only once
        complete, or into a binary stream; OSError when the file cannot be written."""
        async with self.ctx.sessions.begin() as s:
            station = await self._station(s, station_code)
            scope, name = Scope(station.id), station.name
            total = await count_ledger_rows(s, scope)
        if target is not None and not isinstance(target, Path):
            return None, await self._write(name, scope, real_names, target, total, progress)
        path = target or Path(self._filename())
        tmp = await asyncio.to_thread(_temp_beside, path)
        try:
            count = await self._write(name, scope, real_names, tmp, total, progress)
            await asyncio.to_thread(os.replace, tmp, path)
        finally:
            await asyncio.to_thread(_remove, tmp)
        return path, count

    async def _station(self, s: AsyncSession, code: str | None) -> Station:
        if code:
            station = await station_by_code(s, code)
            if station is None:
                raise LookupError(tl.cli_station_unknown(code))
            return station
        return await default_station(s, self.ctx)

    async def import_file(
        self,
        path: Path,
        *,
        station_code: str | None = None,
        encoding: str | None = None,
        notify_staff: bool = True,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ImportResult:
        """Check every row, then import all of them in one transaction, or none.

        `dry_run` stops after the checks and says what an import would do.
        """
        try:
            table = await asyncio.to_thread(read_table, path, encoding)
        except ImportFileError as exc:
            return ImportResult(False, str(exc))
        async with self.ctx.sessions.begin() as s:
            station = await self._station(s, station_code)
            station_id = station.id
        try:
            checked = check_rows(self.ctx, station_id, table, progress)
        except ImportFileError as exc:
            return ImportResult(False, str(exc))
        if checked.errors:
            return ImportResult(
                False, tl.import_failed(checked.errors, checked.total), errors=checked.errors
            )
        async with self.ctx.sessions() as s:
            known = await existing_keys(s, [r.key for r in checked.rows])
        todo = [r for r in checked.rows if r.key not in known]
        if dry_run:
            return ImportResult(
                True,
                tl.import_checked(
                    len(todo), len(known), checked.duplicates, checked.ignored_columns
                ),
                skipped=len(known),
                duplicates_in_file=checked.duplicates,
            )
        verdicts = await asyncio.to_thread(self._classify, todo, progress)
        try:
            added, skipped, refs = await self._insert(
                station_id, todo, verdicts, path.name, notify_staff, progress
            )
        except IntegrityError:
            return ImportResult(False, tl.import_race())
        skipped += len(checked.rows) - len(todo)
        return ImportResult(
            True,
            tl.import_done(added, skipped, checked.duplicates, checked.ignored_columns),
            added=added,
            skipped=skipped,
            duplicates_in_file=checked.duplicates,
            ref_nos=refs,
        )

    def _classify(
        self, rows: Sequence[ImportRow], progress: Progress | None
    ) -> list[tuple[str, float, list[str], bool, bool]]:
        """(theme, confidence, terms, needs_review, confirmed) for each row."""
        out: list[tuple[str, float, list[str], bool, bool]] = []
        for i, row in enumerate(rows, 1):
            if row.theme is not None:
                out.append((row.theme, 1.0, [], False, True))
            else:
                v = self.ctx.classifier.classify(row.text)
                out.append(
                    (v.category, float(v.confidence), list(v.terms), bool(v.needs_review), False)
                )
            if progress is not None and (i % 50 == 0 or i == len(rows)):
                progress(tl.CLI_STAGE_CLASSIFY, i, len(rows))
        return out

    async def _insert(
        self,
        station_id: int,
        rows: Sequence[ImportRow],
        verdicts: Sequence[tuple[str, float, list[str], bool, bool]],
        filename: str,
        notify_staff: bool,
        progress: Progress | None,
    ) -> tuple[int, int, list[str]]:
        if not rows:
            return 0, 0, []
        now = self.ctx.clock.now()
        year = now.astimezone(self.ctx.tz).year
        refs: list[str] = []
        async with self.ctx.sessions.begin() as s:
            station = await s.get(Station, station_id)
            assert station is not None
            # Checked again inside the write transaction: another import may have run meanwhile.
            known = await existing_keys(s, [r.key for r in rows])
            created: list[Opinion] = []
            for i, (row, verdict) in enumerate(zip(rows, verdicts, strict=True), 1):
                if row.key in known:
                    continue
                known.add(row.key)
                seq = await next_seq(s, station.id, year)
                op = _imported_opinion(station, row, verdict, year, seq, now)
                s.add(op)
                await s.flush()
                s.add_all(_import_events(op, row, filename, now))
                created.append(op)
                refs.append(op.ref_no)
                self.ctx.duplicates.add(station.id, op.id, op.text)
                if progress is not None and (i % 50 == 0 or i == len(rows)):
                    progress(tl.CLI_STAGE_SAVE, i, len(rows))
            if notify_staff and created and staff_chat(station) is not None:
                await self._tell_staff(s, station, created, filename, now)
        return len(created), len(rows) - len(created), refs

    async def _tell_staff(
        self,
        s: AsyncSession,
        station: Station,
        created: Sequence[Opinion],
        filename: str,
        now: datetime,
    ) -> None:
        """A summary, then the usual triage card per opinion so staff can assign them."""
        chat = staff_chat(station)
        assert chat is not None
        await outbox.enqueue(
            s,
            key=f"staff:import:{created[0].id}:{created[-1].id}",
            to=chat,
            message=Message(tl.import_summary_for_staff(len(created), filename)),
            kind=MessageKind.STAFF,
            due_at=now,
            station_id=station.id,
        )
        for op in created:
            await post_triage_card(s, self.ctx, station.id, op, now + timedelta(microseconds=1))
