"""Every stored state as an enum. Each is a StrEnum whose values are the strings already in the
database, so rows written before these enums existed read back unchanged.

The opinion lifecycle (Status, Action) lives in domain.lifecycle with its transition table.
"""

from __future__ import annotations

from enum import StrEnum

from domain.lifecycle import Action


class Role(StrEnum):
    ADMIN = "admin"  # from ADMIN_IDS, never stored
    STAFF = "staff"
    REPRESENTATIVE = "representative"
    RESIDENT = "resident"


class InviteRole(StrEnum):
    REPRESENTATIVE = "representative"
    MEMBER = "member"  # of the invite's unit


class TaskStatus(StrEnum):
    OPEN = "open"
    BOUNCED = "bounced"
    CLOSED = "closed"


class PromptKind(StrEnum):
    """What the person's next text answers (users.pending_action)."""

    DETAIL = "detail"  # resident: detail for an opinion
    ORPHANS = "orphans"  # resident: attachments wait for the next opinion
    RATING_COMMENT = "rating_comment"
    REJECT_REASON = "reject_reason"
    DUP_REF = "dup_ref"
    PROGRESS = "progress"
    EXTENSION_REASON = "extension_reason"
    BOUNCE_REASON = "bounce_reason"
    CLOSE_RESULT = "close_result"


# Prompts intake handles itself; casework answers every other kind.
INTAKE_PROMPTS = frozenset({PromptKind.DETAIL, PromptKind.ORPHANS})


class EventKind(StrEnum):
    """opinion_events.action: the lifecycle's actions plus the events that move no status."""

    SUBMIT = "submit"
    DETAIL = "detail"
    EDIT = "edit"
    ANONYMOUS = "anonymous"
    REAL_NAME = "real_name"
    IMPORT = "import"
    IMPORT_DETAIL = "import_detail"
    EXTENSION_APPROVED = "extension_approved"
    EXTENSION_DENIED = "extension_denied"
    ASSIGN = Action.ASSIGN.value
    ACKNOWLEDGE = Action.ACKNOWLEDGE.value
    PROGRESS = Action.PROGRESS.value
    EXTEND = Action.EXTEND.value
    BOUNCE = Action.BOUNCE.value
    CLOSE = Action.CLOSE.value
    RATE = Action.RATE.value
    RATE_UNSATISFIED = Action.RATE_UNSATISFIED.value
    EXPIRE_RATING = Action.EXPIRE_RATING.value
    REJECT = Action.REJECT.value
    MERGE = Action.MERGE.value
    WITHDRAW = Action.WITHDRAW.value
    RETHEME = Action.RETHEME.value
    SUPERVISE = Action.SUPERVISE.value
    PHONE_RATING = "phone_rating"  # staff recorded a rating given on the phone (回访)
    CLAIM = "claim"  # a 代录 case claimed by its resident in the bot


class Outcome(StrEnum):
    """办结 result categories."""

    A = "A"  # 已解决
    B = "B"  # 正在解决或已列入计划
    C = "C"  # 因条件限制暂时不能解决
    D = "D"  # 留作参考


class RatingValue(StrEnum):
    SATISFIED = "satisfied"
    BASIC = "basic"
    UNSATISFIED = "unsatisfied"
    UNRATED = "unrated"


class ExtensionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    UNDELIVERABLE = "undeliverable"
    DROPPED = "dropped"
    FAILED = "failed"
    HELD = "held"  # waits for the person to write again (services.kernel.held)


class InboxState(StrEnum):
    """inbox.state: an incoming platform event, stored before the platform is acknowledged."""

    PENDING = "pending"  # stored, to be (re)processed when due (lease_until: not before)
    PROCESSING = "processing"  # leased to one process until lease_until
    DONE = "done"
    FAILED = "failed"  # gave up after INBOX_MAX_ATTEMPTS; kept for inspection


class MessageKind(StrEnum):
    """outbox.kind: who a queued message is for (reminders may be marked late)."""

    RESIDENT = "resident"
    STAFF = "staff"
    STAFF_DETAIL = "staff_detail"
    STAFF_EDIT = "staff_edit"
    STAFF_WITHDRAW = "staff_withdraw"
    ASSIGNEE = "assignee"
    RATING_REMINDER = "rating_reminder"
    NOTICE = "notice"
    REMINDER = "reminder"
    BRIEFING = "briefing"
    # An edit of a message sent earlier (its keyboard removed, a card updated in place); the
    # row's key names the edited message's own outbox key after "|".
    EDIT = "edit"


class UnitKind(StrEnum):
    GROUP = "group"  # 工作组/专题组
    DEPARTMENT = "department"  # 责任单位


class MeetingKind(StrEnum):
    PROGRESS = "progress"  # 推进会
    DISPATCH = "dispatch"  # 调度会
    RECEPTION = "reception"  # 代表接待日
    OTHER = "other"


class OpinionSource(StrEnum):
    RESIDENT = "resident"
    REPRESENTATIVE = "representative"  # 代表转交
    IMPORT = "import"  # a ledger file
    RECORDED = "recorded"  # 代录: staff entered it for a resident who phoned or walked in
