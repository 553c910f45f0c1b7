"""Resident intake: an opinion in, a numbered and themed receipt out, staff told via the outbox.

Every function persists its effect before returning the reply, and is idempotent on the Telegram
(chat id, message id) it came from: a re-delivered update returns the same answer and adds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
import texts.staff as st
from domain.lifecycle import (
    OPEN_FOR_TRIAGE,
    TERMINAL,
    Action,
    IllegalTransition,
    Status,
    next_status,
)
from domain.refs import format_ref, normalize_ref
from services import outbox
from services.callbacks import encode
from services.casework import post_triage_card
from services.context import ServiceContext, ThemeResult
from services.numbering import next_seq
from services.people import (
    default_station,
    station_by_code,
    station_of,
    upsert_user,
    upsert_user_row,
    user_query,
)
from services.types import Button, OpinionView, Reply, Sender
from storage.models import (
    Attachment,
    InboundMessage,
    Opinion,
    OpinionEvent,
    Revision,
    Station,
    StationRole,
    User,
    UTCDateTime,
)

PAGE_SIZE = 5
PENDING_DETAIL = "detail"
PENDING_ORPHANS = "orphans"  # attachments sent before any text wait for the next opinion
PENDING_TTL = timedelta(hours=2)
ORPHAN_TTL = timedelta(hours=24)
OPEN_STATUSES = (Status.RECEIVED, Status.ASSIGNED, Status.IN_PROGRESS, Status.REOPENED)


@dataclass(frozen=True)
class Media:
    """A non-text message: what Telegram gave us to find the file again later."""

    kind: str
    file_id: str | None = None
    file_unique_id: str | None = None
    caption: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def _handled_parts() -> list[Any]:
    chat: Any = bindparam("chat", type_=BigInteger())
    msg: Any = bindparam("msg", type_=BigInteger())
    return [
        select(literal("o"), Opinion.id).where(
            Opinion.src_chat_id == chat, Opinion.src_message_id == msg
        ),
        select(literal("a"), Attachment.id).where(
            Attachment.src_chat_id == chat, Attachment.src_message_id == msg
        ),
        select(literal("i"), InboundMessage.id).where(
            InboundMessage.chat_id == chat, InboundMessage.message_id == msg
        ),
    ]


def _recent_opinions(user_id: Any) -> Any:
    return select(func.count(Opinion.id)).where(
        Opinion.resident_id == user_id,
        Opinion.source == "resident",
        Opinion.created_at >= bindparam("since", type_=UTCDateTime()),
    )


def _is_representative(user_id: Any) -> Any:
    return select(func.count(StationRole.id)).where(
        StationRole.user_id == user_id, StationRole.role == "representative"
    )


# Built once: constructing these on every message was a measurable part of the intake path.
_HANDLED_STMT = union_all(*_handled_parts())
_RECENT_STMT = _recent_opinions(bindparam("user"))
# The hot path's first and only read: the user, their station, whether this message was handled
# already (in any of the three tables a message can land in), how many opinions the user sent
# this hour and whether they are a representative.
_USER_AND_LOOKUP = user_query(
    *(
        part.with_only_columns(part.selected_columns[1]).scalar_subquery()
        for part in _handled_parts()
    ),
    _recent_opinions(User.id).scalar_subquery(),
    _is_representative(User.id).scalar_subquery(),
)


_OPINIONS = cast(Table, Opinion.__table__)
_INSERT_OPINION = insert(_OPINIONS).returning(_OPINIONS.c.id)
_INSERT_EVENT = insert(cast(Table, OpinionEvent.__table__))


def _found(rows: Sequence[Any]) -> tuple[str, int] | None:
    """The first (kind, row id) of the tables that hold this message, if any does."""
    return next(((kind, int(row_id)) for kind, row_id in rows if row_id is not None), None)


ON_BEHALF_RE = re.compile(r"^\s*(?:代|替|受)\s*(.{1,30}?)\s*(?:反映|转交|委托)\s*[:：，,]\s*")


def meaningful_chars(text: str) -> int:
    """Letters, digits and CJK characters: emoji and punctuation alone are not an opinion."""
    return sum(1 for ch in text if ch.isalnum())


def receipt_buttons(op: OpinionView) -> tuple[tuple[Button, ...], ...]:
    row: list[Button] = [Button(rt.BTN_DETAIL, encode("o", "d", op.id))]
    if op.anonymous:
        row.append(Button(rt.BTN_REAL, encode("o", "a", op.id, 0)))
    else:
        row.append(Button(rt.BTN_ANON, encode("o", "a", op.id, 1)))
    rows: list[tuple[Button, ...]] = [tuple(row)]
    if op.status == Status.RECEIVED:
        rows.append((Button(rt.BTN_WITHDRAW, encode("o", "w", op.id)),))
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class NewOpinion:
    """The opinion intake has just inserted, as its receipt and staff card read it.

    Not an ORM object: constructing and registering a persistent Opinion cost more than the
    INSERT itself on the hot path, and nothing in the transaction changes the row afterwards.
    """

    id: int
    ref_no: str
    text: str
    theme: str
    theme_confidence: float
    theme_terms: list[str]
    needs_review: bool
    theme_confirmed: bool
    anonymous: bool
    status: str
    source: str
    resident_id: int | None
    on_behalf_of: str | None
    created_at: datetime

    @classmethod
    def of(cls, new_id: int, row: dict[str, Any]) -> NewOpinion:
        """From `opinion_row()`'s columns and the id the INSERT returned."""
        return cls(id=new_id, **{name: row[name] for name in _VIEW_COLUMNS})


