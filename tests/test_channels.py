"""Channel-neutral messages, renderers, numbered replies, identities on two channels, signed
actions and per-channel pacing, through the real services on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from domain.channels import Address, Channel, Sender
from domain.clock import ManualClock
from domain.message import Action, Message, Rich, t
from handlers.plain import render as render_plain
from handlers.telegram.render import render_html
from scheduler.delivery import ChannelLimits, Delivered, DeliveryResult
from scheduler.dispatcher import Dispatcher
from scheduler.pacing import ChatPacer
from services.inbound.router import Router
from services.inbound.types import Inbound
from services.kernel.context import ServiceContext
from storage.models import Identity, Opinion, Outbox, Task, User
from tests.support import bind_staff, chat, code_in, tg, user_id_of
from texts import staff as st

ADMIN = tg(900, "站长")
STAFF = tg(901, "小张")
REP = tg(500, "刘代表")
STAFF_CHAT = -1001
TEXT = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"


def wechat(openid: str, name: str = "微信居民") -> Sender:
    return Sender(Channel.WECHAT, openid, name)


class Recorder:
    """A channel at the delivery boundary: renders as its platform would and records it."""

    def __init__(self, channel: Channel, *, buttons: bool, limits: ChannelLimits) -> None:
        self.channel = channel
        self.buttons = buttons
        self.limits = limits
        self.sent: list[tuple[Address, str]] = []

    def is_group(self, to: Address) -> bool:
        return to.id.startswith("-") or to.id.startswith("group")

    async def send(self, to: Address, message: Message) -> DeliveryResult:
        text = render_html(message.text) if self.buttons else render_plain(message)
        self.sent.append((to, text))
        return Delivered(f"m{len(self.sent)}")

    def texts(self, to: Address) -> list[str]:
        return [text for addr, text in self.sent if addr == to]


FAST = ChannelLimits(overall_per_second=1000.0, group_per_minute=1000, private_per_second=1000)


def inbound(
    sender: Sender, msg_id: str, *, numbered: bool = False, group: int | None = None
) -> Inbound:
    where = chat(group) if group is not None else sender.private_chat
    return Inbound(
        sender=sender,
        chat=where,
        message_id=msg_id,
        is_group=group is not None,
        addressed=group is not None,
        buttons=not numbered,
        words_as_commands=numbered,
    )


# ---- messages and renderers ---------------------------------------------------------------------


def test_template_values_are_text_never_markup() -> None:
    hostile = "<b>&amp;</b> {x}"
    rich = t("你好 <b>{name}</b>，编号 <code>{ref}</code>", name=hostile, ref="LL-1")
    assert render_html(rich) == (
        "你好 <b>&lt;b&gt;&amp;amp;&lt;/b&gt; {x}</b>，编号 <code>LL-1</code>"
    )
    assert rich.plain == f"你好 {hostile}，编号 LL-1"
    assert Rich.from_json(rich.to_json()) == rich


def test_plain_renderer_numbers_the_choices() -> None:
    message = Message(
        t("请评价：<b>{x}</b>", x="<i>"),
        ((Action("满意", "a"), Action("基本满意", "b")), (Action("不满意", "c"),)),
    )
    assert render_plain(message) == "请评价：<i>\n\n回复 1 满意\n回复 2 基本满意\n回复 3 不满意"


def test_hostile_staff_name_is_escaped_in_every_card() -> None:
    refusal = st.already_handled("LL-2026-00001", "assigned", "<b>&坏人", None)
    assert "<b>" not in render_html(refusal.__class__(refusal.spans))
    card = st.new_opinion("LL-1", "分类", 0.5, ["<x>"], False, "正文&", "<script>", "u<", False)
    html = render_html(card)
    assert "<script>" not in html and "&lt;script&gt;" in html and "正文&amp;" in html


def test_admin_ids_name_identities_on_every_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "123, dingtalk:abc,wechat:o-x_Y")
    ids = Settings().admin_ids
    assert ids == {("telegram", "123"), ("dingtalk", "abc"), ("wechat", "o-x_Y")}
    monkeypatch.setenv("ADMIN_IDS", "notanumber")
    with pytest.raises(ValueError):
        Settings()


# ---- numbered replies through the services ------------------------------------------------------


async def _closed_case(ctx: ServiceContext, router: Router, resident: Sender) -> Task:
    """A WeChat resident's opinion, assigned by Telegram staff to a representative, closed."""
    cw = router.casework
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    invite = await cw.create_invite(ADMIN, None, None)
    await cw.join(REP, code_in(invite))
    receipt = await router.text(inbound(resident, "w1", numbered=True), TEXT)
    assert "受理编号" in receipt.messages[0].plain
    async with ctx.sessions() as s:
        op = (await s.execute(select(Opinion))).scalar_one()
    rep_id = await user_id_of(ctx, REP)
    await cw.triage_button(ADMIN, "dl", (op.id, 1, rep_id, 15))
    async with ctx.sessions() as s:
        task = (await s.execute(select(Task))).scalar_one()
    await cw.task_button(REP, "ack", (task.id,))
    await cw.task_button(REP, "clo", (task.id, 1))
    done = await cw.pending_text(REP, chat(REP.external_id), "r1", "助餐点已开业")
    assert done is not None and "办结" in done.plain
    return task


