"""Run the fake Bot API by hand: ``python -m tests.fakebot --port 8081``.

Point the bot at the printed base URL (``TELEGRAM_BASE_URL``), then type lines to send them as a
user; the bot's replies are printed. ``!press <message_id> <callback_data>`` presses a button.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from .server import DEFAULT_TOKEN, FakeBotApi, FloodLimits


def _show(record: dict[str, Any]) -> None:
    """Print what the bot did, one line per message."""
    state = "deleted" if record["deleted"] else ("edited" if record["edits"] else "sent")
    buttons = [
        b.get("text")
        for row in (record.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]
    extra = f"  buttons={buttons}" if buttons else ""
    print(
        f"[bot {state} chat={record['chat_id']} #{record['message_id']}] {record['text']}{extra}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C, relaying stdin lines as messages from one user."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakebot", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--user-id", type=int, default=1001, help="who stdin lines come from")
    parser.add_argument("--user-name", default="测试用户")
    parser.add_argument("--flood", action="store_true", help="enforce Telegram's flood limits")
    parser.add_argument("--quiet", action="store_true", help="do not echo the bot's messages")
    args = parser.parse_args(argv)

    fake = FakeBotApi(
        args.token,
        host=args.host,
        port=args.port,
        flood=FloodLimits.telegram() if args.flood else None,
    )
    fake.add_user(args.user_id, args.user_name)
    if not args.quiet:
        fake.add_listener(_show)
    fake.start()
    print(f"base_url      {fake.base_url}", flush=True)
    print(f"base_file_url {fake.base_file_url}", flush=True)
    print(f"token         {fake.token}", flush=True)
    print(f"type a line to send it as user {args.user_id}; Ctrl-C stops", flush=True)
    try:
        for line in sys.stdin:
            text = line.rstrip("\n")
            if text.startswith("!press "):
                _, message_id, data = text.split(maxsplit=2)
                fake.press(args.user_id, int(message_id), data, check=False)
            elif text.strip():
                fake.send_text(args.user_id, text)
        threading.Event().wait()  # stdin closed: keep serving
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