_VIEW_COLUMNS = tuple(f.name for f in fields(NewOpinion) if f.name != "id")


def opinion_row(
    station: Station,
    user: User,
    chat_id: int,
    message_id: int,
    body: str,
    verdict: ThemeResult,
    forwarded_from: str | None,
    relayed: dict[str, Any],
    now: datetime,
    year: int,
    seq: int,
) -> dict[str, Any]:
    """Every column of a new resident opinion but its id (a test checks the set against the
    table, so a new column cannot be forgotten here)."""
    return {
        "station_id": station.id,
        "ref_no": format_ref(station.ref_prefix, year, seq),
        "year": year,
        "seq": seq,
        "resident_id": user.id,
        "submitted_by_id": None,
        "source": "resident",
        "forwarded_from": forwarded_from,
        "on_behalf_of": None,
        "contact": None,
        "import_key": None,
        "text": body,
        "theme": verdict.category,
        "theme_confidence": float(verdict.confidence),
        "theme_terms": list(verdict.terms),
        "needs_review": bool(verdict.needs_review),
        "theme_confirmed": False,
        "anonymous": True,
        "status": Status.RECEIVED.value,
        "src_chat_id": chat_id,
        "src_message_id": message_id,
        "receipt_message_id": None,
        "duplicate_of_id": None,
        "reject_reason": None,
        "satisfaction": None,
        "reopen_count": 0,
        "assigned_at": None,
        "closed_at": None,
        "created_at": now,
        "updated_at": now,
        **relayed,
    }


PromptHook = Callable[[AsyncSession, User, int, int, str], Awaitable[Reply | None]]


