"""`liaison-bot wechat menu | qrcode STATION | media REF`: the official account's set-up and
the residents' files, on demand.

- `menu` installs the custom menu (提意见, 我的意见, 使用帮助 ▸ 查询进度 / 使用说明).
- `qrcode STATION` writes a printable PNG of the station's permanent parametric QR code;
  scanning it binds the resident to the station as `/start STATION` does.
- `media REF` downloads the photos and voice notes WeChat residents attached to an opinion
  (WeChat keeps them 3 days; only their media ids are stored).
Each command migrates the database first (the access token is shared there) and ends with one
plain line; expected problems exit 1, bad settings 2.
"""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import texts.wechat as wt
from bot.settings_cli import load_settings
from bot.wechat import environment, read_config
from domain.clock import SystemClock
from handlers.wechat.api import Media, WeChatApi, WeChatError
from handlers.wechat.config import WeChatConfig
from handlers.wechat.menu import Menu, MenuButton
from handlers.wechat.qr import qr_png
from handlers.wechat.shared_tokens import SharedTokenStore
from handlers.wechat.tokens import TokenError
from storage.access_tokens import AccessTokenTable

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wx = subparsers.add_parser("wechat", help="the WeChat official account: menu, QR codes, media")
    sub = wx.add_subparsers(dest="wechat_command", required=True)
    menu = sub.add_parser("menu", help="install the account's custom menu")
    menu.set_defaults(func=cmd_menu)
    qr = sub.add_parser("qrcode", help="write a station's parametric QR code as a PNG")
    qr.add_argument("station", help="station code (STATION_CODE for the default station)")
    qr.add_argument("--out", type=Path, help="the PNG to write (default: 二维码-STATION.png)")
    qr.add_argument("--scale", type=int, default=10, help="pixels per module (default 10)")
    qr.set_defaults(func=cmd_qrcode)
    media = sub.add_parser("media", help="download the photos and voice notes of an opinion")
    media.add_argument("ref", help="受理编号, e.g. LL-2026-00001")
    media.add_argument("--out", type=Path, default=Path("."), help="folder (default: here)")
    media.set_defaults(func=cmd_media)


def account_menu() -> Menu:
    return Menu(
        (
            MenuButton(wt.MENU_SUBMIT, key="HOWTO"),
            MenuButton(wt.MENU_MINE, key="MY"),
            MenuButton(
                wt.MENU_MORE,
                kind="group",
                children=(
                    MenuButton(wt.MENU_STATUS, key="STATUS"),
                    MenuButton(wt.MENU_HELP, key="HELP"),
                ),
            ),
        )
    )


def _with_api(work: Callable[[WeChatApi, WeChatConfig, str], Awaitable[T]]) -> T | int:
    """Settings, migrated database and an API client sharing the token; exit codes on faults."""
    settings = load_settings()
    try:
        config = read_config(environment())
    except ValueError as exc:
        print(f"微信公众号配置有误 (WeChat settings): {exc}", file=sys.stderr)
        return 2
    if config is None:
        print(
            "没有配置微信公众号：请设置 WECHAT_APP_ID 等 (WECHAT_APP_ID is not set)",
            file=sys.stderr,
        )
        return 2
    settings.ensure_dirs()
    from storage.db import make_engine, make_sessionmaker
    from storage.migrate import upgrade

    upgrade(settings.database_url, timezone=settings.timezone)

    async def run() -> T:
        engine = make_engine(settings.database_url)
        store = SharedTokenStore(AccessTokenTable(make_sessionmaker(engine)))
        api = WeChatApi(config, store, clock=SystemClock())
        try:
            return await work(api, config, settings.database_url)
        finally:
            await api.close()
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (WeChatError, TokenError) as exc:
        print(wt.cli_failed(str(exc)), file=sys.stderr)
        return 1


def cmd_menu(args: argparse.Namespace) -> int:
    async def work(api: WeChatApi, config: WeChatConfig, url: str) -> int:
        await api.create_menu(account_menu())
        print(wt.cli_menu_done())
        return 0

    return int(_with_api(work))


def cmd_qrcode(args: argparse.Namespace) -> int:
    code = str(args.station).strip()
    out = args.out or Path(f"二维码-{code}.png")

    async def work(api: WeChatApi, config: WeChatConfig, url: str) -> int:
        if not await _station_known(url, code):
            print(wt.cli_no_station(code), file=sys.stderr)
            return 1
        ticket = await api.create_qrcode(code)
        out.write_bytes(qr_png(ticket.url, scale=max(1, args.scale)))
        print(wt.cli_qrcode_done(code, str(out)))
        return 0

    return int(_with_api(work))


async def _station_known(url: str, code: str) -> bool:
    settings = load_settings()
    if code == settings.station_code:
        return True  # the default station exists from the first message on
    from sqlalchemy import select

    from storage.db import make_engine, make_sessionmaker
    from storage.models import Station

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            found = await s.execute(select(Station.id).where(Station.code == code))
            return found.first() is not None
    finally:
        await engine.dispose()


def cmd_media(args: argparse.Namespace) -> int:
    async def work(api: WeChatApi, config: WeChatConfig, url: str) -> int:
        ids = await _media_ids(url, str(args.ref).strip().upper())
        if not ids:
            print(wt.cli_no_media(args.ref), file=sys.stderr)
            return 1
        args.out.mkdir(parents=True, exist_ok=True)
        for n, (kind, media_id) in enumerate(ids, 1):
            got = await api.download_media(media_id)
            if not isinstance(got, Media):
                continue
            ext = mimetypes.guess_extension(got.content_type.split(";")[0]) or ".bin"
            name = got.filename or f"{args.ref}-{n}-{kind}{ext}"
            (args.out / Path(name).name).write_bytes(got.content)
        print(wt.cli_media_done(len(ids), str(args.out)))
        return 0

    return int(_with_api(work))


async def _media_ids(url: str, ref: str) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from storage.db import make_engine, make_sessionmaker
    from storage.models import Attachment, Opinion

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            found = await s.execute(
                select(Attachment.kind, Attachment.file_id)
                .join(Opinion, Opinion.id == Attachment.opinion_id)
                .where(
                    Opinion.ref_no == ref,
                    Attachment.src_channel == "wechat",
                    Attachment.file_id.is_not(None),
                )
                .order_by(Attachment.id)
            )
            return [(str(k), str(f)) for k, f in found.all()]
    finally:
        await engine.dispose()