async def test_resident_on_a_numbered_channel_rates_by_replying_3(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    router = Router.build(ctx)
    resident = wechat("o-wang")
    await _closed_case(ctx, router, resident)
    wx = Recorder(Channel.WECHAT, buttons=False, limits=FAST)
    telegram = Recorder(Channel.TELEGRAM, buttons=True, limits=FAST)
    await Dispatcher(ctx, [wx, telegram]).tick()
    asked = wx.texts(resident.private_chat)[-1]
    assert "已办结" in asked and "回复 3 😞 不满意" in asked
    # A reply "3" (full-width, with spaces) is the third choice of that question: 不满意.
    clock.advance(timedelta(minutes=5))
    reply = await router.text(inbound(resident, "w2", numbered=True), " ３ ")
    texts = [m.plain for m in reply.messages]
    assert any("您的评价：😞 不满意" in x for x in texts), texts
    assert any("很抱歉没有让您满意" in x for x in texts), texts
    async with ctx.sessions() as s:
        op = (await s.execute(select(Opinion))).scalar_one()
    assert (op.status, op.reopen_count) == ("reopened", 1)
    # The same message delivered again answers the same and changes nothing.
    again = await router.text(inbound(resident, "w2", numbered=True), " ３ ")
    assert again.messages[0].plain == reply.messages[0].plain
    # Their comment is taken as the answer to the prompt, not as a new opinion.
    comment = await router.text(inbound(resident, "w3", numbered=True), "饭菜太贵了，希望降价")
    assert "转告工作人员" in comment.messages[0].plain
    async with ctx.sessions() as s:
        assert (await s.execute(select(func.count(Opinion.id)))).scalar_one() == 1


async def test_a_reply_to_an_older_question_is_never_taken_for_the_newer_one(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    router = Router.build(ctx)
    resident = wechat("o-li")
    await _closed_case(ctx, router, resident)
    wx = Recorder(Channel.WECHAT, buttons=False, limits=FAST)
    written = clock.now()  # the resident typed "1" before the question reached them
    clock.advance(timedelta(seconds=30))
    await Dispatcher(ctx, [wx, Recorder(Channel.TELEGRAM, buttons=True, limits=FAST)]).tick()
    late = Inbound(
        sender=resident,
        chat=resident.private_chat,
        message_id="w9",
        buttons=False,
        sent_at=written,
    )
    answer = await router.text(late, "1")
    assert "问题已更新" in answer.messages[0].plain
    async with ctx.sessions() as s:
        assert (await s.execute(select(Opinion.status))).scalar_one() == "closed"
    unknown = await router.text(inbound(resident, "w10", numbered=True), "7")
    assert "没有待回复的选项" in unknown.messages[0].plain


# ---- signed actions through the router ------------------------------------------------------------


async def test_forged_and_tampered_actions_change_nothing(ctx: ServiceContext) -> None:
    router = Router.build(ctx)
    resident = tg(101, "王阿姨")
    receipt = await router.text(inbound(resident, "1"), TEXT)
    withdraw = receipt.messages[0].actions[-1][0].payload
    body, _, sig = withdraw.partition(".")
    neighbour = tg(102, "李大爷")
    refused = await router.press(inbound(neighbour, "x"), withdraw)  # genuine, not theirs
    assert refused.alert and "权限" in (refused.toast or "")
    forged = await router.press(inbound(resident, "x"), body + ".AAAAAAAAAAA")
    assert forged.alert and "权限" in (forged.toast or "")
    other_id = body.rsplit(":", 1)[0] + ":99"
    tampered = await router.press(inbound(resident, "x"), f"{other_id}.{sig}")
    assert tampered.alert and "权限" in (tampered.toast or "")
    async with ctx.sessions() as s:
        assert (await s.execute(select(Opinion.status))).scalar_one() == "received"
    done = await router.press(inbound(resident, "x"), withdraw)
    assert done.prompt is not None and "已撤回" in done.prompt.plain


# ---- one person on two channels -------------------------------------------------------------------


async def test_link_joins_a_new_channel_to_the_same_person(ctx: ServiceContext) -> None:
    router = Router.build(ctx)
    resident = tg(101, "王阿姨")
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    await router.text(inbound(resident, "1"), TEXT)
    given = await router.text(inbound(resident, "2"), "/link")
    code = code_in(given.messages[0])
    phone = wechat("o-wang")
    wrong_place = await router.text(inbound(tg(777), "3"), f"/link {code}")
    assert "绑定码无效" not in wrong_place.messages[0].plain  # a valid code, but…
    done = await router.text(inbound(phone, "w1", numbered=True), f"绑定账号 {code}")
    assert "绑定成功" in done.messages[0].plain
    assert await user_id_of(ctx, phone) == await user_id_of(ctx, resident)
    async with ctx.sessions() as s:
        persons = (await s.execute(select(func.count(User.id)))).scalar_one()
        identities = (await s.execute(select(func.count(Identity.id)))).scalar_one()
    assert identities == 4  # 站长, 王阿姨 on both channels, tg 777
    mine = await router.text(inbound(phone, "w2", numbered=True), "我的意见")
    assert "共 1 条" in mine.messages[0].plain
    reused = await router.text(inbound(wechat("o-other"), "w3", numbered=True), f"绑定账号 {code}")
    assert "无效" in reused.messages[0].plain
    assert persons >= 2  # tg 777 who pressed the code on the wrong channel stays separate


async def test_link_refuses_two_histories_and_guessing(ctx: ServiceContext) -> None:
    router = Router.build(ctx)
    a, b = tg(101, "甲"), wechat("o-b", "乙")
    await router.text(inbound(a, "1"), TEXT)
    await router.text(inbound(b, "w1", numbered=True), TEXT + "二")
    code = code_in((await router.text(inbound(a, "2"), "/link")).messages[0])
    refused = await router.text(inbound(b, "w2", numbered=True), f"绑定账号 {code}")
    assert "都已有" in refused.messages[0].plain
    same = await router.text(inbound(tg(102), "3"), f"/link {code}")
    assert "另一个渠道" in same.messages[0].plain
    guesser = wechat("o-guess")
    for n in range(5):
        wrong = await router.text(inbound(guesser, f"g{n}", numbered=True), "绑定账号 00000000")
        assert "无效" in wrong.messages[0].plain
    stopped = await router.text(inbound(guesser, "g9", numbered=True), f"绑定账号 {code}")
    assert "次数太多" in stopped.messages[0].plain


# ---- per-channel pacing ------------------------------------------------------------------------------


def test_each_channel_paces_with_its_own_limits() -> None:
    now = [0.0]
    telegram = ChatPacer(20, 1, 30.0, clock=lambda: now[0])
    dingtalk = ChatPacer(5, 2, 10.0, clock=lambda: now[0])
    group = Address(Channel.TELEGRAM, "-1")
    ding_group = Address(Channel.DINGTALK, "cid1")
    for _ in range(5):
        telegram.record(group)
        dingtalk.record(ding_group)
    assert telegram.delay(group, True) == 0.0  # 5 of 20 a minute
    assert dingtalk.delay(ding_group, True) == pytest.approx(60.0)  # 5 of 5 a minute
    person = Address(Channel.DINGTALK, "user1")
    dingtalk.record(person)
    assert dingtalk.delay(person, False) == 0.0  # 1 of 2 a second
    dingtalk.record(person)
    assert dingtalk.delay(person, False) == pytest.approx(1.0)
    now[0] = 61.0
    assert dingtalk.delay(ding_group, True) == 0.0


async def test_rows_for_an_unconfigured_channel_stay_pending(ctx: ServiceContext) -> None:
    router = Router.build(ctx)
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    await router.text(inbound(wechat("o-1"), "w1", numbered=True), TEXT)
    await router.text(inbound(tg(101), "1"), TEXT + "二")
    await router.casework.triage_button(ADMIN, "ok", (1,))
    telegram = Recorder(Channel.TELEGRAM, buttons=True, limits=FAST)
    dispatcher = Dispatcher(ctx, [telegram])
    await dispatcher.tick()
    async with ctx.sessions() as s:
        rows = dict(
            (
                await s.execute(
                    select(Outbox.channel, func.count(Outbox.id))
                    .where(Outbox.status == "pending")
                    .group_by(Outbox.channel)
                )
            ).all()
        )
    assert telegram.sent and "telegram" not in rows
    assert dispatcher._told == set() or "wechat" in dispatcher._told
