"""`liaison-bot` command line: run, db upgrade, classify/train/evaluate (and more to come)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.config import Settings


def load_settings() -> Settings:
    """Read settings or exit 2 with one line that says what to fix."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]).upper()
        print(f"配置错误 {field}: {first['msg']}（请检查环境变量或 .env）", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    problem = settings.token_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings.ensure_dirs()

    from telegram import Update

    from bot.app import build
    from bot.runtime import load_classifier
    from domain.clock import clock_from_env
    from storage.migrate import upgrade

    upgrade(settings.database_url)
    classifier = load_classifier(settings)
    assembly = build(settings, classifier, clock_from_env())
    assembly.app.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=True)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.ensure_dirs()
    from storage.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"数据库已迁移到 {args.revision}: {settings.database_url}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="liaison-bot", description="人大代表联络站意见建议助手 (liaison station bot)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate the database and start the bot (long polling)")
    run.set_defaults(func=cmd_run)
    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="migrate the database (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    from bot import classifier_cli

    classifier_cli.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
