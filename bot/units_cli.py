"""`liaison-bot units import FILE`: a station's 权责清单 (CSV or xlsx: 单位,事项,主题) for the
routing suggestions at 交办. Migrates the database first; problems end with one Chinese line on
stderr and exit code 1, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    units = subparsers.add_parser("units", help="the station's units and 权责清单")
    sub = units.add_subparsers(dest="units_command", required=True)
    im = sub.add_parser(
        "import", help="load the 权责清单 (CSV/xlsx: 单位,事项,主题) for routing suggestions"
    )
    im.add_argument("file", type=Path)
    im.add_argument("--station", help="station code (default: STATION_CODE)")
    im.set_defaults(func=cmd_units_import)


def cmd_units_import(args: argparse.Namespace) -> int:
    from bot.reports_cli import _context, _prepare, _problem

    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"无法读取 {path}：{exc.strerror or exc}", file=sys.stderr)
        return 1
    settings = _prepare()
    ctx, engine = _context(settings)

    async def run() -> int:
        from services.casework.duties import import_duty_file

        try:
            await ctx.prepare()
            result = await import_duty_file(ctx, data, path.name, args.station)
        finally:
            await engine.dispose()
        print(result.message, file=sys.stdout if result.ok else sys.stderr)
        return 0 if result.ok else 1

    try:
        return asyncio.run(run())
    except (LookupError, SQLAlchemyError) as exc:
        print(_problem(exc), file=sys.stderr)
        return 1
