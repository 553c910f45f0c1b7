"""Run the fake WeChat platform by hand: ``python -m tests.fakewechat --bot-url URL``.

Point the bot at the printed API base URL (``WECHAT_BASE_URL``) with the printed AppID, secret,
token and key, give the fake the bot's push URL, then type lines to send them as a resident.
Lines starting with ``!`` are actions: ``!follow [scene]``, ``!unfollow``, ``!click KEY``,
``!image``, ``!voice [text]``, ``!location LAT LNG``, ``!advance SECONDS``, ``!expire-token``.
Everything the resident receives (passive replies, customer-service and template messages) is
printed.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Coroutine
from typing import Any

from .server import (
    DEFAULT_AES_KEY,
    DEFAULT_APP_ID,
    DEFAULT_SECRET,
    DEFAULT_TOKEN,
    FakeWeChat,
    PushResult,
)


def _show(fake: FakeWeChat, openid: str, since: int) -> int:
    for d in fake.deliveries(openid):
        if d.seq > since:
            body = d.text if d.kind != "image" else f"[image {d.media_id}]"
            print(f"[{d.channel}] {body}", flush=True)
            since = d.seq
    return since


def _action(fake: FakeWeChat, openid: str, line: str) -> Coroutine[Any, Any, PushResult] | None:
    words = line[1:].split()
    if not words:
        return None
    name, args = words[0], words[1:]
    if name == "follow":
        return fake.follow(openid, args[0] if args else None)
    if name == "unfollow":
        return fake.unfollow(openid)
    if name == "click" and args:
        return fake.click(openid, args[0])
    if name == "image":
        return fake.send_image(openid)
    if name == "voice":
        return fake.send_voice(openid, " ".join(args) or None)
    if name == "location" and len(args) >= 2:
        return fake.send_location(openid, float(args[0]), float(args[1]))
    if name == "advance" and args:
        fake.advance(float(args[0]))
    elif name == "expire-token":
        fake.expire_tokens()
    else:
        print(f"unknown action {line!r}", file=sys.stderr)
    return None


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin closes or Ctrl-C, relaying lines as one resident's messages."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakewechat", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--bot-url", default="http://127.0.0.1:8080/wechat")
    parser.add_argument("--mode", choices=["plain", "compatible", "safe"], default="safe")
    parser.add_argument("--openid", default="oResidentFromTheFakeWeChat00")
    parser.add_argument("--exit-on-eof", action="store_true", help="stop when stdin closes")
    args = parser.parse_args(argv)

    fake = FakeWeChat(mode=args.mode, bot_url=args.bot_url, host=args.host, port=args.port)
    fake.start()
    openid = fake.add_user(args.openid, "测试居民")
    print(f"WECHAT_BASE_URL={fake.api_base_url}", flush=True)
    print(f"WECHAT_APP_ID={DEFAULT_APP_ID}", flush=True)
    print(f"WECHAT_APP_SECRET={DEFAULT_SECRET}", flush=True)
    print(f"WECHAT_TOKEN={DEFAULT_TOKEN}", flush=True)
    if args.mode != "plain":
        print(f"WECHAT_AES_KEY={DEFAULT_AES_KEY}", flush=True)
        print(f"WECHAT_MODE={args.mode}", flush=True)
    print(
        f"pushing to {args.bot_url} as {openid}; type a line to send it, Ctrl-C stops", flush=True
    )
    seen = 0
    try:
        for raw in sys.stdin:
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            action = (
                _action(fake, openid, line)
                if line.startswith("!")
                else fake.send_text(openid, line)
            )
            if action is not None:
                try:
                    push = fake.run(action)
                except Exception as exc:  # the bot is down, say so and go on
                    print(f"push failed: {exc!r}", file=sys.stderr, flush=True)
                else:
                    if push.shown_error:
                        print(
                            f"[wechat] 该公众号暂时无法提供服务，请稍后再试 ({push.error or push.outcome})",
                            flush=True,
                        )
            seen = _show(fake, openid, seen)
        if not args.exit_on_eof:
            threading.Event().wait()  # stdin closed: keep serving the API
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
