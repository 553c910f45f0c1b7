"""Casework: triage, assignment (交办), the assignee's steps, ratings and reopening.

Every transition goes through domain.lifecycle and a compare-and-set on the opinion's status, so
two staff pressing 交办 at once leave one assignment and the second is told who did it. Every
change writes an audit row, and every message to someone else is an outbox row.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import texts.assignee as at
import texts.resident as rt
import texts.staff as st
from domain.lifecycle import Action, IllegalTransition, Status, next_status
from domain.refs import normalize_ref
from domain.workdays import WorkCalendar
from services import outbox
from services.callbacks import encode
from services.context import ServiceContext
from services.notify import resident_chat_ids, tell_assignee, tell_residents, tell_staff
from services.people import Role, role_of, station_of, upsert_user
from services.types import Button, OpinionView, Reply, Sender
from storage.models import (
    Attachment,
    CoSigner,
    Extension,
    InboundMessage,
    Invite,
    Opinion,
    OpinionEvent,
    Rating,
    StationRole,
    Task,
    ThemeCorrection,
    Unit,
    UnitMember,
    User,
)
from texts.common import NOT_ALLOWED

DEADLINE_CHOICES = (3, 7, 15, 30)
DEFAULT_DEADLINE = 15
EXTENSION_CHOICES = (3, 7, 15)
OUTCOMES = {1: "A", 2: "B", 3: "C", 4: "D"}
RATINGS = {1: "satisfied", 2: "basic", 3: "unsatisfied"}
RATING_REMINDER_AFTER = timedelta(days=3)
RATING_EXPIRES_AFTER = timedelta(days=7)
INVITE_TTL = timedelta(days=7)
KIND_REP, KIND_UNIT = 1, 2


def triage_buttons(opinion_id: int) -> tuple[tuple[Button, ...], ...]:
    """The one-tap actions on a staff triage card."""
    return (
        (
            Button(st.BTN_CONFIRM_THEME, encode("t", "ok", opinion_id)),
            Button(st.BTN_CHANGE_THEME, encode("t", "th", opinion_id)),
        ),
        (Button(st.BTN_ASSIGN, encode("t", "as", opinion_id)),),
        (
            Button(st.BTN_DUPLICATE, encode("t", "du", opinion_id)),
            Button(st.BTN_REJECT, encode("t", "rj", opinion_id)),
        ),
    )


async def triage_card(
    s: AsyncSession,
    ctx: ServiceContext,
    op: OpinionView,
    headline: str | None = None,
    n_files: int | None = None,
) -> Reply:
    """The staff card for an opinion (new, bounced back or reopened), with its one-tap actions.

    `n_files`: the number of attachments when the caller knows it (intake just made them).
    """
    resident = await s.get(User, op.resident_id) if op.resident_id else None
    if n_files is None:
        n_files = int(
            (
                await s.execute(
                    select(func.count(Attachment.id)).where(Attachment.opinion_id == op.id)
                )
            ).scalar_one()
        )
    if resident is None:
        who = op.on_behalf_of or st.UNNAMED
    elif op.source == "representative":
        who = rt.relayed_by(resident.display_name, op.on_behalf_of)
    else:
        who = resident.display_name
    text = st.new_opinion(
        op.ref_no,
        ctx.theme_label(op.theme),
        op.theme_confidence,
        op.theme_terms,
        op.needs_review and not op.theme_confirmed,
        op.text,
        who,
        resident.username if resident else None,
        op.anonymous and resident is not None,
        n_files,
    )
    if headline:
        text = headline + "\n\n" + text
    return Reply(text, triage_buttons(op.id))


async def post_triage_card(
    s: AsyncSession,
    ctx: ServiceContext,
    station_id: int,
    op: OpinionView,
    due_at: datetime,
    n_files: int | None = None,
) -> None:
    """Queue the card for a new opinion in the station's staff chat (once per opinion)."""
    card = await triage_card(s, ctx, op, n_files=n_files)
    await tell_staff(s, station_id, f"staff:new:{op.id}", card, due_at, op.id)


@dataclass(frozen=True)
class ButtonResult:
    """What a button press does to the pressed message and what the presser is told."""

    toast: str | None = None
    alert: bool = False
    edit: Reply | None = None  # replaces the pressed message (text "" keeps the text)
    prompt: Reply | None = None  # a new message asking the presser to type something


