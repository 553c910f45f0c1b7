"""`liaison-bot` command line: run, db upgrade, classify/train/evaluate (and more to come)."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from bot.config import Settings
from bot.settings_cli import load_settings


def prepare() -> tuple[Settings, Any] | None:
    """What `run` and `dispatch` share: settings, a checked token, logging, schema, classifier.

    None (after one line on stderr) when the token is missing or malformed, or a configured
    channel's credentials are refused (DingTalk, WeChat).
    """
    settings = load_settings()
    problem = settings.token_problem()
    if problem:
        print(problem, file=sys.stderr)
        return None
    from bot.channels import channels_problem

    problem = channels_problem(settings)
    if problem:
        print(problem, file=sys.stderr)
        return None
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings.ensure_dirs()

    from bot.runtime import load_classifier
    from storage.migrate import upgrade

    upgrade(settings.database_url, timezone=settings.timezone)
    from bot.wechat import credentials_problem, environment

    problem = credentials_problem(settings.database_url, environment())  # needs the schema
    if problem:
        print(problem, file=sys.stderr)
        return None
    classifier = load_classifier(settings)
    # Charts, keyword extraction and ledger files are built in worker threads (asyncio.to_thread):
    # a short GIL switch interval hands the event loop back within 0.5 ms instead of the
    # interpreter's 5 ms, so residents' messages are not held up while a chart renders.
    sys.setswitchinterval(settings.gil_switch_interval)
    return settings, classifier


def cmd_run(args: argparse.Namespace) -> int:
    ready = prepare()
    if ready is None:
        return 2
    settings, classifier = ready
    from telegram import Update

    from bot.app import build
    from domain.clock import clock_from_env

    assembly = build(settings, classifier, clock_from_env())
    if args.webhook_url:
        host, _, port = args.listen.rpartition(":")
        if not host or not port.isdigit():
            print("--listen 应形如 0.0.0.0:8443 (host:port)", file=sys.stderr)
            return 2
        path = urlsplit(args.webhook_url).path.lstrip("/")
        # Every instance behind the load balancer derives the same secret from the token, so
        # they agree without shared state; WEBHOOK_SECRET overrides it.
        secret = settings.webhook_secret or webhook_secret(settings.bot_token)
        from bot.webhook import run_webhook

        run_webhook(
            assembly,
            listen=host,
            port=int(port),
            path=path,
            url=args.webhook_url,
            secret=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        assembly.app.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=True)
    return 0


def webhook_secret(token: str) -> str:
    """A stable secret for X-Telegram-Bot-Api-Secret-Token (Telegram allows [A-Za-z0-9_-])."""
    return hmac.new(token.encode(), b"liaison-bot webhook", hashlib.sha256).hexdigest()


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Run only the clock: reminders and the outbox, no updates (a worker for webhook setups)."""
    import asyncio

    ready = prepare()
    if ready is None:
        return 2
    settings, classifier = ready
    from bot.worker import run_worker
    from domain.clock import clock_from_env

    sent = asyncio.run(
        run_worker(settings, classifier, clock_from_env(), until_idle=args.until_idle)
    )
    print(f"sent {sent}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.ensure_dirs()
    from storage.migrate import upgrade

    upgrade(settings.database_url, args.revision, settings.timezone)
    print(f"数据库已迁移到 {args.revision}: {settings.database_url}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="liaison-bot", description="人大代表联络站意见建议助手 (liaison station bot)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate the database and start the bot (long polling)")
    run.add_argument("--webhook-url", help="public HTTPS URL: receive updates by webhook instead")
    run.add_argument("--listen", default="0.0.0.0:8443", help="host:port for the webhook server")
    run.set_defaults(func=cmd_run)
    dispatch = sub.add_parser("dispatch", help="run only reminders and the outbox (a worker)")
    dispatch.add_argument(
        "--until-idle", action="store_true", help="exit once nothing is left to send"
    )
    dispatch.set_defaults(func=cmd_dispatch)
    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="migrate the database (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    from bot import classifier_cli, reports_cli, units_cli, wechat_cli

    classifier_cli.register(sub)
    reports_cli.register(sub)
    units_cli.register(sub)
    wechat_cli.register(sub)
    return p


def with_corrections(args: argparse.Namespace) -> None:
    """`train` without --data learns from the shipped corpus plus staff corrections in the DB."""
    if getattr(args, "command", None) != "train" or getattr(args, "data", None) is not None:
        return
    from bot.classifier_cli import training_available

    if not training_available():
        return  # cmd_train says which install adds training
    import asyncio

    from services.learning import load_corrections
    from storage.migrate import upgrade

    settings = load_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url, timezone=settings.timezone)
    args.extra_examples = asyncio.run(load_corrections(settings.database_url))
    print(f"工作人员更正 staff corrections: {len(args.extra_examples)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with_corrections(args)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
