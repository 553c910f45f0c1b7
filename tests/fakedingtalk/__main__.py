"""Run the fake DingTalk by hand: ``python -m tests.fakedingtalk --port 8082``.

Point the bot at the printed URLs (DINGTALK_API_BASE_URL, DINGTALK_OAPI_BASE_URL; the
gateway URL is derived), then type lines to send them to the robot as one user in a
one-to-one chat; ``!group 文字`` says it in the demo group (@-mentioning the robot) and
``!press <outTrackId> <payload>`` presses a card button. What the bot sends is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeDingTalk, FakeLimits

GROUP = "cidDemoGroup=="


def _show(record: dict[str, Any]) -> None:
    if record["api"] == "card":
        data = record["data"]
        body = f"[card {record['outTrackId']}] {data.get('markdown', '')} buttons={data.get('buttons')}"
    elif record["api"] == "customRobot":
        body = json.dumps(record["body"], ensure_ascii=False)
    else:
        body = f"{record['msgKey']} {json.dumps(record['params'], ensure_ascii=False)}"
    print(f"[bot → {record['conversation']}] {body}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakedingtalk", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--user", default="staff01", help="staff id stdin lines come from")
    parser.add_argument("--nick", default="测试用户")
    parser.add_argument("--no-limits", action="store_true", help="do not enforce rate limits")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    limits = FakeLimits(api_qps=None, custom_robot_per_minute=None) if args.no_limits else None
    fake = FakeDingTalk(
        args.client_id, args.client_secret, host=args.host, port=args.port, limits=limits
    )
    fake.add_user(args.user, args.nick, is_admin=True)
    fake.add_group(GROUP, "演示群", (args.user,))
    if not args.quiet:
        fake.add_listener(_show)
    fake.start()
    webhook = fake.add_custom_robot("演示群", secret="SECdemo")
    print(f"DINGTALK_API_BASE_URL   {fake.url}", flush=True)
    print(f"DINGTALK_OAPI_BASE_URL  {fake.url}", flush=True)
    print(f"gateway                 {fake.gateway_url}", flush=True)
    print(f"DINGTALK_CLIENT_ID      {args.client_id}", flush=True)
    print(f"DINGTALK_CLIENT_SECRET  {args.client_secret}", flush=True)
    print(f"DINGTALK_WEBHOOKS       演示群={webhook}|SECdemo", flush=True)
    print(f"type a line to send it as {args.user}; Ctrl-C stops", flush=True)
    try:
        for line in sys.stdin:
            text = line.rstrip("\n")
            if text.startswith("!press "):
                _, otid, payload = text.split(maxsplit=2)
                fake.press(args.user, otid, payload)
            elif text.startswith("!group "):
                fake.send_text(args.user, text[7:], group=GROUP)
            elif text.strip():
                fake.send_text(args.user, text)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
