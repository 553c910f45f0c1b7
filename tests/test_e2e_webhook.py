"""Webhook mode: the real process registers its webhook with a secret token, receives updates
from the (fake) Bot API server by POST, and refuses requests that lack the secret."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.botproc import TOKEN, BotProcess
from tests.fakebot import FakeBotApi
from tests.localhttp import free_port

RESIDENT = 101


def test_webhook_mode_with_secret(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg"
    with FakeBotApi(TOKEN) as fake:
        fake.add_user(RESIDENT, "王阿姨")
        listen = ["--webhook-url", url, "--listen", f"127.0.0.1:{port}"]
        bot = BotProcess(fake.base_url, tmp_path, args=listen).start()
        try:
            info = fake.wait_for(
                lambda: fake.webhook_info().get("url") == url and fake.webhook_info(), timeout=90
            )
            assert isinstance(info, dict) and info["url"] == url
            secret = next(c for c in fake.calls("setWebhook"))["params"].get("secret_token")
            assert secret and re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret)
            # A resident writes: the server POSTs the update to the bot, which answers.
            mark = fake.mark()
            fake.send_text(RESIDENT, "小区路灯坏了一个月，晚上老人出门很危险，希望尽快修好。")
            receipt = fake.wait_for_message(RESIDENT, since=mark, timeout=30)
            assert re.search(r"LL-\d{4}-\d{5}", receipt["text"])
            # Anyone else posting to the webhook without the secret is refused.
            forged = {
                "update_id": 999999,
                "message": {
                    "message_id": 5,
                    "date": int(time.time()),
                    "chat": {"id": RESIDENT, "type": "private"},
                    "from": {"id": RESIDENT, "is_bot": False, "first_name": "冒充"},
                    "text": "伪造的消息应该被拒绝掉",
                },
            }
            req = urllib.request.Request(
                url,
                data=json.dumps(forged).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                urllib.request.urlopen(req, timeout=10)
                status = 200
            except urllib.error.HTTPError as err:
                status = err.code
            assert status == 403
            fake.wait_until_idle(timeout=10)
            assert not any("伪造" in (m.get("text") or "") for m in fake.messages(RESIDENT))
        finally:
            bot.stop()
