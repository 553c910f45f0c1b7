"""The station's ledger (问题清单 / 整改台账) in Excel, and opinions collected offline brought in.

Export: one row per opinion from the live tables, a summary sheet, an all-opinions sheet and one
sheet per theme; resident names masked unless staff ask for them. Import: an .xlsx or a UTF-8 CSV
with a documented Chinese header (docs/ledger-import.md). Every row is checked before anything is
written, and the whole file goes in one transaction, so a file is imported completely or not at
all; a stable key per row makes a second import of the same file add nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import texts.reports as tr
from domain.channels import Address, Sender
from domain.lifecycle import Status
from domain.message import Message
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
from services.ledger.rows import REAL_NAME_WORDS, Export, LedgerRow, load_ledger_rows
from services.ledger.workbook import build_workbook
from services.reports.service import staff_station
from storage.models import Opinion, OpinionEvent, Station


@dataclass
class LedgerService:
    ctx: ServiceContext

    def _theme_order(self) -> list[str]:
        return [t.name for t in self.ctx.classifier.themes]

    async def export(self, sender: Sender, raw: str = "", chat: Address | None = None) -> Export:
        """`/export [实名]` for staff: the whole ledger as .xlsx (names masked unless asked)."""
        words = set(raw.split())
        if words - REAL_NAME_WORDS:
            return Export(Message(tr.export_usage()))
        real_names = bool(words & REAL_NAME_WORDS)
        async with self.ctx.sessions.begin() as s:
            station = await staff_station(s, self.ctx, sender, chat)
            if station is None:
                return Export(Message(tr.only_staff()))
            if chat is not None and chat != sender.private_chat and chat != staff_chat(station):
                return Export(Message(tr.export_wrong_chat()))
            rows = await load_ledger_rows(s, self.ctx, station.id, real_names)
            rates = await rates_rows(s, self.ctx, station.id)
            name = station.name
        data, filename = await self._workbook(name, rows, real_names, None, rates)
        return Export(Message(tr.export_caption(len(rows), real_names)), data, filename, len(rows))

    async def _workbook(
        self,
        station_name: str,
        rows: list[LedgerRow],
        real_names: bool,
        progress: Progress | None,
        rates: list[list[Any]] | None = None,
    ) -> tuple[bytes, str]:
        now = self.ctx.clock.now().astimezone(self.ctx.tz)
        data = await asyncio.to_thread(
            build_workbook,
            station_name,
            now.replace(tzinfo=None),
            rows,
            real_names,
            self._theme_order(),
            progress,
            rates,
        )
        return data, tr.export_filename(now.date())

    async def export_station(
        self,
        station_code: str | None = None,
        real_names: bool = False,
        progress: Progress | None = None,
    ) -> tuple[bytes, str, int]:
        """The same workbook for the command line (the operator is trusted): bytes, name, count."""
        async with self.ctx.sessions.begin() as s:
            station = await self._station(s, station_code)
            rows = await load_ledger_rows(s, self.ctx, station.id, real_names)
            rates = await rates_rows(s, self.ctx, station.id)
            name = station.name
        data, filename = await self._workbook(name, rows, real_names, progress, rates)
        return data, filename, len(rows)

    async def _station(self, s: AsyncSession, code: str | None) -> Station:
        if code:
            station = await station_by_code(s, code)
            if station is None:
                raise LookupError(tr.cli_station_unknown(code))
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
                False, tr.import_failed(checked.errors, checked.total), errors=checked.errors
            )
        async with self.ctx.sessions() as s:
            known = await existing_keys(s, [r.key for r in checked.rows])
        todo = [r for r in checked.rows if r.key not in known]
        if dry_run:
            return ImportResult(
                True,
                tr.import_checked(
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
            return ImportResult(False, tr.import_race())
        skipped += len(checked.rows) - len(todo)
        return ImportResult(
            True,
            tr.import_done(added, skipped, checked.duplicates, checked.ignored_columns),
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
                progress(tr.CLI_STAGE_CLASSIFY, i, len(rows))
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
            for i, (row, (theme, conf, terms, review, confirmed)) in enumerate(
                zip(rows, verdicts, strict=True), 1
            ):
                if row.key in known:
                    continue
                known.add(row.key)
                seq = await next_seq(s, station.id, year)
                op = Opinion(
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
                s.add(op)
                await s.flush()
                s.add_all(
                    [
                        OpinionEvent(
                            opinion_id=op.id,
                            action=EventKind.IMPORT,
                            to_status=op.status,
                            note=row.key,
                            at=now,
                        ),
                        OpinionEvent(
                            opinion_id=op.id,
                            action=EventKind.IMPORT_DETAIL,
                            note=detail_note(row, filename),
                            at=now,
                        ),
                    ]
                )
                created.append(op)
                refs.append(op.ref_no)
                if progress is not None and (i % 50 == 0 or i == len(rows)):
                    progress(tr.CLI_STAGE_SAVE, i, len(rows))
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
            message=Message(tr.import_summary_for_staff(len(created), filename)),
            kind=MessageKind.STAFF,
            due_at=now,
            station_id=station.id,
        )
        for op in created:
            await post_triage_card(s, self.ctx, station.id, op, now + timedelta(microseconds=1))