class IntakeService:
    def __init__(self, ctx: ServiceContext, prompts: PromptHook | None = None) -> None:
        self.ctx = ctx
        # Casework's typed answers (progress note, reason, rating comment) are checked in the
        # same transaction before a text is taken as a new opinion.
        self.prompts = prompts

    # ---- start and binding -------------------------------------------------------------
    async def start(self, sender: Sender, code: str | None) -> Reply:
        """Greet; a deep-link code binds the resident to that station."""
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            prefix = ""
            if code:
                station = await station_by_code(s, code)
                if station is None:
                    station = await default_station(s, self.ctx)
                    prefix = rt.station_unknown(code) + "\n\n"
                else:
                    prefix = rt.bound_to_station(station.name) + "\n\n"
                user.station_id = station.id
            else:
                station = await station_of(s, self.ctx, user)
            return Reply(prefix + rt.welcome(station.name))

    # ---- text ----------------------------------------------------------------------------
    async def submit_text(
        self, sender: Sender, chat_id: int, message_id: int, text: str, forwarded_from: str | None
    ) -> Reply:
        """A private text: the answer to a prompt, detail for an opinion, or a new opinion.

        One transaction from the user lookup to the receipt: the hot path of the whole bot.
        """
        body = text.strip()
        try:
            async with self.ctx.sessions.begin() as s:
                params = {
                    "chat": chat_id,
                    "msg": message_id,
                    "since": self.ctx.clock.now() - timedelta(hours=1),
                }
                user, row = await upsert_user_row(s, sender, _USER_AND_LOOKUP, params)
                done, recent = await self._lookup(s, row[2:])
                if done is not None:
                    return done
                if self.prompts is not None and forwarded_from is None:
                    answered = await self.prompts(s, user, chat_id, message_id, text)
                    if answered is not None:
                        return answered
                pending = await self._pending_opinion(s, user)
                if pending is not None and forwarded_from is None:
                    if meaningful_chars(body) == 0:
                        return Reply(rt.no_text_only_emoji())
                    return await self._add_detail(
                        s, user, pending, chat_id, message_id, Media(kind="text", caption=body)
                    )
                problem = self._validate(body)
                if problem is not None:
                    return problem
                verdict = self.ctx.classifier.classify(body)
                return await self._create_in(
                    s, user, chat_id, message_id, body, verdict, forwarded_from, None, recent
                )
        except IntegrityError:
            return await self._after_race(chat_id, message_id)

    async def _after_race(self, chat_id: int, message_id: int) -> Reply:
        """Another instance handled the same update at the same moment: answer as it did."""
        async with self.ctx.sessions.begin() as s:
            done = await self._already_handled(s, chat_id, message_id)
        if done is None:
            raise RuntimeError("unique conflict without a stored row")
        return done

    def _validate(self, body: str) -> Reply | None:
        limits = self.ctx.limits
        if meaningful_chars(body) == 0:
            return Reply(rt.no_text_only_emoji())
        if len(body) > limits.max_chars:
            return Reply(rt.too_long(len(body), limits.max_chars))
        if len(body) < limits.min_chars or meaningful_chars(body) < 2:
            return Reply(rt.too_short(limits.min_chars))
        return None

    async def _create_in(
        self,
        s: AsyncSession,
        user: User,
        chat_id: int,
        message_id: int,
        body: str,
        verdict: ThemeResult,
        forwarded_from: str | None,
        media: Media | None,
        recent: int | None = None,
    ) -> Reply:
        station = await station_of(s, self.ctx, user)
        if recent is None:
            recent = await self._recent_count(s, user)
        if recent >= self.ctx.limits.opinions_per_hour:
            return Reply(rt.rate_limited(self.ctx.limits.opinions_per_hour))
        relayed: dict[str, Any] = {}
        if recent < 0:
            found = ON_BEHALF_RE.match(body)
            relayed = {
                "source": "representative",
                "submitted_by_id": user.id,
                "on_behalf_of": found.group(1) if found else None,
            }
        op = await self._insert_opinion(
            s, station, user, chat_id, message_id, body, verdict, forwarded_from, relayed
        )
        n_files = await self._adopt_orphans(s, user, op)
        if media is not None:
            s.add(self._attachment(op, user, chat_id, message_id, media, in_caption=True))
            n_files += 1
        await self._notify_staff_new(s, station, op, n_files)
        label = self.ctx.theme_label(op.theme)
        text = rt.receipt(op.ref_no, label, op.anonymous)
        if op.source == "representative":
            text += "\n" + rt.relayed_note(op.on_behalf_of)
        return Reply(text, receipt_buttons(op))

    async def _insert_opinion(
        self,
        s: AsyncSession,
        station: Station,
        user: User,
        chat_id: int,
        message_id: int,
        body: str,
        verdict: ThemeResult,
        forwarded_from: str | None,
        relayed: dict[str, Any],
    ) -> NewOpinion:
        """Insert with prebuilt Core statements: the ORM unit of work (object state, flush
        planning, identity bookkeeping) cost more than the INSERTs themselves on the hot path."""
        now = self.ctx.clock.now()
        year = now.astimezone(self.ctx.tz).year
        seq = await next_seq(s, station.id, year)
        values = opinion_row(
            station,
            user,
            chat_id,
            message_id,
            body,
            verdict,
            forwarded_from,
            relayed,
            now,
            year,
            seq,
        )
        new_id = (await s.execute(_INSERT_OPINION, values)).scalar_one()
        await s.execute(
            _INSERT_EVENT,
            {
                "opinion_id": new_id,
                "actor_id": user.id,
                "action": "submit",
                "from_status": None,
                "to_status": values["status"],
                "note": None,
                "at": now,
            },
        )
        return NewOpinion.of(new_id, values)

    async def _recent_count(self, s: AsyncSession, user: User) -> int:
        since = self.ctx.clock.now() - timedelta(hours=1)
        count = (await s.execute(_RECENT_STMT, {"user": user.id, "since": since})).scalar_one()
        return int(count)

    async def _already_handled(
        self, s: AsyncSession, chat_id: int, message_id: int
    ) -> Reply | None:
        """The answer we gave when this very message was first handled, if it was."""
        rows = (await s.execute(_HANDLED_STMT, {"chat": chat_id, "msg": message_id})).all()
        return await self._earlier_answer(s, _found(rows))

    async def _lookup(self, s: AsyncSession, values: Sequence[Any]) -> tuple[Reply | None, int]:
        """From the columns _USER_AND_LOOKUP read with the user: the earlier answer if this
        message was handled already, and the user's opinions this hour (-1: a representative)."""
        opinion_id, attachment_id, inbound_id, recent, representative = values
        found = _found((("o", opinion_id), ("a", attachment_id), ("i", inbound_id)))
        # Representatives relay what they collected: no hourly limit, marked 代表转交.
        return await self._earlier_answer(s, found), -1 if representative else int(recent)

    async def _earlier_answer(self, s: AsyncSession, found: tuple[str, int] | None) -> Reply | None:
        if found is None:
            return None
        kind, row_id = found
        if kind == "o":
            op = await s.get(Opinion, row_id)
            assert op is not None
            label = self.ctx.theme_label(op.theme)
            return Reply(
                rt.receipt(op.ref_no, label, op.anonymous, duplicate_delivery=True),
                receipt_buttons(op),
            )
        if kind == "i":
            inbound = await s.get(InboundMessage, row_id)
            return Reply(inbound.reply if inbound and inbound.reply else rt.already_done())
        att = await s.get(Attachment, row_id)
        assert att is not None
        if att.opinion_id is None:
            return Reply(rt.attachment_needs_text(rt.kind_label(att.kind)))
        parent = await s.get(Opinion, att.opinion_id)
        assert parent is not None
        return Reply(rt.detail_added(parent.ref_no, rt.kind_label(att.kind)))

    async def _pending_opinion(self, s: AsyncSession, user: User) -> Opinion | None:
        if user.pending_action != PENDING_DETAIL or user.pending_opinion_id is None:
            return None
        fresh = user.pending_since is not None and (
            self.ctx.clock.now() - user.pending_since <= PENDING_TTL
        )
        op = await s.get(Opinion, user.pending_opinion_id)
        if not fresh or op is None or op.status in TERMINAL or op.resident_id != user.id:
            user.pending_action = None
            user.pending_opinion_id = None
            return None
        return op

    # ---- media ---------------------------------------------------------------------------
    async def submit_media(
        self, sender: Sender, chat_id: int, message_id: int, media: Media
    ) -> Reply:
        """A photo, file, voice note or location: detail for an open opinion, or a new one.

        It joins the opinion the resident is adding detail to, else their latest open opinion
        from the last day; else a usable caption starts a new opinion; else it joins their latest
        open opinion of any age; else it waits for the next opinion they write.
        """
        caption = (media.caption or "").strip()
        caption_ok = bool(caption) and self._validate(caption) is None
        try:
            return await self._submit_media(sender, chat_id, message_id, media, caption, caption_ok)
        except IntegrityError:
            return await self._after_race(chat_id, message_id)

    async def _submit_media(
        self,
        sender: Sender,
        chat_id: int,
        message_id: int,
        media: Media,
        caption: str,
        caption_ok: bool,
    ) -> Reply:
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            done = await self._already_handled(s, chat_id, message_id)
            if done is not None:
                return done
            target = await self._pending_opinion(s, user)
            if target is None:
                latest = await self._latest_open(s, user)
                recent = latest is not None and (
                    self.ctx.clock.now() - latest.created_at <= ORPHAN_TTL
                )
                if recent or not caption_ok:
                    target = latest
            if target is not None:
                return await self._add_detail(s, user, target, chat_id, message_id, media)
            if not caption_ok:
                # Keep it: it joins the next opinion this resident writes (within a day).
                s.add(self._attachment(None, user, chat_id, message_id, media, in_caption=False))
                user.pending_action = PENDING_ORPHANS
                user.pending_since = self.ctx.clock.now()
                if caption:
                    problem = self._validate(caption)
                    assert problem is not None
                    return Reply(
                        problem.text + "\n" + rt.attachment_needs_text(rt.kind_label(media.kind))
                    )
                return Reply(rt.attachment_needs_text(rt.kind_label(media.kind)))
            verdict = self.ctx.classifier.classify(caption)
            return await self._create_in(
                s, user, chat_id, message_id, caption, verdict, None, media
            )

    def _attachment(
        self,
        op: OpinionView | None,
        user: User,
        chat_id: int,
        message_id: int,
        media: Media,
        *,
        in_caption: bool,
    ) -> Attachment:
        return Attachment(
            opinion_id=op.id if op is not None else None,
            user_id=user.id,
            kind=media.kind,
            file_id=media.file_id,
            file_unique_id=media.file_unique_id,
            # When the caption became the opinion's text, do not store it twice.
            text=None if in_caption else media.caption,
            latitude=media.latitude,
            longitude=media.longitude,
            src_chat_id=chat_id,
            src_message_id=message_id,
            created_at=self.ctx.clock.now(),
        )

    async def _latest_open(self, s: AsyncSession, user: User) -> Opinion | None:
        return (
            await s.execute(
                select(Opinion)
                .where(Opinion.resident_id == user.id, Opinion.status.in_(OPEN_STATUSES))
                .order_by(Opinion.created_at.desc(), Opinion.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()

    async def _adopt_orphans(self, s: AsyncSession, user: User, op: OpinionView) -> int:
        if user.pending_action != PENDING_ORPHANS:
            return 0  # the common case costs no query
        user.pending_action = None
        since = self.ctx.clock.now() - ORPHAN_TTL
        result = await s.execute(
            update(Attachment)
            .where(
                Attachment.user_id == user.id,
                Attachment.opinion_id.is_(None),
                Attachment.created_at >= since,
            )
            .values(opinion_id=op.id)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def _add_detail(
        self,
        s: AsyncSession,
        user: User,
        op: Opinion,
        chat_id: int,
        message_id: int,
        media: Media,
    ) -> Reply:
        s.add(self._attachment(op, user, chat_id, message_id, media, in_caption=False))
        user.pending_action = None
        user.pending_opinion_id = None
        now = self.ctx.clock.now()
        s.add(
            OpinionEvent(
                opinion_id=op.id, actor_id=user.id, action="detail", note=media.kind, at=now
            )
        )
        station = await s.get(Station, op.station_id)
        if station is not None and station.staff_chat_id is not None:
            await outbox.enqueue(
                s,
                key=f"staff:detail:{chat_id}:{message_id}",
                chat_id=station.staff_chat_id,
                text=st.detail_added(op.ref_no, rt.kind_label(media.kind), media.caption),
                kind="staff_detail",
                due_at=now,
                station_id=station.id,
                opinion_id=op.id,
            )
        return Reply(rt.detail_added(op.ref_no, rt.kind_label(media.kind)))

    async def _notify_staff_new(
        self, s: AsyncSession, station: Station, op: OpinionView, n_files: int
    ) -> None:
        if station.staff_chat_id is not None:
            await post_triage_card(s, self.ctx, station.id, op, op.created_at, n_files)

    # ---- edits -----------------------------------------------------------------------------
    async def edit(
        self, sender: Sender, chat_id: int, message_id: int, new_text: str, edit_date: int
    ) -> Reply | None:
        """An edited message: a revision of the opinion it created (None: not an opinion)."""
        body = new_text.strip()
        async with self.ctx.sessions.begin() as s:
            await upsert_user(s, sender)
            op = (
                await s.execute(
                    select(Opinion).where(
                        Opinion.src_chat_id == chat_id, Opinion.src_message_id == message_id
                    )
                )
            ).scalar_one_or_none()
            if op is None:
                return None
            if op.status in TERMINAL:
                return Reply(rt.edit_too_late(op.ref_no))
            known = (
                await s.execute(
                    select(Revision.id).where(
                        Revision.opinion_id == op.id, Revision.edit_date == edit_date
                    )
                )
            ).scalar_one_or_none()
            if known is not None or body == op.text:
                return Reply(rt.edit_recorded(op.ref_no))
        problem = self._validate(body)
        if problem is not None:
            return problem
        verdict = self.ctx.classifier.classify(body)
        async with self.ctx.sessions.begin() as s:
            op = (
                await s.execute(
                    select(Opinion).where(
                        Opinion.src_chat_id == chat_id, Opinion.src_message_id == message_id
                    )
                )
            ).scalar_one()
            now = self.ctx.clock.now()
            s.add(Revision(opinion_id=op.id, old_text=op.text, new_text=body, edit_date=edit_date))
            s.add(OpinionEvent(opinion_id=op.id, action="edit", note=op.text, at=now))
            old_text = op.text
            op.text = body
            if op.status in OPEN_FOR_TRIAGE and not op.theme_confirmed:
                op.theme = verdict.category
                op.theme_confidence = float(verdict.confidence)
                op.theme_terms = list(verdict.terms)
                op.needs_review = bool(verdict.needs_review)
            station = await s.get(Station, op.station_id)
            if station is not None and station.staff_chat_id is not None:
                await outbox.enqueue(
                    s,
                    key=f"staff:edit:{op.id}:{edit_date}",
                    chat_id=station.staff_chat_id,
                    text=st.opinion_edited(op.ref_no, old_text, body),
                    kind="staff_edit",
                    due_at=now,
                    station_id=station.id,
                    opinion_id=op.id,
                )
            return Reply(rt.edit_recorded(op.ref_no))

    # ---- buttons on the receipt ------------------------------------------------------------
    async def _own(
        self, s: AsyncSession, sender: Sender, opinion_id: int
    ) -> tuple[User, Opinion] | None:
        user = await upsert_user(s, sender)
        op = await s.get(Opinion, opinion_id)
        if op is None or op.resident_id != user.id:
            return None
        return user, op

    async def ask_detail(self, sender: Sender, opinion_id: int) -> Reply | None:
        async with self.ctx.sessions.begin() as s:
            owned = await self._own(s, sender, opinion_id)
            if owned is None:
                return None
            user, op = owned
            if op.status in TERMINAL:
                return Reply(rt.edit_too_late(op.ref_no))
            user.pending_action = PENDING_DETAIL
            user.pending_opinion_id = op.id
            user.pending_since = self.ctx.clock.now()
            return Reply(rt.ask_detail(op.ref_no))

    async def set_anonymous(
        self, sender: Sender, opinion_id: int, anonymous: bool
    ) -> tuple[Reply, Reply] | None:
        """Returns (note to the resident, the receipt redrawn with the new choice)."""
        async with self.ctx.sessions.begin() as s:
            owned = await self._own(s, sender, opinion_id)
            if owned is None:
                return None
            user, op = owned
            if op.status in TERMINAL:
                return Reply(rt.edit_too_late(op.ref_no)), Reply("", receipt_buttons(op))
            if op.anonymous != anonymous:
                op.anonymous = anonymous
                s.add(
                    OpinionEvent(
                        opinion_id=op.id,
                        actor_id=user.id,
                        action="anonymous" if anonymous else "real_name",
                        at=self.ctx.clock.now(),
                    )
                )
            receipt = rt.receipt(op.ref_no, self.ctx.theme_label(op.theme), op.anonymous)
            return Reply(rt.anonymity_set(op.ref_no, anonymous)), Reply(
                receipt, receipt_buttons(op)
            )

    async def withdraw(self, sender: Sender, opinion_id: int) -> tuple[Reply, Reply] | None:
        async with self.ctx.sessions.begin() as s:
            owned = await self._own(s, sender, opinion_id)
            if owned is None:
                return None
            user, op = owned
            try:
                target = next_status(Action.WITHDRAW, Status(op.status))
            except IllegalTransition:
                if op.status == Status.WITHDRAWN:
                    return Reply(rt.withdrawn(op.ref_no)), Reply("", receipt_buttons(op))
                return Reply(rt.cannot_withdraw(op.ref_no, op.status)), Reply(
                    "", receipt_buttons(op)
                )
            now = self.ctx.clock.now()
            changed = await s.execute(
                update(Opinion)
                .where(Opinion.id == op.id, Opinion.status == op.status)
                .values(status=target, updated_at=now)
            )
            if not getattr(changed, "rowcount", 0):
                await s.refresh(op)
                return Reply(rt.cannot_withdraw(op.ref_no, op.status)), Reply(
                    "", receipt_buttons(op)
                )
            s.add(
                OpinionEvent(
                    opinion_id=op.id,
                    actor_id=user.id,
                    action=Action.WITHDRAW,
                    from_status=op.status,
                    to_status=target,
                    at=now,
                )
            )
            await s.refresh(op)
            station = await s.get(Station, op.station_id)
            if station is not None and station.staff_chat_id is not None:
                await outbox.enqueue(
                    s,
                    key=f"staff:withdraw:{op.id}",
                    chat_id=station.staff_chat_id,
                    text=st.withdrawn(op.ref_no),
                    kind="staff_withdraw",
                    due_at=now,
                    station_id=station.id,
                    opinion_id=op.id,
                )
            return Reply(rt.withdrawn(op.ref_no)), Reply("", receipt_buttons(op))

    # ---- lists -------------------------------------------------------------------------------
    async def my_list(self, sender: Sender, page: int) -> Reply:
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            total = int(
                (
                    await s.execute(
                        select(func.count(Opinion.id)).where(Opinion.resident_id == user.id)
                    )
                ).scalar_one()
            )
            if total == 0:
                return Reply(rt.my_list_empty())
            pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
            page = min(max(page, 1), pages)
            rows = (
                await s.execute(
                    select(Opinion)
                    .where(Opinion.resident_id == user.id)
                    .order_by(Opinion.created_at.desc(), Opinion.id.desc())
                    .offset((page - 1) * PAGE_SIZE)
                    .limit(PAGE_SIZE)
                )
            ).scalars()
            tz = self.ctx.tz
            lines = [rt.my_list_header(total, page, pages)]
            lines += [
                rt.my_list_item(op.ref_no, op.status, op.created_at.astimezone(tz), op.text)
                for op in rows
            ]
            nav: list[Button] = []
            if page > 1:
                nav.append(Button(rt.BTN_PREV, encode("my", "p", page - 1)))
            if page < pages:
                nav.append(Button(rt.BTN_NEXT, encode("my", "p", page + 1)))
            return Reply("\n\n".join(lines), (tuple(nav),) if nav else ())

    async def status(self, sender: Sender, raw_ref: str) -> Reply:
        ref = normalize_ref(raw_ref)
        if not raw_ref.strip():
            return Reply(rt.status_usage())
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            op = None
            if ref is not None:
                op = (
                    await s.execute(
                        select(Opinion).where(Opinion.ref_no == ref, Opinion.resident_id == user.id)
                    )
                ).scalar_one_or_none()
            if op is None:
                # Someone else's number looks exactly like a number that does not exist.
                return Reply(rt.status_not_found(raw_ref.strip()[:40]))
            return Reply(
                rt.status_detail(
                    op.ref_no,
                    op.status,
                    self.ctx.theme_label(op.theme),
                    op.created_at.astimezone(self.ctx.tz),
                    op.text,
                    op.anonymous,
                ),
                receipt_buttons(op) if op.status not in TERMINAL else (),
            )
