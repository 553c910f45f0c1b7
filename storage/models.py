"""Tables. The database is the source of truth for every step of every conversation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


# tasks/meetings.next_remind_at: "the planner looks at this row on its next tick" (any past moment).
REPLAN_AT = datetime(2000, 1, 1, tzinfo=UTC)


UNREACHED_OUTBOX = "status IN ('held', 'undeliverable')"


def _partial(where: str) -> dict[str, Any]:
    """A partial index's condition on both engines (the clock's queries repeat it literally)."""
    return {"sqlite_where": text(where), "postgresql_where": text(where)}


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC, always hand back aware datetimes (SQLite would otherwise drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    ref_prefix: Mapped[str] = mapped_column(String(8), default="LL")
    # The staff group, on any channel (see domain.channels.Address).
    staff_channel: Mapped[str | None] = mapped_column(String(16))
    staff_chat_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Overrides of the casework policy (services.kernel.policy); NULL: the defaults.
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class User(Base):
    """A person as the bot knows them, on every channel; conversation state lives here.

    How to reach them is one of their identities (`identities`): the one they last wrote from
    (`reach_identity_id`).
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str | None] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    # Pending multi-step input ("the next text is detail for opinion N"): persisted so a restart or
    # another instance continues the same conversation.
    pending_action: Mapped[str | None] = mapped_column(String(32))
    pending_opinion_id: Mapped[int | None] = mapped_column(Integer)  # no FK: users precede opinions
    pending_since: Mapped[datetime | None]
    pending_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The identity the person last wrote from: where the bot reaches them. No FK (identities
    # reference users): set in the same transaction that creates or switches the identity.
    reach_identity_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p).strip()
        if not name and self.username:
            name = "@" + self.username
        return name or f"用户{self.id}"


class Identity(Base):
    """One account of a person on one channel (a Telegram user id, a DingTalk userId, a WeChat
    openid). A person known on two channels has two identities and one users row."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str | None] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(64))
    # The person blocked the bot on this channel (a 403): not used to reach them until they write.
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Wrong link codes sent from this identity in the current hour (guessing is throttled).
    link_failures: Mapped[int] = mapped_column(Integer, default=0)
    link_failed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LinkCode(Base):
    """A short-lived code with which a person joins another channel's identity to themselves."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StationRole(Base):
    """A user's role at one station: staff or representative (admins come from ADMIN_IDS)."""

    __tablename__ = "station_roles"
    __table_args__ = (UniqueConstraint("station_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefCounter(Base):
    """Next reference sequence per station and year, bumped atomically inside the intake transaction."""

    __tablename__ = "ref_counters"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Opinion(Base):
    """One resident opinion (意见建议) and its place in the lifecycle."""

    __tablename__ = "opinions"
    __table_args__ = (
        UniqueConstraint("station_id", "ref_no"),
        # A re-delivered message must never create a second opinion.
        UniqueConstraint("src_channel", "src_chat_id", "src_message_id"),
        Index("ix_opinions_resident_created", "resident_id", "created_at"),
        # Opinions waiting for a rating, for the 未评价 expiry (services.casework.ratings).
        Index("ix_opinions_closed", "closed_at", **_partial("status = 'closed'")),
        # /stats and /briefing count from indexes alone (migration 0004): a period's opinions
        # by theme and status, and all of them in group order.
        Index("ix_opinions_station_created", "station_id", "created_at", "theme", "status"),
        Index("ix_opinions_station_status_theme", "station_id", "status", "theme"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    ref_no: Mapped[str] = mapped_column(String(32))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16), default="resident")
    forwarded_from: Mapped[str | None] = mapped_column(String(200))
    on_behalf_of: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(100))
    # Hash of (station, date, name, text) for rows imported from a ledger: importing twice adds nothing.
    import_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    theme: Mapped[str] = mapped_column(String(64))
    theme_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    theme_terms: Mapped[list[str]] = mapped_column(default=list)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    theme_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="received")
    src_channel: Mapped[str | None] = mapped_column(String(16))
    src_chat_id: Mapped[str | None] = mapped_column(String(128))
    src_message_id: Mapped[str | None] = mapped_column(String(128))
    receipt_message_id: Mapped[str | None] = mapped_column(String(128))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("opinions.id"))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    assigned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # 代录: the code on the paper receipt with which the resident claims the case in the bot.
    claim_code: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    resident: Mapped[User | None] = relationship(foreign_keys=[resident_id], lazy="raise")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="opinion", lazy="raise", order_by="Attachment.id"
    )