@dataclass
class CaseworkService:
    ctx: ServiceContext
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    # ---- helpers ---------------------------------------------------------------------------
    def _now(self) -> datetime:
        return self.ctx.clock.now()

    def _today(self) -> date:
        return self._now().astimezone(self.ctx.tz).date()

    async def _staff_role(self, s: AsyncSession, user: User, station_id: int) -> bool:
        return await role_of(s, self.ctx, user, station_id) in (Role.ADMIN, Role.STAFF)

    async def _transition(
        self,
        s: AsyncSession,
        op: Opinion,
        action: Action,
        actor: User | None,
        note: str | None = None,
        **values: Any,
    ) -> Status:
        """Move `op` by `action` if nobody moved it first; raises IllegalTransition otherwise."""
        current = Status(op.status)
        target = next_status(action, current)
        now = self._now()
        result = await s.execute(
            update(Opinion)
            .where(Opinion.id == op.id, Opinion.status == current)
            .values(status=target, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            await s.refresh(op)
            raise IllegalTransition(action, Status(op.status))
        s.add(
            OpinionEvent(
                opinion_id=op.id,
                actor_id=actor.id if actor else None,
                action=action,
                from_status=current,
                to_status=target,
                note=note,
                at=now,
            )
        )
        await s.refresh(op)
        return target

    def _theme_names(self) -> list[tuple[str, str]]:
        return [(t.id, t.name) for t in self.ctx.classifier.themes]

    async def _last_action_by(self, s: AsyncSession, op: Opinion) -> str:
        ev = (
            await s.execute(
                select(OpinionEvent, User)
                .join(User, User.id == OpinionEvent.actor_id, isouter=True)
                .where(OpinionEvent.opinion_id == op.id, OpinionEvent.to_status == op.status)
                .order_by(OpinionEvent.id.desc())
                .limit(1)
            )
        ).first()
        if ev is None:
            return st.already_handled(op.ref_no, op.status, None, None)
        event, user = ev
        return st.already_handled(
            op.ref_no,
            op.status,
            user.display_name if user else None,
            event.at.astimezone(self.ctx.tz),
        )

    # ---- set-up: staff, representatives, units ------------------------------------------------
    async def add_staff(
        self, sender: Sender, target_tg: int | None, target_name: str | None
    ) -> Reply:
        """Admin grants the staff role to a user who has talked to the bot."""
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            station = await station_of(s, self.ctx, user)
            if await role_of(s, self.ctx, user, station.id) != Role.ADMIN:
                return Reply(st.only_admin())
            target = None
            if target_tg is not None:
                target = (
                    await s.execute(select(User).where(User.tg_id == target_tg))
                ).scalar_one_or_none()
            elif target_name:
                target = (
                    await s.execute(select(User).where(User.username == target_name.lstrip("@")))
                ).scalar_one_or_none()
            if target is None:
                return Reply(st.user_unknown())
            await self._set_role(s, station.id, target.id, Role.STAFF)
            return Reply(st.staff_added(target.display_name))

    async def _set_role(self, s: AsyncSession, station_id: int, user_id: int, role: Role) -> None:
        row = (
            await s.execute(
                select(StationRole).where(
                    StationRole.station_id == station_id, StationRole.user_id == user_id
                )
            )
        ).scalar_one_or_none()
        if row is None:
            s.add(StationRole(station_id=station_id, user_id=user_id, role=role))
        elif row.role != Role.STAFF or role == Role.STAFF:
            row.role = role

    async def create_invite(self, sender: Sender, unit_name: str | None, note: str | None) -> Reply:
        """Staff create a one-time code: for a representative, or for a member of a unit."""
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            station = await station_of(s, self.ctx, user)
            if not await self._staff_role(s, user, station.id):
                return Reply(st.only_staff())
            unit = None
            if unit_name:
                unit = await self._unit_by_name(s, station.id, unit_name)
                if unit is None:
                    return Reply(st.unit_unknown(unit_name))
            code = secrets.token_hex(4).upper()
            s.add(
                Invite(
                    station_id=station.id,
                    code=code,
                    role="member" if unit else Role.REPRESENTATIVE,
                    unit_id=unit.id if unit else None,
                    note=note,
                    created_by_id=user.id,
                    expires_at=self._now() + INVITE_TTL,
                    created_at=self._now(),
                )
            )
            return Reply(st.invite_created(code, unit.name if unit else None, INVITE_TTL.days))

    async def join(self, sender: Sender, code: str) -> Reply:
        """`/join CODE`: a representative (or unit member) redeems a one-time invite."""
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            invite = (
                await s.execute(select(Invite).where(Invite.code == code.strip().upper()))
            ).scalar_one_or_none()
            if invite is None or invite.expires_at < self._now():
                return Reply(at.invite_invalid())
            if invite.used_by_id is not None:
                if invite.used_by_id == user.id:
                    return Reply(at.joined(invite.unit_id is not None, None))
                return Reply(at.invite_invalid())
            done = await s.execute(
                update(Invite)
                .where(Invite.id == invite.id, Invite.used_by_id.is_(None))
                .values(used_by_id=user.id, used_at=self._now())
            )
            if not getattr(done, "rowcount", 0):
                return Reply(at.invite_invalid())
            user.station_id = invite.station_id
            unit_name = None
            if invite.unit_id is not None:
                s.add(UnitMember(unit_id=invite.unit_id, user_id=user.id, at=self._now()))
                unit = await s.get(Unit, invite.unit_id)
                unit_name = unit.name if unit else None
            else:
                await self._set_role(s, invite.station_id, user.id, Role.REPRESENTATIVE)
            return Reply(at.joined(invite.unit_id is not None, unit_name))

    async def _unit_by_name(self, s: AsyncSession, station_id: int, name: str) -> Unit | None:
        return (
            await s.execute(
                select(Unit).where(
                    Unit.station_id == station_id, Unit.name == name.strip(), Unit.active
                )
            )
        ).scalar_one_or_none()

    async def add_unit(self, sender: Sender, kind: str, name: str) -> Reply:
        name = name.strip()
        if not name or len(name) > 50:
            return Reply(st.unit_name_invalid())
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            station = await station_of(s, self.ctx, user)
            if not await self._staff_role(s, user, station.id):
                return Reply(st.only_staff())
            if await self._unit_by_name(s, station.id, name) is not None:
                return Reply(st.unit_exists(name))
            s.add(Unit(station_id=station.id, kind=kind, name=name, created_at=self._now()))
            return Reply(st.unit_added(kind, name))

    async def list_units(self, sender: Sender) -> Reply:
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            station = await station_of(s, self.ctx, user)
            if not await self._staff_role(s, user, station.id):
                return Reply(st.only_staff())
            units = (
                await s.execute(
                    select(Unit).where(Unit.station_id == station.id, Unit.active).order_by(Unit.id)
                )
            ).scalars()
            reps = (
                await s.execute(
                    select(User)
                    .join(StationRole, StationRole.user_id == User.id)
                    .where(
                        StationRole.station_id == station.id,
                        StationRole.role == Role.REPRESENTATIVE,
                    )
                )
            ).scalars()
            return Reply(
                st.unit_list(
                    [(u.kind, u.name, u.chat_id is not None) for u in units],
                    [r.display_name for r in reps],
                )
            )

    async def bind_unit_chat(self, sender: Sender, chat_id: int, name: str) -> Reply:
        """`/bind <组名>` in a group: that group receives the unit's tasks and reminders."""
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            station = await station_of(s, self.ctx, user)
            if not await self._staff_role(s, user, station.id):
                return Reply(st.only_staff())
            unit = await self._unit_by_name(s, station.id, name)
            if unit is None:
                return Reply(st.unit_unknown(name))
            unit.chat_id = chat_id
            return Reply(st.unit_bound(unit.name))

    # ---- the triage card ----------------------------------------------------------------------
    def triage_buttons(self, op: Opinion) -> tuple[tuple[Button, ...], ...]:
        return triage_buttons(op.id)

    async def _triage_card(
        self, s: AsyncSession, op: Opinion, headline: str | None = None
    ) -> Reply:
        return await triage_card(s, self.ctx, op, headline)

    async def staff_card(self, opinion_id: int) -> Reply | None:
        async with self.ctx.sessions() as s:
            op = await s.get(Opinion, opinion_id)
            return None if op is None else await self._triage_card(s, op)

    async def triage_button(
        self, sender: Sender, action: str, args: tuple[int, ...]
    ) -> ButtonResult:
        """Every staff button on a triage card (scope "t")."""
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            op = await s.get(Opinion, args[0]) if args else None
            if op is None:
                return ButtonResult(st.card_gone(), alert=True)
            if not await self._staff_role(s, user, op.station_id):
                return ButtonResult(NOT_ALLOWED, alert=True)
            if action == "bk":
                return ButtonResult(edit=Reply("", self.triage_buttons(op)))
            if action == "ok":
                return await self._confirm_theme(s, user, op, None)
            if action == "th":
                rows: tuple[tuple[Button, ...], ...] = (
                    *tuple(
                        (Button(name, encode("t", "st", op.id, i)),)
                        for i, (_, name) in enumerate(self._theme_names())
                    ),
                    (Button(st.BTN_BACK, encode("t", "bk", op.id)),),
                )
                return ButtonResult(edit=Reply("", rows))
            if action == "st" and len(args) == 2:
                names = self._theme_names()
                if not 0 <= args[1] < len(names):
                    return ButtonResult(st.card_gone(), alert=True)
                return await self._confirm_theme(s, user, op, names[args[1]][0])
            if action == "as":
                return ButtonResult(edit=Reply("", await self._assignee_choices(s, op)))
            if action == "to" and len(args) == 3:
                rows = (
                    tuple(
                        Button(
                            st.deadline_label(d, d == DEFAULT_DEADLINE),
                            encode("t", "dl", op.id, args[1], args[2], d),
                        )
                        for d in DEADLINE_CHOICES
                    ),
                    (Button(st.BTN_BACK, encode("t", "as", op.id)),),
                )
                return ButtonResult(edit=Reply("", rows))
            if action == "dl" and len(args) == 4 and args[3] in DEADLINE_CHOICES:
                return await self._assign(s, user, op, args[1], args[2], args[3])
            if action == "rj":
                return await self._ask(
                    s, user, op, "reject_reason", {}, st.ask_reject_reason(op.ref_no)
                )
            if action == "du":
                return await self._ask(s, user, op, "dup_ref", {}, st.ask_duplicate_ref(op.ref_no))
            return ButtonResult(st.card_gone(), alert=True)

    async def _ask(
        self, s: AsyncSession, user: User, op: Opinion, what: str, data: dict[str, Any], text: str
    ) -> ButtonResult:
        if op.status not in (Status.RECEIVED, Status.REOPENED) and what in (
            "reject_reason",
            "dup_ref",
        ):
            return ButtonResult(await self._last_action_by(s, op), alert=True)
        user.pending_action = what
        user.pending_opinion_id = op.id
        user.pending_data = data
        user.pending_since = self._now()
        return ButtonResult(toast=st.type_below(), prompt=Reply(text))

    async def _confirm_theme(
        self, s: AsyncSession, user: User, op: Opinion, new_theme: str | None
    ) -> ButtonResult:
        if op.status not in (Status.RECEIVED, Status.REOPENED):
            return ButtonResult(await self._last_action_by(s, op), alert=True)
        old = op.theme
        if new_theme is not None and new_theme != old:
            s.add(
                ThemeCorrection(
                    opinion_id=op.id,
                    text=op.text,
                    old_theme=old,
                    new_theme=new_theme,
                    by_id=user.id,
                    at=self._now(),
                )
            )
            op.theme = new_theme
        op.theme_confirmed = True
        op.needs_review = False
        s.add(
            OpinionEvent(
                opinion_id=op.id,
                actor_id=user.id,
                action=Action.RETHEME,
                from_status=op.status,
                to_status=op.status,
                note=f"{old}->{op.theme}",
                at=self._now(),
            )
        )
        card = await self._triage_card(s, op)
        return ButtonResult(toast=st.theme_set(self.ctx.theme_label(op.theme)), edit=card)

    async def _assignee_choices(
        self, s: AsyncSession, op: Opinion
    ) -> tuple[tuple[Button, ...], ...]:
        reps = (
            await s.execute(
                select(User)
                .join(StationRole, StationRole.user_id == User.id)
                .where(
                    StationRole.station_id == op.station_id,
                    StationRole.role == Role.REPRESENTATIVE,
                )
                .order_by(User.id)
            )
        ).scalars()
        units = (
            await s.execute(
                select(Unit).where(Unit.station_id == op.station_id, Unit.active).order_by(Unit.id)
            )
        ).scalars()
        rows: list[tuple[Button, ...]] = []
        rows += [
            (Button(st.rep_label(r.display_name), encode("t", "to", op.id, KIND_REP, r.id)),)
            for r in reps
        ]
        rows += [
            (Button(st.unit_label(u.kind, u.name), encode("t", "to", op.id, KIND_UNIT, u.id)),)
            for u in units
        ]
        if not rows:
            rows.append((Button(st.BTN_NO_ASSIGNEES, encode("t", "bk", op.id)),))
        rows.append((Button(st.BTN_BACK, encode("t", "bk", op.id)),))
        return tuple(rows)

    async def _assign(
        self, s: AsyncSession, user: User, op: Opinion, kind: int, target: int, days: int
    ) -> ButtonResult:
        assignee_name, rep, unit = await self._resolve_assignee(s, op.station_id, kind, target)
        if assignee_name is None:
            return ButtonResult(st.card_gone(), alert=True)
        now = self._now()
        deadline = self.calendar.add_workdays(self._today(), days)
        try:
            await self._transition(s, op, Action.ASSIGN, user, note=assignee_name, assigned_at=now)
        except IllegalTransition:
            return ButtonResult(await self._last_action_by(s, op), alert=True)
        task = Task(
            opinion_id=op.id,
            station_id=op.station_id,
            assignee_user_id=rep.id if rep else None,
            assignee_unit_id=unit.id if unit else None,
            assigned_by_id=user.id,
            assigned_at=now,
            working_days=days,
            due_date=deadline.due,
            deadline_uncertain=not deadline.certain,
            status="open",
        )
        s.add(task)
        await s.flush()
        resident = await s.get(User, op.resident_id) if op.resident_id else None
        shown = None if op.anonymous or resident is None else resident
        await tell_assignee(
            s,
            task,
            f"task:new:{task.id}",
            Reply(
                at.task_card(
                    op.ref_no,
                    self.ctx.theme_label(op.theme),
                    op.text,
                    shown.display_name if shown else None,
                    shown.username if shown else None,
                    deadline.due,
                    days,
                    not deadline.certain,
                ),
                self.assignee_buttons(task, acknowledged=False),
            ),
            now,
        )
        await tell_residents(
            s, op, f"res:assigned:{task.id}", Reply(rt.assigned(op.ref_no, assignee_name)), now
        )
        warning = (
            st.deadline_uncertain(sorted(deadline.uncertain_years)) if not deadline.certain else ""
        )
        card = Reply(
            st.assigned_card(
                op.ref_no,
                self.ctx.theme_label(op.theme),
                op.text,
                assignee_name,
                deadline.due,
                days,
                user.display_name,
            )
            + warning
        )
        return ButtonResult(toast=st.assigned_toast(assignee_name), edit=card)

    async def _resolve_assignee(
        self, s: AsyncSession, station_id: int, kind: int, target: int
    ) -> tuple[str | None, User | None, Unit | None]:
        if kind == KIND_REP:
            rep = await s.get(User, target)
            role = (
                await s.execute(
                    select(StationRole.role).where(
                        StationRole.station_id == station_id, StationRole.user_id == target
                    )
                )
            ).scalar_one_or_none()
            if rep is None or role != Role.REPRESENTATIVE:
                return None, None, None
            return st.rep_label(rep.display_name), rep, None
        if kind == KIND_UNIT:
            unit = await s.get(Unit, target)
            if unit is None or unit.station_id != station_id or not unit.active:
                return None, None, None
            return unit.name, None, unit
        return None, None, None

    # ---- assignee ---------------------------------------------------------------------------
    def assignee_buttons(self, task: Task, *, acknowledged: bool) -> tuple[tuple[Button, ...], ...]:
        if not acknowledged:
            return (
                (Button(at.BTN_ACK, encode("k", "ack", task.id)),),
                (Button(at.BTN_BOUNCE, encode("k", "bo", task.id)),),
            )
        return (
            (
                Button(at.BTN_PROGRESS, encode("k", "pr", task.id)),
                Button(at.BTN_EXTEND, encode("k", "ex", task.id)),
            ),
            (
                Button(at.BTN_BOUNCE, encode("k", "bo", task.id)),
                Button(at.BTN_CLOSE, encode("k", "cl", task.id)),
            ),
        )

    async def _may_act(self, s: AsyncSession, user: User, task: Task) -> bool:
        if task.assignee_user_id == user.id:
            return True
        if task.assignee_unit_id is not None:
            member = (
                await s.execute(
                    select(UnitMember.id).where(
                        UnitMember.unit_id == task.assignee_unit_id, UnitMember.user_id == user.id
                    )
                )
            ).scalar_one_or_none()
            if member is not None:
                return True
        return await self._staff_role(s, user, task.station_id)

    async def task_button(self, sender: Sender, action: str, args: tuple[int, ...]) -> ButtonResult:
        """Buttons on a task message (scope "k")."""
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            task = await s.get(Task, args[0]) if args else None
            if task is None:
                return ButtonResult(st.card_gone(), alert=True)
            if not await self._may_act(s, user, task):
                return ButtonResult(NOT_ALLOWED, alert=True)
            op = await s.get(Opinion, task.opinion_id)
            assert op is not None
            if task.status != "open":
                return ButtonResult(at.task_not_open(op.ref_no), alert=True)
            if action == "ack":
                return await self._acknowledge(s, user, task, op)
            if action == "pr":
                return await self._ask_task(
                    s, user, task, op, "progress", {}, at.ask_progress(op.ref_no)
                )
            if action == "ex":
                rows: tuple[tuple[Button, ...], ...] = (
                    tuple(
                        Button(at.extend_label(d), encode("k", "exd", task.id, d))
                        for d in EXTENSION_CHOICES
                    ),
                )
                return ButtonResult(prompt=Reply(at.choose_extension(op.ref_no), rows))
            if action == "exd" and len(args) == 2 and args[1] in EXTENSION_CHOICES:
                return await self._ask_task(
                    s,
                    user,
                    task,
                    op,
                    "extension_reason",
                    {"days": args[1]},
                    at.ask_extension_reason(op.ref_no, args[1]),
                )
            if action == "bo":
                return await self._ask_task(
                    s, user, task, op, "bounce_reason", {}, at.ask_bounce_reason(op.ref_no)
                )
            if action == "cl":
                if op.status != Status.IN_PROGRESS:
                    return ButtonResult(at.ack_first(), alert=True)
                rows = tuple(
                    (Button(at.OUTCOME_LABELS[code], encode("k", "clo", task.id, n)),)
                    for n, code in OUTCOMES.items()
                )
                return ButtonResult(prompt=Reply(at.choose_outcome(op.ref_no), rows))
            if action == "clo" and len(args) == 2 and args[1] in OUTCOMES:
                if op.status != Status.IN_PROGRESS:
                    return ButtonResult(at.ack_first(), alert=True)
                return await self._ask_task(
                    s,
                    user,
                    task,
                    op,
                    "close_result",
                    {"outcome": OUTCOMES[args[1]]},
                    at.ask_result(op.ref_no, OUTCOMES[args[1]]),
                )
            return ButtonResult(st.card_gone(), alert=True)

    async def _ask_task(
        self,
        s: AsyncSession,
        user: User,
        task: Task,
        op: Opinion,
        what: str,
        data: dict[str, Any],
        text: str,
    ) -> ButtonResult:
        user.pending_action = what
        user.pending_opinion_id = op.id
        user.pending_data = {"task": task.id, **data}
        user.pending_since = self._now()
        return ButtonResult(toast=at.type_below(), prompt=Reply(text))

    async def _acknowledge(
        self, s: AsyncSession, user: User, task: Task, op: Opinion
    ) -> ButtonResult:
        if task.acknowledged_at is not None:
            return ButtonResult(
                at.already_acknowledged(op.ref_no),
                edit=Reply("", self.assignee_buttons(task, acknowledged=True)),
            )
        try:
            await self._transition(s, op, Action.ACKNOWLEDGE, user)
        except IllegalTransition:
            return ButtonResult(await self._last_action_by(s, op), alert=True)
        now = self._now()
        task.acknowledged_at = now
        task.acknowledged_by_id = user.id
        await tell_residents(s, op, f"res:ack:{task.id}", Reply(rt.acknowledged(op.ref_no)), now)
        await tell_staff(
            s,
            op.station_id,
            f"staff:ack:{task.id}",
            Reply(st.acknowledged(op.ref_no, user.display_name)),
            now,
            op.id,
        )
        return ButtonResult(
            toast=at.acknowledged(op.ref_no),
            edit=Reply("", self.assignee_buttons(task, acknowledged=True)),
        )

    # ---- typed input after a button ------------------------------------------------------------
    async def pending_text(
        self, sender: Sender, chat_id: int, message_id: int, text: str
    ) -> Reply | None:
        """Text that answers a prompt (reason, note, result, comment); None when none is pending."""
        try:
            async with self.ctx.sessions.begin() as s:
                user = await upsert_user(s, sender)
                earlier = await self._earlier_reply(s, chat_id, message_id)
                if earlier is not None:
                    return Reply(earlier) if earlier else None
                return await self.answer_prompt(s, user, chat_id, message_id, text)
        except IntegrityError:
            return None

    async def _earlier_reply(self, s: AsyncSession, chat_id: int, message_id: int) -> str | None:
        return (
            await s.execute(
                select(InboundMessage.reply).where(
                    InboundMessage.chat_id == chat_id, InboundMessage.message_id == message_id
                )
            )
        ).scalar_one_or_none()

    async def answer_prompt(
        self, s: AsyncSession, user: User, chat_id: int, message_id: int, text: str
    ) -> Reply | None:
        """Inside the caller's transaction: apply `text` to the user's pending prompt, if any.

        The message is recorded as consumed (with the reply given), so a re-delivery answers
        the same and never falls through to intake as a new opinion.
        """
        what = user.pending_action
        if what is None or what in ("detail", "orphans"):
            return None
        body = text.strip()
        if not body:
            return Reply(at.empty_input())
        if len(body) > 2000:
            return Reply(at.input_too_long(len(body)))
        data = dict(user.pending_data or {})
        op = await s.get(Opinion, user.pending_opinion_id) if user.pending_opinion_id else None
        user.pending_action = None
        user.pending_opinion_id = None
        user.pending_data = None
        if op is None:
            return None
        reply = await self._apply_input(s, user, op, what, data, body)
        s.add(
            InboundMessage(
                chat_id=chat_id, message_id=message_id, kind=what, reply=reply.text, at=self._now()
            )
        )
        return reply

    async def _apply_input(
        self, s: AsyncSession, user: User, op: Opinion, what: str, data: dict[str, Any], body: str
    ) -> Reply:
        now = self._now()
        if what == "rating_comment":
            task_id = int(data.get("task", 0))
            rating = (
                await s.execute(
                    select(Rating).where(Rating.task_id == task_id, Rating.user_id == user.id)
                )
            ).scalar_one_or_none()
            if rating is not None:
                rating.comment = body
            await tell_staff(
                s,
                op.station_id,
                f"staff:comment:{task_id}:{user.id}",
                Reply(st.rating_comment(op.ref_no, body)),
                now,
                op.id,
            )
            return Reply(rt.comment_thanks())
        if what in ("reject_reason", "dup_ref"):
            if not await self._staff_role(s, user, op.station_id):
                return Reply(NOT_ALLOWED)
            if what == "reject_reason":
                return await self._reject(s, user, op, body)
            return await self._merge(s, user, op, body)
        task = await s.get(Task, int(data.get("task", 0)))
        if task is None or not await self._may_act(s, user, task):
            return Reply(NOT_ALLOWED)
        if task.status != "open":
            return Reply(at.task_not_open(op.ref_no))
        if what == "progress":
            try:
                await self._transition(s, op, Action.PROGRESS, user, note=body)
            except IllegalTransition:
                return Reply(at.ack_first())
            n = await self._count_events(s, op.id, Action.PROGRESS)
            await tell_residents(
                s, op, f"res:progress:{task.id}:{n}", Reply(rt.progress(op.ref_no, body)), now
            )
            await tell_staff(
                s,
                op.station_id,
                f"staff:progress:{task.id}:{n}",
                Reply(st.progress(op.ref_no, user.display_name, body)),
                now,
                op.id,
            )
            return Reply(at.progress_sent(op.ref_no))
        if what == "extension_reason":
            days = int(data.get("days", 0))
            if days not in EXTENSION_CHOICES:
                return Reply(at.task_not_open(op.ref_no))
            ext = Extension(
                task_id=task.id, days=days, reason=body, requested_by_id=user.id, requested_at=now
            )
            s.add(ext)
            await s.flush()
            s.add(
                OpinionEvent(
                    opinion_id=op.id,
                    actor_id=user.id,
                    action=Action.EXTEND,
                    from_status=op.status,
                    to_status=op.status,
                    note=f"+{days}: {body}",
                    at=now,
                )
            )
            buttons: tuple[tuple[Button, ...], ...] = (
                (
                    Button(st.BTN_APPROVE, encode("x", "y", ext.id)),
                    Button(st.BTN_DENY, encode("x", "n", ext.id)),
                ),
            )
            await tell_staff(
                s,
                op.station_id,
                f"staff:ext:{ext.id}",
                Reply(
                    st.extension_request(op.ref_no, user.display_name, days, body, task.due_date),
                    buttons,
                ),
                now,
                op.id,
            )
            return Reply(at.extension_sent(op.ref_no, days))
        if what == "bounce_reason":
            try:
                await self._transition(s, op, Action.BOUNCE, user, note=body)
            except IllegalTransition:
                return Reply(await self._last_action_by(s, op))
            task.status = "bounced"
            task.bounce_reason = body
            task.closed_at = now
            card = await self._triage_card(s, op, st.bounced(op.ref_no, user.display_name, body))
            await tell_staff(s, op.station_id, f"staff:bounce:{task.id}", card, now, op.id)
            return Reply(at.bounced(op.ref_no))
        if what == "close_result":
            outcome = str(data.get("outcome", ""))
            if outcome not in OUTCOMES.values():
                return Reply(at.task_not_open(op.ref_no))
            try:
                await self._transition(
                    s, op, Action.CLOSE, user, note=f"{outcome}: {body}", closed_at=now
                )
            except IllegalTransition:
                return Reply(await self._last_action_by(s, op))
            task.status = "closed"
            task.outcome = outcome
            task.result = body
            task.closed_at = now
            task.closed_by_id = user.id
            buttons = (
                tuple(
                    Button(rt.RATING_LABELS[v], encode("r", "v", task.id, n))
                    for n, v in RATINGS.items()
                ),
            )
            await tell_residents(
                s,
                op,
                f"res:closed:{task.id}",
                Reply(rt.closed(op.ref_no, outcome, at.OUTCOME_LABELS[outcome], body), buttons),
                now,
            )
            for uid, tg in await resident_chat_ids(s, op):
                await outbox.enqueue(
                    s,
                    key=f"res:rate_reminder:{task.id}:u{uid}",
                    chat_id=tg,
                    text=rt.rating_reminder(op.ref_no),
                    markup=Reply("", buttons).markup(),
                    kind="rating_reminder",
                    due_at=now + RATING_REMINDER_AFTER,
                    station_id=op.station_id,
                    opinion_id=op.id,
                )
            await tell_staff(
                s,
                op.station_id,
                f"staff:closed:{task.id}",
                Reply(st.closed(op.ref_no, user.display_name, outcome, body)),
                now,
                op.id,
            )
            return Reply(at.closed(op.ref_no))
        return Reply(at.task_not_open(op.ref_no))

    async def _count_events(self, s: AsyncSession, opinion_id: int, action: str) -> int:
        return len(
            list(
                (
                    await s.execute(
                        select(OpinionEvent.id).where(
                            OpinionEvent.opinion_id == opinion_id, OpinionEvent.action == action
                        )
                    )
                ).scalars()
            )
        )

    async def _reject(self, s: AsyncSession, user: User, op: Opinion, reason: str) -> Reply:
        try:
            await self._transition(s, op, Action.REJECT, user, note=reason, reject_reason=reason)
        except IllegalTransition:
            return Reply(await self._last_action_by(s, op))
        now = self._now()
        await tell_residents(
            s, op, f"res:rejected:{op.id}", Reply(rt.rejected(op.ref_no, reason)), now
        )
        await tell_staff(
            s,
            op.station_id,
            f"staff:rejected:{op.id}",
            Reply(st.rejected(op.ref_no, user.display_name, reason)),
            now,
            op.id,
        )
        return Reply(st.done())

    async def _merge(self, s: AsyncSession, user: User, op: Opinion, raw_ref: str) -> Reply:
        ref = normalize_ref(raw_ref)
        original = None
        if ref is not None:
            original = (
                await s.execute(
                    select(Opinion).where(
                        Opinion.station_id == op.station_id, Opinion.ref_no == ref
                    )
                )
            ).scalar_one_or_none()
        if original is None or original.id == op.id or original.status == Status.DUPLICATE:
            user.pending_action = "dup_ref"
            user.pending_opinion_id = op.id
            user.pending_since = self._now()
            return Reply(st.duplicate_ref_unknown(raw_ref[:40]))
        try:
            await self._transition(
                s, op, Action.MERGE, user, note=original.ref_no, duplicate_of_id=original.id
            )
        except IllegalTransition:
            return Reply(await self._last_action_by(s, op))
        now = self._now()
        for uid, _tg in await resident_chat_ids(s, op):
            if uid != original.resident_id:
                exists = (
                    await s.execute(
                        select(CoSigner.id).where(
                            CoSigner.opinion_id == original.id, CoSigner.user_id == uid
                        )
                    )
                ).scalar_one_or_none()
                if exists is None:
                    s.add(
                        CoSigner(
                            opinion_id=original.id, user_id=uid, source_opinion_id=op.id, at=now
                        )
                    )
        await tell_residents(
            s, op, f"res:merged:{op.id}", Reply(rt.merged(op.ref_no, original.ref_no)), now
        )
        return Reply(st.merged(op.ref_no, original.ref_no))

    # ---- extension decisions ---------------------------------------------------------------
    async def extension_button(
        self, sender: Sender, action: str, args: tuple[int, ...]
    ) -> ButtonResult:
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            ext = await s.get(Extension, args[0]) if args else None
            task = await s.get(Task, ext.task_id) if ext else None
            if ext is None or task is None or action not in ("y", "n"):
                return ButtonResult(st.card_gone(), alert=True)
            if not await self._staff_role(s, user, task.station_id):
                return ButtonResult(NOT_ALLOWED, alert=True)
            op = await s.get(Opinion, task.opinion_id)
            assert op is not None
            now = self._now()
            status = "approved" if action == "y" else "denied"
            done = await s.execute(
                update(Extension)
                .where(Extension.id == ext.id, Extension.status == "pending")
                .values(status=status, decided_by_id=user.id, decided_at=now)
            )
            if not getattr(done, "rowcount", 0):
                await s.refresh(ext)
                return ButtonResult(st.extension_already(ext.status), alert=True)
            if status == "approved":
                new_due = self.calendar.add_workdays(task.due_date, ext.days)
                task.due_date = new_due.due
                task.deadline_uncertain = task.deadline_uncertain or not new_due.certain
            s.add(
                OpinionEvent(
                    opinion_id=op.id,
                    actor_id=user.id,
                    action=f"extension_{status}",
                    from_status=op.status,
                    to_status=op.status,
                    note=str(ext.days),
                    at=now,
                )
            )
            await tell_assignee(
                s,
                task,
                f"task:ext:{ext.id}",
                Reply(at.extension_decided(op.ref_no, status == "approved", task.due_date)),
                now,
            )
            return ButtonResult(
                toast=st.extension_done(status == "approved"),
                edit=Reply(
                    st.extension_decided(
                        op.ref_no, status == "approved", user.display_name, task.due_date
                    )
                ),
            )

    # ---- resident rating ---------------------------------------------------------------------
    async def rating_button(
        self, sender: Sender, action: str, args: tuple[int, ...]
    ) -> ButtonResult:
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            if action != "v" or len(args) != 2 or args[1] not in RATINGS:
                return ButtonResult(st.card_gone(), alert=True)
            task = await s.get(Task, args[0])
            op = await s.get(Opinion, task.opinion_id) if task else None
            if task is None or op is None:
                return ButtonResult(st.card_gone(), alert=True)
            if user.id not in {uid for uid, _ in await resident_chat_ids(s, op)}:
                return ButtonResult(NOT_ALLOWED, alert=True)
            existing = (
                await s.execute(
                    select(Rating).where(Rating.task_id == task.id, Rating.user_id == user.id)
                )
            ).scalar_one_or_none()
            if existing is not None:
                return ButtonResult(
                    rt.already_rated(rt.RATING_LABELS.get(existing.value, existing.value)),
                    alert=True,
                )
            value = RATINGS[args[1]]
            now = self._now()
            s.add(Rating(opinion_id=op.id, task_id=task.id, user_id=user.id, value=value, at=now))
            await s.flush()
            # The reminder for this closure is no longer owed.
            await outbox.drop(s, f"res:rate_reminder:{task.id}:u{user.id}")
            is_main = user.id == op.resident_id or op.resident_id is None
            if is_main and op.status == Status.CLOSED and task.status == "closed":
                action_ = Action.RATE_UNSATISFIED if value == "unsatisfied" else Action.RATE
                with contextlib.suppress(IllegalTransition):
                    await self._transition(
                        s,
                        op,
                        action_,
                        user,
                        note=value,
                        satisfaction=value,
                        reopen_count=op.reopen_count + (1 if value == "unsatisfied" else 0),
                    )
            user.pending_action = "rating_comment"
            user.pending_opinion_id = op.id
            user.pending_data = {"task": task.id}
            user.pending_since = now
            if value == "unsatisfied" and is_main:
                card = await self._triage_card(s, op, st.reopened(op.ref_no))
                await tell_staff(s, op.station_id, f"staff:reopen:{task.id}", card, now, op.id)
                return ButtonResult(
                    toast=rt.RATING_LABELS[value],
                    edit=Reply(rt.rated(op.ref_no, rt.RATING_LABELS[value])),
                    prompt=Reply(rt.unsatisfied_ask_comment(op.ref_no)),
                )
            await tell_staff(
                s,
                op.station_id,
                f"staff:rated:{task.id}:{user.id}",
                Reply(st.rated(op.ref_no, rt.RATING_LABELS[value])),
                now,
                op.id,
            )
            return ButtonResult(
                toast=rt.RATING_LABELS[value],
                edit=Reply(rt.rated(op.ref_no, rt.RATING_LABELS[value])),
                prompt=Reply(rt.ask_optional_comment()),
            )

    async def expire_ratings(self) -> int:
        """Closures nobody rated within 7 days are recorded as 未评价 (run on the clock tick)."""
        cutoff = self._now() - RATING_EXPIRES_AFTER
        expired = 0
        async with self.ctx.sessions.begin() as s:
            rows = (
                await s.execute(
                    select(Opinion, Task)
                    .join(Task, Task.opinion_id == Opinion.id)
                    .where(
                        Opinion.status == Status.CLOSED,
                        Task.status == "closed",
                        Task.closed_at <= cutoff,
                    )
                )
            ).all()
            for op, task in rows:
                try:
                    await self._transition(
                        s, op, Action.EXPIRE_RATING, None, note="unrated", satisfaction="unrated"
                    )
                except IllegalTransition:
                    continue
                s.add(
                    Rating(
                        opinion_id=op.id,
                        task_id=task.id,
                        user_id=op.resident_id,
                        value="unrated",
                        at=self._now(),
                    )
                )
                expired += 1
        return expired

    # ---- lists -------------------------------------------------------------------------------
    async def my_tasks(self, sender: Sender) -> Reply:
        """`/tasks`: the caller's open tasks (theirs and their units'), overdue first."""
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            unit_ids = list(
                (
                    await s.execute(select(UnitMember.unit_id).where(UnitMember.user_id == user.id))
                ).scalars()
            )
            cond = Task.assignee_user_id == user.id
            if unit_ids:
                cond = cond | Task.assignee_unit_id.in_(unit_ids)
            rows = (
                await s.execute(
                    select(Task, Opinion)
                    .join(Opinion, Opinion.id == Task.opinion_id)
                    .where(cond, Task.status == "open")
                    .order_by(Task.due_date, Task.id)
                )
            ).all()
            if not rows:
                return Reply(at.no_tasks())
            today = self._today()
            lines = [at.tasks_header(len(rows))]
            buttons: list[tuple[Button, ...]] = []
            for task, op in rows:
                overdue = (
                    self.calendar.workdays_between(task.due_date, today)
                    if task.due_date < today
                    else 0
                )
                lines.append(
                    at.task_line(
                        op.ref_no, op.text, task.due_date, overdue, task.acknowledged_at is not None
                    )
                )
                if task.acknowledged_at is None:
                    buttons.append(
                        (Button(f"{at.BTN_ACK} {op.ref_no}", encode("k", "ack", task.id)),)
                    )
            return Reply("\n\n".join(lines), tuple(buttons[:10]))
