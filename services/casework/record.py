"""代录: staff enter an opinion for a resident who phoned or walked in.

`/record 张大爷 13800001111 楼道灯坏了一个月…` (the phone number is optional and kept as personal
data: staff see it, assignees never do). The opinion gets its reference number like any other,
and a short claim code printed on the paper receipt: `/claim LL-2026-00012 123456` (or
`/start LL-2026-00012 123456`) in the bot makes the case the resident's own. Until then the 回访
is a staff call (services.casework.revisit).
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import select, update

import texts.casework as kt
import texts.casework_resident as rk
import texts.resident as rt
import texts.staff as st
from domain.channels import Sender
from domain.lifecycle import Status
from domain.message import Message
from domain.refs import format_ref, normalize_ref
from domain.states import EventKind, OpinionSource
from services.kernel import audit
from services.kernel.access import Need, actor
from services.kernel.cards import post_triage_card
from services.kernel.context import ServiceContext
from services.kernel.numbering import next_seq
from services.kernel.people import upsert_person
from storage.models import Identity, Opinion

PHONE = re.compile(r"^\+?[\d-]{7,20}$")
MIN_TEXT = 5
MAX_FAILURES = 5


def parse_record(rest: str) -> tuple[str, str | None, str] | None:
    """(name, phone or None, text) from `姓名 [电话] 内容`; None when something is missing."""
    parts = rest.strip().split(maxsplit=2)
    if len(parts) < 2:
        return None
    name, second = parts[0], parts[1]
    if PHONE.match(second):
        text = parts[2] if len(parts) == 3 else ""
        phone: str | None = second
    else:
        phone, text = None, rest.strip()[len(name) :].strip()
    if len(text) < MIN_TEXT or len(name) > 50:
        return None
    return name, phone, text


async def record(ctx: ServiceContext, sender: Sender, rest: str) -> Message:
    parsed = parse_record(rest)
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return Message(st.only_staff())
        if parsed is None:
            return Message(kt.record_usage())
        name, phone, text = parsed
        now = ctx.clock.now()
        year = now.astimezone(ctx.tz).year
        seq = await next_seq(s, station.id, year)
        verdict = ctx.classifier.classify(text)
        code = f"{secrets.randbelow(10**6):06d}"
        op = Opinion(
            station_id=station.id,
            ref_no=format_ref(station.ref_prefix, year, seq),
            year=year,
            seq=seq,
            resident_id=None,
            submitted_by_id=who.id,
            source=OpinionSource.RECORDED,
            on_behalf_of=name,
            contact=phone,
            text=text,
            theme=verdict.category,
            theme_confidence=float(verdict.confidence),
            theme_terms=list(verdict.terms),
            needs_review=bool(verdict.needs_review),
            anonymous=True,
            status=Status.RECEIVED,
            claim_code=code,
            reopen_count=0,
            created_at=now,
            updated_at=now,
        )
        s.add(op)
        await s.flush()
        audit.record(s, op, EventKind.SUBMIT, who.id, now, f"代录：{name}")
        await post_triage_card(s, ctx, station.id, op, now, n_files=0)
        return Message(kt.recorded(op.ref_no, name, phone, code, ctx.theme_label(op.theme)))


async def claim(ctx: ServiceContext, sender: Sender, raw_ref: str, code: str) -> Message:
    """The resident claims a 代录 case with the code on their paper receipt."""
    ref = normalize_ref(raw_ref)
    async with ctx.sessions.begin() as s:
        person, _ = await upsert_person(s, sender)
        user = person.user
        identity = await s.get(Identity, person.identity.id)
        assert identity is not None
        now = ctx.clock.now()
        # Wrong codes count with wrong link codes (identities.link_failures): 5 an hour.
        if identity.link_failed_at is None or now - identity.link_failed_at > timedelta(hours=1):
            identity.link_failures = 0
        if identity.link_failures >= MAX_FAILURES:
            return Message(rt.link_throttled())
        op = None
        if ref is not None and code.strip():
            op = (
                await s.execute(
                    select(Opinion).where(
                        Opinion.ref_no == ref,
                        Opinion.claim_code == code.strip(),
                        Opinion.resident_id.is_(None),
                    )
                )
            ).scalar_one_or_none()
        if op is None:
            if identity.link_failures == 0:
                identity.link_failed_at = now
            identity.link_failures += 1
            return Message(rk.claim_invalid())
        done = await s.execute(
            update(Opinion)
            .where(Opinion.id == op.id, Opinion.resident_id.is_(None))
            .values(resident_id=user.id, claim_code=None)
            .execution_options(synchronize_session=False)
        )
        if not getattr(done, "rowcount", 0):
            return Message(rk.claim_invalid())
        user.station_id = op.station_id
        audit.record(s, op, EventKind.CLAIM, user.id, now)
        return Message(rk.claimed(op.ref_no))
