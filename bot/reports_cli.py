"""`liaison-bot export` and `liaison-bot import`: the ledger workbook out, offline opinions in.

Both migrate the database first, then run one service call in asyncio.run. Messages are plain
Chinese on stdout/stderr, progress goes to stderr, and expected problems (a bad file, a bad row, a
missing station) end with a message and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

import texts.ledger as tl

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.config import Settings
    from services.kernel.context import ServiceContext


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `export` and `import` to the `liaison-bot` command."""
    ex = subparsers.add_parser("export", help="write the ledger (台账) as an Excel workbook")
    ex.add_argument("--out", type=Path, help="the .xlsx to write (default: 台账-YYYY-MM-DD.xlsx)")
    ex.add_argument("--real-names", action="store_true", help="show residents' names (实名)")
    ex.add_argument("--station", help="station code (default: STATION_CODE)")
    ex.set_defaults(func=cmd_export)
    im = subparsers.add_parser(
        "import",
        help="import opinions collected offline from .xlsx or .csv (docs/ledger-import.md)",
    )
    im.add_argument("file", type=Path)
    im.add_argument("--station", help="station code (default: STATION_CODE)")
    im.add_argument("--encoding", help="CSV encoding when not UTF-8, e.g. gbk")
    im.add_argument("--check", action="store_true", help="only check the file; import nothing")
    im.add_argument(
        "--no-cards", action="store_true", help="do not post a triage card per opinion to staff"
    )
    im.set_defaults(func=cmd_import)


class _Progress:
    """`检查 120/500` on stderr, rewritten in place on a terminal, one line per stage otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.open = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.tty:
            sys.stderr.write(tl.cli_progress(stage, done, total))
            self.open = True
            if done >= total:
                sys.stderr.write("\n")
                self.open = False
        elif done >= total:
            sys.stderr.write(tl.cli_progress(stage, done, total).lstrip("\r") + "\n")
        sys.stderr.flush()

    def end(self) -> None:
        if self.open:
            sys.stderr.write("\n")
            self.open = False


def _context(settings: Settings) -> tuple[ServiceContext, AsyncEngine]:
    """Services as the bot has them; exits 2 with the classifier's own message if it won't load."""
    from bot.context import make_context
    from bot.runtime import load_classifier
    from domain.classifier import ClassifierError
    from domain.clock import clock_from_env

    try:
        classifier = load_classifier(settings)
    except ClassifierError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    app = make_context(settings, classifier, clock_from_env())
    return app.ctx, app.engine


def _prepare() -> Settings:
    from bot.settings_cli import load_settings
    from storage.migrate import upgrade

    settings = load_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url, timezone=settings.timezone)
    return settings


def cmd_export(args: argparse.Namespace) -> int:
    settings = _prepare()
    ctx, engine = _context(settings)
    progress = _Progress()

    async def run() -> tuple[Path | None, int]:
        from services.ledger import LedgerService

        try:
            await ctx.prepare()
            return await LedgerService(ctx).export_station_to(
                args.out, args.station, args.real_names, progress
            )
        finally:
            await engine.dispose()

    try:
        out, count = asyncio.run(run())
    except (LookupError, SQLAlchemyError) as exc:
        progress.end()
        print(_problem(exc), file=sys.stderr)
        return 1
    except OSError as exc:
        progress.end()
        print(tl.cli_cannot_write(str(args.out), exc.strerror or str(exc)), file=sys.stderr)
        return 1
    print(tl.cli_exported(str(out), count, args.real_names))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    settings = _prepare()
    ctx, engine = _context(settings)
    progress = _Progress()

    async def run() -> int:
        from services.ledger import LedgerService

        try:
            await ctx.prepare()
            result = await LedgerService(ctx).import_file(
                args.file,
                station_code=args.station,
                encoding=args.encoding,
                notify_staff=not args.no_cards,
                dry_run=args.check,
                progress=progress,
            )
        finally:
            await engine.dispose()
        progress.end()
        print(result.message, file=sys.stdout if result.ok else sys.stderr)
        return 0 if result.ok else 1

    try:
        return asyncio.run(run())
    except (LookupError, SQLAlchemyError) as exc:
        progress.end()
        print(_problem(exc), file=sys.stderr)
        return 1


def _problem(exc: Exception) -> str:
    """One line for an expected failure: a station that does not exist, a database that won't."""
    if isinstance(exc, LookupError) and exc.args:
        return str(exc.args[0])
    return tl.cli_database_error(f"{type(exc).__name__}: {exc}".splitlines()[0])
