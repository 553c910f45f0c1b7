"""Commands, the same on every channel: `/name args`, or on channels whose people type no
slashes, the Chinese words in ALIASES."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import texts.meetings as tm
import texts.resident as rt
import texts.staff_setup as sst
from domain.message import Message
from domain.states import UnitKind
from services.inbound.types import Inbound, Outcome

if TYPE_CHECKING:
    from services.inbound.router import Router


class Where(Enum):
    PRIVATE = "private"  # in a group: residents' commands point to the private chat
    ANY = "any"


@dataclass(frozen=True)
class Call:
    """A parsed command: its name, the text after it, and that text split on whitespace."""

    name: str
    rest: str

    @property
    def args(self) -> list[str]:
        return self.rest.split()


Handler = Callable[["Router", Inbound, Call], Awaitable[Outcome]]

# Words that work as commands where nobody types slashes (Inbound.words_as_commands).
ALIASES = {
    "绑定账号": "link",
    "绑定工作人员群": "bind_staff",
    "绑定群": "bind",
    "我的意见": "my",
    "查询进度": "status",
    "使用说明": "help",
    "帮助": "help",
    "待办": "tasks",
    "加入": "join",
    "统计": "stats",
    "简报": "briefing",
    "导出台账": "export",
    "代录": "record",
    "回访": "calls",
    "认领": "claim",
    "办理设置": "settings",
    "未送达": "unreached",
    "绑定": "bind_staff",
    "添加工作人员": "add_staff",
    "生成邀请码": "invite",
    "添加工作组": "group_add",
    "添加部门": "dept_add",
    "单位列表": "units",
    "发通知": "notify",
    "权责清单": "duty",
}
GROUP_HINT = frozenset({"start", "help", "my", "status"})


def parse(inbound: Inbound, text: str) -> Call | None:
    """`/name@bot rest` (the adapter has dropped other bots' commands) or an alias word."""
    stripped = text.strip()
    parts = stripped.split(maxsplit=1)
    if not parts:
        return None
    rest = parts[1] if len(parts) == 2 else ""
    if stripped.startswith("/"):
        name = parts[0][1:].split("@", 1)[0].lower()
        return Call(name, rest) if name else None
    if inbound.words_as_commands and parts[0] in ALIASES:
        return Call(ALIASES[parts[0]], rest)
    if inbound.words_as_commands and parts[0].lower() in COMMANDS:
        return Call(parts[0].lower(), rest)  # `bind_staff` typed without its slash
    return None


async def _start(r: Router, i: Inbound, c: Call) -> Outcome:
    if len(c.args) == 2:  # `/start LL-2026-00012 123456`: the paper receipt of a 代录 case
        return Outcome.of(await r.casework.claim(i.sender, c.args[0], c.args[1]))
    return Outcome.of(await r.intake.start(i.sender, c.args[0] if c.args else None))


async def _claim(r: Router, i: Inbound, c: Call) -> Outcome:
    args = [*c.args, "", ""]
    return Outcome.of(await r.casework.claim(i.sender, args[0], args[1]))


async def _record(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.casework.record(i.sender, c.rest))


async def _settings(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.casework.settings(i.sender, c.args))


async def _calls(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.casework.call_list(i.sender))


async def _help(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(Message(rt.help_text()))


async def _my(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.intake.my_list(i.sender, 1))


async def _status(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.intake.status(i.sender, " ".join(c.args)))


async def _link(r: Router, i: Inbound, c: Call) -> Outcome:
    from services.people import link

    if c.args:
        return Outcome.of(await link.redeem(r.ctx, i.sender, c.rest))
    return Outcome.of(await link.start_link(r.ctx, i.sender))


async def _bind_staff(r: Router, i: Inbound, c: Call) -> Outcome:
    if not i.is_group:
        return Outcome.of(Message(sst.bind_only_group()))
    code = c.args[0] if c.args else None
    return Outcome.of(await r.casework.bind_staff_chat(i.sender, i.chat, code))


async def _add_staff(r: Router, i: Inbound, c: Call) -> Outcome:
    arg = " ".join(c.args)
    numeric = arg.isascii() and arg.isdigit()
    target = i.reply_to.external_id if i.reply_to else (arg if numeric else None)
    name = None if target is not None else (arg or None)
    return Outcome.of(await r.casework.add_staff(i.sender, target, name))


async def _invite(r: Router, i: Inbound, c: Call) -> Outcome:
    unit = " ".join(c.args) or None
    return Outcome.of(await r.casework.create_invite(i.sender, unit, None))


async def _join(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.casework.join(i.sender, " ".join(c.args)))


async def _group_add(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.casework.add_unit(i.sender, UnitKind.GROUP, " ".join(c.args)))


async def _dept_add(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.casework.add_unit(i.sender, UnitKind.DEPARTMENT, " ".join(c.args)))


async def _units(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.casework.list_units(i.sender))


async def _duty(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.casework.duty(i.sender, c.rest))


async def _bind(r: Router, i: Inbound, c: Call) -> Outcome:
    if not i.is_group:
        return Outcome.of(Message(sst.bind_unit_only_group()))
    name = " ".join(c.args)
    if not name:
        return Outcome.of(Message(sst.bind_unit_usage()))
    return Outcome.of(await r.casework.bind_unit_chat(i.sender, i.chat, name))


async def _tasks(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.casework.my_tasks(i.sender))


async def _stats(r: Router, i: Inbound, c: Call) -> Outcome:
    report = await r.reports.stats(i.sender, " ".join(c.args), i.chat)
    return Outcome.of(report.reply, r.chart(report.chart))


async def _briefing(r: Router, i: Inbound, c: Call) -> Outcome:
    report = await r.reports.briefing(i.sender, " ".join(c.args), i.chat)
    return Outcome.of(report.reply, r.chart(report.chart))


async def _export(r: Router, i: Inbound, c: Call) -> Outcome:
    from domain.message import FileRef

    result = await r.ledger.export(i.sender, " ".join(c.args), i.chat)
    if result.data is None:
        return Outcome.of(result.reply)
    doc = FileRef("document", result.filename or "ledger.xlsx")
    return Outcome.of(Message(result.reply.text, file=doc, data=result.data))


async def _meeting(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.meetings.create(i.sender, c.rest))


async def _meetings(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.meetings.list(i.sender))


def _number(raw: str) -> int | None:
    """A row id as typed ("12", "#12"): ASCII digits only ("²" and "١" are digits to
    str.isdigit()), and within the database's 32-bit ids."""
    raw = raw.lstrip("#")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    number = int(raw)
    return number if number <= MAX_ID else None


MAX_ID = 2**31 - 1


async def _meeting_edit(r: Router, i: Inbound, c: Call) -> Outcome:
    parts = c.rest.split(maxsplit=2)
    number = _number(parts[0]) if len(parts) == 3 else None
    if number is None:
        return Outcome.of(Message(tm.edit_usage()))
    return Outcome.of(await r.meetings.edit(i.sender, number, parts[1], parts[2]))


async def _meeting_cancel(r: Router, i: Inbound, c: Call) -> Outcome:
    number = _number(c.rest.strip())
    if number is None:
        return Outcome.of(Message(tm.edit_usage()))
    return Outcome.of(await r.meetings.cancel(i.sender, number))


async def _notify(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.meetings.announce(i.sender, c.rest))


async def _subscribe(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.meetings.subscribe(i.sender, True))


async def _unsubscribe(r: Router, i: Inbound, c: Call) -> Outcome:
    return Outcome.of(await r.meetings.subscribe(i.sender, False))


async def _unreached(r: Router, i: Inbound, c: Call) -> Outcome:
    from services.kernel.held import unreached

    return Outcome.of(await unreached(r.ctx, i.sender))


COMMANDS: dict[str, tuple[Where, Handler]] = {
    "start": (Where.PRIVATE, _start),
    "help": (Where.PRIVATE, _help),
    "my": (Where.PRIVATE, _my),
    "status": (Where.PRIVATE, _status),
    "link": (Where.PRIVATE, _link),
    "bind_staff": (Where.ANY, _bind_staff),
    "add_staff": (Where.ANY, _add_staff),
    "invite": (Where.ANY, _invite),
    "join": (Where.PRIVATE, _join),
    "group_add": (Where.ANY, _group_add),
    "dept_add": (Where.ANY, _dept_add),
    "units": (Where.ANY, _units),
    "duty": (Where.ANY, _duty),
    "bind": (Where.ANY, _bind),
    "tasks": (Where.ANY, _tasks),
    "stats": (Where.ANY, _stats),
    "briefing": (Where.ANY, _briefing),
    "export": (Where.ANY, _export),
    "meeting": (Where.ANY, _meeting),
    "meetings": (Where.ANY, _meetings),
    "meeting_edit": (Where.ANY, _meeting_edit),
    "meeting_cancel": (Where.ANY, _meeting_cancel),
    "notify": (Where.ANY, _notify),
    "subscribe": (Where.PRIVATE, _subscribe),
    "unsubscribe": (Where.PRIVATE, _unsubscribe),
    "record": (Where.ANY, _record),
    "calls": (Where.ANY, _calls),
    "claim": (Where.PRIVATE, _claim),
    "settings": (Where.ANY, _settings),
    "unreached": (Where.ANY, _unreached),
}
