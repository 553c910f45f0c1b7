"""The WeChat channel on the real services and database (both engines): the shared token in
the database, answers given once, the adapter's handling of pushes, and the CLI (menu, QR code,
media) against the fake platform."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.wechat import read_config
from domain.channels import Address, Channel
from domain.clock import ManualClock, SystemClock
from domain.message import Message, Rich
from handlers.wechat import messages as wx
from handlers.wechat.api import WeChatApi
from handlers.wechat.inbound import WeChatInbound, payload_of
from handlers.wechat.shared_tokens import SharedTokenStore
from services.inbound.router import Router
from services.kernel import replies
from services.kernel.context import ServiceContext
from services.kernel.inbox import Inbox
from storage.access_tokens import AccessTokenTable
from storage.models import Attachment, Opinion, Outbox
from tests.botproc import ROOT
from tests.fakewechat import FakeWeChat
from tests.fakewechat.harness import Recorder, running_endpoint
from tests.test_wechat_api import decode_png
from tests.wechatproc import wechat_env

OPINION = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"


async def test_one_token_for_every_instance_in_the_database(ctx: ServiceContext) -> None:
    async with FakeWeChat() as fake:
        config = read_config(wechat_env(fake, 1, templates=False))
        assert config is not None
        table = AccessTokenTable(ctx.sessions)
        apis = [
            WeChatApi(config, SharedTokenStore(table), clock=SystemClock(), holder=f"i{n}")
            for n in range(3)
        ]
        try:
            tokens = await asyncio.gather(*(api.access_token() for api in apis))
            assert len(set(tokens)) == 1
            assert sum(api.tokens.fetches for api in apis) == 1
            assert (await table.load(config.app_id)) is not None
            # WeChat calls it invalid: one instance renews, the others take the new one.
            fake.invalidate_tokens()
            renewed = await apis[0].tokens.renew(tokens[0])
            assert renewed != tokens[0] and await apis[1].access_token() == renewed
        finally:
            for api in apis:
                await api.close()


async def test_an_answer_goes_one_road(ctx: ServiceContext) -> None:
    chat = Address(Channel.WECHAT, "oResident")
    assert await replies.claim(ctx, chat, "1", replies.DIRECT)
    assert await replies.claim(ctx, chat, "1", replies.DIRECT)  # a re-delivery: answer again
    assert not await replies.claim(ctx, chat, "1", replies.LATE)
    await replies.reroute_late(ctx, chat, "1")  # the direct answer missed WeChat's 5 seconds
    assert not await replies.claim(ctx, chat, "1", replies.DIRECT)
    assert await replies.claim(ctx, chat, "2", replies.LATE)
    assert not await replies.claim(ctx, chat, "2", replies.DIRECT)
    # The second answer went by the outbox after a passive first; then the passive one turned
    # out lost and the whole answer goes late: the first is added, nothing is doubled.
    answer = [Message(Rich.plain_text("回执")), Message(Rich.plain_text("第二条"))]
    now = ctx.clock.now()
    await replies.send_later(ctx, chat, "3", answer[1:], now, first=1)
    await replies.send_later(ctx, chat, "3", answer, now)
    async with ctx.sessions() as s:
        owed = (await s.execute(select(Outbox).order_by(Outbox.key))).scalars().all()
    assert [(o.key, o.plain) for o in owed] == [
        ("reply:wechat:oResident:3:0", "回执"),
        ("reply:wechat:oResident:3:1", "第二条"),
    ]


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_pushes_through_the_core_and_the_cli(
    ctx: ServiceContext, db_url: str, tmp_path: Path
) -> None:
    async with FakeWeChat(mode="safe") as fake:
        env = wechat_env(fake, 1, templates=False)
        config = read_config(env)
        assert config is not None
        inbound = WeChatInbound(ctx, Router.build(ctx), reply_deadline=config.reply_deadline)
        async with running_endpoint(config, inbound.handle, on_late=inbound.on_late) as url:
            fake.bot_url = url
            openid = fake.add_user()
            receipt = await fake.send_text(openid, OPINION)
            assert receipt.reply is not None and "受理编号" in receipt.reply.text
            photo = await fake.send_image(openid)
            voice = await fake.send_voice(openid, recognition="还有楼道灯也坏了")
            place = await fake.send_location(openid, 31.23, 121.47, "幸福小区东门")
            for push in (photo, voice, place):
                assert push.reply is not None and "LL-" in push.reply.text
            scanned = await fake.scan_scene(openid, "default")  # a follower scans the poster
            assert scanned.reply is not None and "已为您绑定" in scanned.reply.text
            status = await fake.click(openid, "STATUS")
            assert status.reply is not None and "查询进度" in status.reply.text
            assert (await fake.send_text(openid, "   ")).reply is not None
        async with ctx.sessions() as s:
            kinds = (
                await s.execute(
                    select(Attachment.kind, Attachment.file_id, Attachment.text).order_by(
                        Attachment.id
                    )
                )
            ).all()
            ref = (await s.execute(select(Opinion.ref_no))).scalar_one()
        assert [k for k, _, _ in kinds] == ["photo", "voice", "location"]
        assert kinds[1][2] == "还有楼道灯也坏了"

        env = {**env, "DATABASE_URL": db_url, "DATA_DIR": str(tmp_path / "data")}
        code, out, err = await run_cli(env, "wechat", "menu")
        assert code == 0 and "菜单" in out, err
        menu = fake.menu
        assert menu is not None and [b["name"] for b in menu["button"]] == [
            "提意见",
            "我的意见",
            "使用帮助",
        ]
        png = tmp_path / "qr.png"
        code, out, err = await run_cli(env, "wechat", "qrcode", "default", "--out", str(png))
        assert code == 0 and png.exists(), err
        assert decode_png(png.read_bytes())[0] > 100
        code, _, err = await run_cli(env, "wechat", "qrcode", "nowhere")
        assert code == 1 and "nowhere" in err
        assert fake.calls("media/get") == []  # nothing downloaded until staff ask
        code, out, err = await run_cli(env, "wechat", "media", ref, "--out", str(tmp_path / "m"))
        assert code == 0 and "2 个文件" in out, err
        assert len(list((tmp_path / "m").iterdir())) == 2


def test_access_tokens_migration_goes_down_and_up(db_url: str) -> None:
    from alembic import command

    from storage.migrate import alembic_config, upgrade
    from tests.test_migrations import schema_diff

    command.downgrade(alembic_config(db_url), "0005")
    assert any(getattr(d, "name", None) == "access_tokens" for d in _added(schema_diff(db_url)))
    upgrade(db_url)
    assert schema_diff(db_url) == []


def _added(diff: list[object]) -> list[object]:
    """The tables the models have and the database lacks (alembic's ("add_table", Table))."""
    return [d[1] for d in diff if isinstance(d, tuple) and d and d[0] == "add_table"]


async def test_a_push_left_by_a_dead_process_is_answered_once(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    openid = "oDeadProcessResident0000000"
    push = wx.TextMessage(
        to_user="gh_1234567890ab",
        from_user=openid,
        create_time=int(time.time()),
        msg_id="77",
        content=OPINION,
    )
    # Stored by a process that died before it answered (kill -9 within the 5 seconds).
    dead = Inbox(ctx, Channel.WECHAT, owner="dead", lease=timedelta(seconds=30))
    assert await dead.store(push.idempotency_key, payload_of(push))
    alive = WeChatInbound(
        ctx, Router.build(ctx), reply_deadline=4.0, inbox=Inbox(ctx, Channel.WECHAT, owner="up")
    )
    assert await alive.recover() == 0  # still leased to the dead process
    clock.advance(timedelta(seconds=31))
    assert await alive.recover() == 1
    async with ctx.sessions() as s:
        owed = (await s.execute(select(Outbox).where(Outbox.chat_id == openid))).scalars().all()
        assert [o.key for o in owed] == [f"reply:wechat:{openid}:77:0"]
        assert "受理编号" in owed[0].plain
    # WeChat's retry of the same push: stored once, no second receipt, no second opinion.
    assert await alive.handle(push) is None
    assert await alive.recover() == 0
    async with ctx.sessions() as s:
        assert (await s.execute(select(func.count(Opinion.id)))).scalar_one() == 1
        assert (await s.execute(select(func.count(Outbox.id)))).scalar_one() >= 1
        receipts = (
            await s.execute(select(Outbox.key).where(Outbox.key.like(f"reply:wechat:{openid}:%")))
        ).all()
        assert len(receipts) == 1


async def test_outbound_window_template_and_hold() -> None:
    from zoneinfo import ZoneInfo

    from domain.message import Action, Message, t
    from handlers.wechat.outbound import WeChatOutbound
    from handlers.wechat.tokens import MemoryTokenStore
    from scheduler.delivery import Delivered, Held, Undeliverable

    async with FakeWeChat() as fake:
        plain_env = wechat_env(fake, 1, templates=False)
        with_template = read_config(wechat_env(fake, 1))
        without = read_config(plain_env)
        assert with_template is not None and without is not None
        tz = ZoneInfo("Asia/Shanghai")
        store = MemoryTokenStore()
        pointer = WeChatOutbound(WeChatApi(with_template, store), tz)
        holder = WeChatOutbound(WeChatApi(without, store), tz)
        openid = fake.add_user()
        recorder = Recorder()
        async with running_endpoint(without, recorder) as url:
            fake.bot_url = url
            await fake.send_text(openid, "你好")  # opens the 48-hour window
        to = Address(Channel.WECHAT, openid)
        rating = Message(
            t("🏁 <code>{ref}</code> 已办结。\n请评价：", ref="LL-2026-00042"),
            ((Action("😊 满意", "p1"), Action("😞 不满意", "p2")),),
        )
        long = Message(t("{x}", x="很长的办理结果。" * 300))
        try:
            assert isinstance(await holder.send(to, rating), Delivered)
            assert isinstance(await holder.send(to, long), Delivered)
            texts = [d.text for d in fake.deliveries(openid, "custom")]
            assert "回复 2\u3000😞 不满意" in texts[0]
            assert len(texts) == 1 + 4 and all(len(x.encode()) <= 2048 for x in texts)
            fake.advance(49 * 3600.0)
            held = await holder.send(to, rating)
            assert isinstance(held, Held) and not held.notified and "45015" in held.reason
            noted = await pointer.send(to, rating)
            assert isinstance(noted, Held) and noted.notified
            sent = fake.deliveries(openid, "template")[-1]
            assert "LL-2026-00042" in sent.text and "已办结" in sent.text
            async with running_endpoint(without, recorder) as url:
                fake.bot_url = url
                await fake.unfollow(openid)
            assert isinstance(await pointer.send(to, rating), Undeliverable)
            assert isinstance(await holder.send(to, rating), Held)  # kept for a refollow
        finally:
            await pointer.api.close()
            await holder.api.close()