class Attachment(Base):
    """Detail added to an opinion: extra text, a photo, a file, a voice note or a location."""

    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("src_channel", "src_chat_id", "src_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL until the resident writes the opinion it belongs to (a photo sent before any text).
    opinion_id: Mapped[int | None] = mapped_column(ForeignKey("opinions.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str | None] = mapped_column(String(256))
    file_unique_id: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    src_channel: Mapped[str | None] = mapped_column(String(16))
    src_chat_id: Mapped[str | None] = mapped_column(String(128))
    src_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    opinion: Mapped[Opinion | None] = relationship(back_populates="attachments", lazy="raise")


class Revision(Base):
    """The text an opinion had before the resident edited the message it came from."""

    __tablename__ = "revisions"
    # Edits are dated to the second: `seq` numbers two edits made within one second.
    __table_args__ = (UniqueConstraint("opinion_id", "edit_date", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opinion_id: Mapped[int] = mapped_column(ForeignKey("opinions.id"), index=True)
    old_text: Mapped[str] = mapped_column(Text)
    new_text: Mapped[str] = mapped_column(Text)
    edit_date: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OpinionEvent(Base):
    """Audit trail: who did what, when, from which status to which."""

    __tablename__ = "opinion_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    opinion_id: Mapped[int] = mapped_column(ForeignKey("opinions.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # the daily digest (0010)


class ThemeCorrection(Base):
    """A staff correction of the classifier: a labeled example for the next `liaison-bot train`."""

    __tablename__ = "theme_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    opinion_id: Mapped[int | None] = mapped_column(ForeignKey("opinions.id"))
    text: Mapped[str] = mapped_column(Text)
    old_theme: Mapped[str | None] = mapped_column(String(64))
    new_theme: Mapped[str] = mapped_column(String(64))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Outbox(Base):
    """A message the bot owes someone, keyed so it is created once and claimed by one sender.

    Notifications and reminders go through here: the row is written in the same transaction as the
    business change that caused it, then a dispatcher claims it with a lease, sends it and records
    the channel's message id. A crash between claim and send re-sends at most that one message.
    The message is stored channel-neutral (domain.message.Message as JSON) and rendered by the
    chat's channel at send time.
    """

    __tablename__ = "outbox"
    # Only rows still to send: sent and dropped rows are most of the table (storage.queries.outbox).
    __table_args__ = (
        Index("ix_outbox_due", "status", "due_at", **_partial("status IN ('pending', 'sending')")),
        # A group's sends in the last minute, by every dispatcher (scheduler.pacing.seed).
        Index("ix_outbox_chat_sent", "channel", "chat_id", "sent_at"),
        # Staff's /unreached (未送达): the few rows waiting for a person to write again, or gone.
        Index("ix_outbox_unreached", "station_id", **_partial(UNREACHED_OUTBOX)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary)  # the message's file, if any
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Past this moment the message is pointless (a meeting that has begun): dropped, not sent.
    expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    sent_message_id: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    opinion_id: Mapped[int | None] = mapped_column(ForeignKey("opinions.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def plain(self) -> str:
        """The message's words without markup (logs, tests)."""
        return "".join(s if isinstance(s, str) else s[1] for s in self.message.get("t", ()))


class Unit(Base):
    """A working group (工作组/专题组) or a responsible department (责任单位)."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("station_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "group" | "department"
    name: Mapped[str] = mapped_column(String(100))
    chat_channel: Mapped[str | None] = mapped_column(String(16))
    chat_id: Mapped[str | None] = mapped_column(String(128), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UnitMember(Base):
    """A person who acts for a working group or department on its tasks."""

    __tablename__ = "unit_members"
    __table_args__ = (UniqueConstraint("unit_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Invite(Base):
    """A one-time code with which a representative joins (`/join CODE`)."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # representative | member (of unit_id)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    note: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(Base):
    """One assignment (交办) of an opinion to a representative, a working group or a department."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_due", "status", "due_date"),
        Index(
            "ix_tasks_next_remind_at", "next_remind_at", **_partial("next_remind_at IS NOT NULL")
        ),
        # /stats (migration 0004): tasks assigned, closed or bounced in a period; per assignee.
        Index("ix_tasks_station_assigned", "station_id", "assigned_at", "opinion_id"),
        Index("ix_tasks_station_closed", "station_id", "closed_at", "status", "opinion_id"),
        Index(
            "ix_tasks_station_assignee",
            "station_id",
            "assignee_unit_id",
            "assignee_user_id",
            "status",
        ),
        # Overdue now, per assignee (migration 0011): the open tasks only.
        Index(
            "ix_tasks_open_due",
            "station_id",
            "due_date",
            "assignee_unit_id",
            "assignee_user_id",
            **_partial("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opinion_id: Mapped[int] = mapped_column(ForeignKey("opinions.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assignee_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime]
    working_days: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    deadline_uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|bounced|closed
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(1))
    result: Mapped[str | None] = mapped_column(Text)
    bounce_reason: Mapped[str | None] = mapped_column(Text)
    # 咨询 consult | 求助 help | 投诉 complaint | 建议 suggestion, chosen at 交办.
    case_kind: Mapped[str | None] = mapped_column(String(16))
    # 响应率: signed (签收) by this moment counts as a timely response; set at 交办.
    respond_by: Mapped[datetime | None]
    # When the reminder planner next has something to do for this task (services.reminders):
    # new and changed open tasks get REPLAN_AT, closed ones NULL.
    next_remind_at: Mapped[datetime | None] = mapped_column(default=REPLAN_AT)


class Extension(Base):
    """An assignee's request for more time (申请延期), approved or denied by staff."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]


class Rating(Base):
    """The resident's satisfaction (满意度测评) for one closure of a task."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("task_id", "user_id"),
        Index("ix_ratings_at", "at", "value", "opinion_id"),  # /stats: a period's ratings
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opinion_id: Mapped[int] = mapped_column(ForeignKey("opinions.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    value: Mapped[str] = mapped_column(String(16))  # satisfied|basic|unsatisfied|unrated
    comment: Mapped[str | None] = mapped_column(Text)
    # A rating given on the phone (回访) and recorded by this staff member.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CoSigner(Base):
    """A resident whose duplicate opinion was merged into this one: they get all its updates."""

    __tablename__ = "cosigners"
    __table_args__ = (UniqueConstraint("opinion_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opinion_id: Mapped[int] = mapped_column(ForeignKey("opinions.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    source_opinion_id: Mapped[int | None] = mapped_column(ForeignKey("opinions.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Meeting(Base):
    """A working-group meeting (推进会/调度会) or a representatives' reception day (接待日).

    Occurrences are computed from the recurrence rule; their reminders are outbox rows keyed by
    meeting and occurrence, so nothing about them lives in the scheduler's memory.
    """

    __tablename__ = "meetings"
    __table_args__ = (
        Index(
            "ix_meetings_next_remind_at", "next_remind_at", **_partial("next_remind_at IS NOT NULL")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(16))  # progress|dispatch|reception|other
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # When the planner next has a reminder to plan (REPLAN_AT after a change, NULL when inactive).
    next_remind_at: Mapped[datetime | None] = mapped_column(default=REPLAN_AT)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Announcement(Base):
    """A notice (通知) from staff to some or all working groups, now or at a set time."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    text: Mapped[str] = mapped_column(Text)
    unit_ids: Mapped[list[str]] = mapped_column(default=list)  # empty: all groups
    send_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMessage(Base):
    """A message that was consumed as input to a step (a reason, a note, a comment, a choice).

    Its unique (channel, chat, message) makes the step idempotent: a re-delivered update is
    recognised instead of falling through to intake and becoming a new opinion. `reply` is the
    answer given (a Message as JSON), given again on a re-delivery.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("channel", "chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatQuestion(Base):
    """The choices last delivered to a chat on a channel without buttons (numbered replies).

    Replaced by each newer question when that one is delivered; a reply "2" is the second
    choice of the question that was current when the reply was written.
    """

    __tablename__ = "chat_questions"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    payloads: Mapped[list[str]] = mapped_column()
    message_id: Mapped[str | None] = mapped_column(String(128))
    delivered_at: Mapped[datetime]


class Setting(Base):
    """Values the instances share without configuration (the action-signing secret, ...)."""

    __tablename__ = "bot_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class InboxEntry(Base):
    """An incoming platform event (a Telegram update, a DingTalk or WeChat callback), stored
    before the platform is acknowledged and processed from here (services.kernel.inbox).

    Unique on (channel, key): a re-delivered event is recognised before it is handled. A row
    whose process died is processed again when its lease runs out; handling is idempotent.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "key"),
        Index(
            "ix_inbox_due",
            "channel",
            "lease_until",
            **_partial("state IN ('pending', 'processing')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # How many messages of the answer were sent, recorded one by one right after each was
    # accepted: handled again after a crash, those are not sent a second time.
    replied: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AccessTokenRow(Base):
    """A platform access token shared by every instance (WeChat: one per AppID).

    Fetching a new WeChat token kills the old one, so instances never keep their own: one of
    them takes the refresh lease, fetches, and stores with compare-and-set (see
    handlers/wechat/tokens.py for the contract, storage/access_tokens.py for the SQL).
    """

    __tablename__ = "access_tokens"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str | None] = mapped_column(String(512))
    expires_at: Mapped[float | None] = mapped_column(Float)  # unix seconds
    lease_holder: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[float | None] = mapped_column(Float)  # unix seconds


class ReportDay(Base):
    """/stats and the 工作简报 summed per station-local day (issue 12: any period under 300 ms).

    One row per (station, day, metric, assignee, k1, k2): counts `n`, `m` and a sum `total`,
    recomputed from the live tables for the days `report_dirty` names (storage/rollup.py says
    what each metric counts). A period's figures are the sums over its days.
    """

    __tablename__ = "report_days"
    __table_args__ = (Index("ix_report_days_station_span_day", "station_id", "span", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer)
    # "d": one day; "m": the sums of a month's days (day = its 1st), so all time reads ~40 months
    span: Mapped[str] = mapped_column(String(1), default="d")
    day: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(8))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    k1: Mapped[str] = mapped_column(String(64), default="")
    k2: Mapped[str] = mapped_column(String(16), default="")
    n: Mapped[int] = mapped_column(Integer, default=0)
    m: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)


class ReportDirty(Base):
    """An hour (UTC) whose report_days rows are stale: written by triggers (migration 0011) in
    the transaction of every change to opinions, tasks, ratings and co-signers."""

    __tablename__ = "report_dirty"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer)
    hour: Mapped[datetime]


class ReportCache(Base):
    """Keywords and hot issues of a period, kept while the period's opinions stay the same
    (`stamp`: their count and the latest receipt)."""

    __tablename__ = "report_cache"
    __table_args__ = (UniqueConstraint("station_id", "kind", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(32))
    stamp: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
