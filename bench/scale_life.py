"""The generated part of bench/scale_data.py: residents, and each opinion's life.

An opinion is triaged or not; a third are assigned (a unit or a representative), acknowledged,
maybe bounced once, closed and rated (or 未评价 after seven days); an unsatisfied rating reopens
the case for one more round. Recent tasks stay open. Every step writes the event and the outbox
messages the services write for it.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from bench.scale_data import (
    NOW,
    RATINGS,
    SNIPPETS,
    STAFF_CHAT,
    Counters,
    Rows,
    Setup,
    Shape,
    resident_sender,
)
from domain.workdays import WorkCalendar
from storage.models import REPLAN_AT


class Generator:
    """Seeded rows for one station: residents first, then opinions in created order."""

    def __init__(self, shape: Shape, setup: Setup, counters: Counters, tz: Any) -> None:
        self.shape, self.setup, self.c, self.tz = shape, setup, counters, tz
        self.rng = random.Random(shape.seed)
        self.calendar = WorkCalendar()
        self._due: dict[tuple[date, int], date] = {}
        self.first_resident = counters.next_id["users"]
        self.today = NOW.astimezone(tz).date()
        weights = [1.0 / (i + 1) for i in range(len(setup.themes))]  # a few themes dominate
        self.theme_weights = weights

    def due(self, start: date, days: int) -> date:
        """The deadline as the assign step computes it (cached: 3 years have few start days)."""
        key = (start, days)
        if key not in self._due:
            self._due[key] = self.calendar.add_workdays(start, days).due
        return self._due[key]

    def residents(self, lo: int, hi: int) -> Rows:
        rows = Rows()
        made = self.shape.start - timedelta(days=30)
        for n in range(lo, hi):
            uid = self.c.take("users")
            iid = self.c.take("identities")
            who = resident_sender(n)
            rows.users.append(
                {
                    "id": uid,
                    "first_name": who.first_name,
                    "last_name": None,
                    "username": None,
                    "phone": None,
                    "station_id": self.setup.station_id,
                    "pending_action": None,
                    "pending_opinion_id": None,
                    "pending_since": None,
                    "pending_data": None,
                    "subscribed": False,
                    "reach_identity_id": iid,
                    "created_at": made,
                    "updated_at": made,
                }
            )
            rows.identities.append(
                {
                    "id": iid,
                    "user_id": uid,
                    "channel": who.channel.value,
                    "external_id": who.external_id,
                    "first_name": who.first_name,
                    "last_name": None,
                    "username": None,
                    "blocked": False,
                    "link_failures": 0,
                    "link_failed_at": None,
                    "created_at": made,
                    "updated_at": made,
                }
            )
        return rows

    def opinions(self, lo: int, hi: int) -> Rows:
        rows = Rows()
        span = (NOW - timedelta(hours=1) - self.shape.start) / self.shape.opinions
        for k in range(lo, hi):
            at = self.shape.start + span * k + timedelta(seconds=self.rng.random() * 60)
            self.opinion(rows, at, k)
        return rows

    # ---- one opinion's life ----------------------------------------------------------------

    def opinion(self, rows: Rows, at: datetime, k: int) -> None:
        rng = self.rng
        n = rng.randrange(self.shape.residents)
        uid, who = self.first_resident + n, resident_sender(n)
        oid = self.c.take("opinions")
        year = at.astimezone(self.tz).year
        seq = self.c.seq.get(year, 0) + 1
        self.c.seq[year] = seq
        theme = rng.choices(self.setup.themes, self.theme_weights)[0]
        text = f"{SNIPPETS[k % len(SNIPPETS)]}（{rng.randrange(1, 60)}号楼{k}）"
        op: dict[str, Any] = {
            "id": oid,
            "station_id": self.setup.station_id,
            "ref_no": f"{self.setup.ref_prefix}-{year:04d}-{seq:05d}",
            "year": year,
            "seq": seq,
            "resident_id": uid,
            "submitted_by_id": None,
            "source": "resident",
            "forwarded_from": None,
            "on_behalf_of": None,
            "contact": None,
            "import_key": None,
            "text": text,
            "theme": theme,
            "theme_confidence": round(rng.uniform(0.3, 0.99), 3),
            "theme_terms": [],
            "needs_review": False,
            "theme_confirmed": rng.random() < 0.3,
            "anonymous": rng.random() < 0.8,
            "status": "received",
            "src_channel": "telegram",
            "src_chat_id": who.external_id,
            "src_message_id": str(2 * k + 1),
            "receipt_message_id": str(2 * k + 2),
            "duplicate_of_id": None,
            "reject_reason": None,
            "satisfaction": None,
            "reopen_count": 0,
            "assigned_at": None,
            "closed_at": None,
            "created_at": at,
            "updated_at": at,
        }
        rows.opinions.append(op)
        self.event(rows, oid, uid, "submit", None, "received", at)
        self.out(rows, f"staff:card:{oid}", "staff", STAFF_CHAT, at, oid)
        fate = rng.random()
        if NOW - at < timedelta(days=2) or fate >= 0.65:
            return  # waiting for triage
        if fate < 0.315:
            self.casework(rows, op, at)
        elif fate < 0.5:
            self.finish(rows, op, "rejected", "reject", at, reject_reason="不属于联络站职责")
        elif fate < 0.6:
            earlier = max(oid - rng.randrange(1, 500), 1)
            self.finish(rows, op, "duplicate", "merge", at, duplicate_of_id=earlier)
        else:
            self.finish(rows, op, "withdrawn", "withdraw", at)

    def finish(
        self, rows: Rows, op: dict[str, Any], status: str, action: str, at: datetime, **values: Any
    ) -> None:
        when = at + timedelta(hours=self.rng.uniform(1, 48))
        when = min(when, NOW - timedelta(minutes=1))
        op.update(status=status, updated_at=when, **values)
        actor = op["resident_id"] if action == "withdraw" else self.setup.staff_id
        self.event(rows, op["id"], actor, action, "received", status, when)
        self.out(
            rows,
            f"res:{action}:{op['id']}:u{op['resident_id']}",
            "resident",
            op["src_chat_id"],
            when,
            op["id"],
        )

    def casework(self, rows: Rows, op: dict[str, Any], at: datetime) -> None:
        """Assign; maybe bounced or reopened once and assigned again; closed and rated."""
        when = at + timedelta(hours=self.rng.uniform(2, 72))
        for round_ in range(3):
            if when >= NOW:
                return
            nxt = self.task(rows, op, when, last_round=round_ == 2)
            if nxt is None:
                return
            when = nxt

    def task(
        self, rows: Rows, op: dict[str, Any], when: datetime, last_round: bool
    ) -> datetime | None:
        """One task of the opinion from `when`; the moment of the next round, if any."""
        rng, oid, staff = self.rng, op["id"], self.setup.staff_id
        days = rng.choice((3, 7, 7, 15))
        unit = rng.random() < 0.8
        tid = self.c.take("tasks")
        due = self.due(when.astimezone(self.tz).date(), days)
        task: dict[str, Any] = {
            "id": tid,
            "opinion_id": oid,
            "station_id": self.setup.station_id,
            "assignee_user_id": None if unit else rng.choice(self.setup.rep_ids),
            "assignee_unit_id": rng.choice(self.setup.unit_ids) if unit else None,
            "assigned_by_id": staff,
            "assigned_at": when,
            "working_days": days,
            "due_date": due,
            "deadline_uncertain": False,
            "status": "open",
            "acknowledged_at": None,
            "acknowledged_by_id": None,
            "closed_at": None,
            "closed_by_id": None,
            "outcome": None,
            "result": None,
            "bounce_reason": None,
            "next_remind_at": None,  # closed and bounced tasks: nothing to plan
        }
        rows.tasks.append(task)
        self.event(rows, oid, staff, "assign", op["status"], "assigned", when)
        op.update(status="assigned", assigned_at=when, updated_at=when)
        self.out(rows, f"task:new:{tid}", "assignee", f"unit{tid % 9}", when, oid)
        self.out(
            rows,
            f"res:assigned:{tid}:u{op['resident_id']}",
            "resident",
            op["src_chat_id"],
            when,
            oid,
        )
        ack = when + timedelta(hours=rng.uniform(1, 30))
        recent = when > NOW - timedelta(days=40) and rng.random() < 0.85
        if ack < NOW:
            task.update(acknowledged_at=ack, acknowledged_by_id=staff)
            self.event(rows, oid, staff, "acknowledge", "assigned", "in_progress", ack)
            op.update(status="in_progress", updated_at=ack)
        if not last_round and not recent and rng.random() < 0.05:
            bounced = ack + timedelta(hours=rng.uniform(1, 24))
            if bounced < NOW:
                task.update(status="bounced", closed_at=bounced, bounce_reason="不属于本单位职责")
                self.event(rows, oid, staff, "bounce", op["status"], "received", bounced)
                op.update(status="received", updated_at=bounced)
                return bounced + timedelta(hours=rng.uniform(1, 48))
        closed = ack + timedelta(days=rng.uniform(0.5, days * 1.3))
        if recent or closed >= NOW:
            task["next_remind_at"] = REPLAN_AT  # as the assign step leaves it: plan me next tick
            self.c.open_tasks += 1
            self.c.overdue_tasks += due < self.today
            return None
        return self.close(rows, op, task, closed, last_round)

    def close(
        self,
        rows: Rows,
        op: dict[str, Any],
        task: dict[str, Any],
        closed: datetime,
        last_round: bool,
    ) -> datetime | None:
        rng, oid, staff = self.rng, op["id"], self.setup.staff_id
        if rng.random() < 0.5:
            noted = task["acknowledged_at"] + (closed - task["acknowledged_at"]) / 2
            self.event(
                rows,
                oid,
                staff,
                "progress",
                op["status"],
                op["status"],
                noted,
                note="已联系相关部门，正在协调",
            )
        outcome = rng.choice("AABBCD")
        task.update(
            status="closed",
            closed_at=closed,
            closed_by_id=staff,
            outcome=outcome,
            result="已按程序办理并答复群众",
        )
        self.event(rows, oid, staff, "close", op["status"], "closed", closed)
        op.update(status="closed", closed_at=closed, updated_at=closed)
        self.out(
            rows,
            f"res:closed:{task['id']}:u{op['resident_id']}",
            "resident",
            op["src_chat_id"],
            closed,
            oid,
        )
        return self.rate(rows, op, task, closed, last_round)

    def rate(
        self,
        rows: Rows,
        op: dict[str, Any],
        task: dict[str, Any],
        closed: datetime,
        last_round: bool,
    ) -> datetime | None:
        """The resident's rating (or 未评价 after seven days); unsatisfied reopens the case."""
        rng, oid = self.rng, op["id"]
        value = rng.choices([v for v, _ in RATINGS], [w for _, w in RATINGS])[0]
        if value == "unsatisfied" and last_round:
            value = "basic"
        rated = closed + (
            timedelta(days=7) if value == "unrated" else timedelta(hours=rng.uniform(1, 140))
        )
        if rated >= NOW:
            return None
        rows.ratings.append(
            {
                "id": self.c.take("ratings"),
                "opinion_id": oid,
                "task_id": task["id"],
                "user_id": op["resident_id"],
                "value": value,
                "comment": None,
                "at": rated,
            }
        )
        action = {"unsatisfied": "rate_unsatisfied", "unrated": "expire_rating"}.get(value, "rate")
        status = "reopened" if value == "unsatisfied" else "rated"
        actor = None if value == "unrated" else op["resident_id"]
        self.event(rows, oid, actor, action, "closed", status, rated)
        op.update(status=status, satisfaction=value, updated_at=rated)
        if value == "unsatisfied":
            op["reopen_count"] += 1
            return rated + timedelta(hours=rng.uniform(2, 72))
        return None

    # ---- rows of the kernel ----------------------------------------------------------------

    def event(
        self,
        rows: Rows,
        oid: int,
        actor: int | None,
        action: str,
        before: str | None,
        after: str | None,
        at: datetime,
        note: str | None = None,
    ) -> None:
        rows.opinion_events.append(
            {
                "id": self.c.take("opinion_events"),
                "opinion_id": oid,
                "actor_id": actor,
                "action": action,
                "from_status": before,
                "to_status": after,
                "note": note,
                "at": at,
            }
        )

    def out(self, rows: Rows, key: str, kind: str, chat_id: str, at: datetime, oid: int) -> None:
        sent = at + timedelta(seconds=1)
        done = sent < NOW
        rows.outbox.append(
            {
                "id": self.c.take("outbox"),
                "key": key,
                "station_id": self.setup.station_id,
                "kind": kind,
                "channel": "telegram",
                "chat_id": chat_id,
                "message": {"t": [f"{kind} {key}：", ["b", "您的意见已有新进展"]]},
                "file_data": None,
                "due_at": at,
                "expires_at": None,
                "status": "sent" if done else "pending",
                "attempts": 1 if done else 0,
                "lease_owner": None,
                "lease_until": None,
                "sent_message_id": str(self.c.next_id["outbox"]) if done else None,
                "sent_at": sent if done else None,
                "last_error": None,
                "opinion_id": oid,
                "created_at": at,
            }
        )
