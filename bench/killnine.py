"""kill -9 during intake: 300 residents' opinions while the real `liaison-bot run` is killed 10
times, in polling and in webhook mode, on SQLite and PostgreSQL.

Prints, per run, opinions lost, stored twice, stored but never receipted, and duplicate
messages, for this tree and for the baseline (the tree before the durable inbox, exported from
git into a temporary folder and run the same way, in the same run).

    python bench/killnine.py [--opinions 300] [--kills 10] [--residents 60]
        [--modes polling,webhook] [--engines sqlite,postgresql] [--no-baseline]
        [--baseline-rev REV]

--baseline-rev: compare with that revision instead (e.g. the inbox before its replies were
recorded one at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.killnine import Figures, run  # noqa: E402

PG_ADMIN = os.environ.get("LIAISON_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PG_NAME = "liaison_inbox_killnine"


def baseline_tree(into: Path, rev: str | None = None) -> tuple[Path, str]:
    """The source tree just before the inbox was added (its first commit's parent), or `rev`."""
    if rev is None:
        added = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "--", "services/kernel/inbox.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        rev = f"{added[:10]}^"
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into, rev


async def _pg(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def fresh_database(engine: str, folder: Path) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{folder / 'liaison.db'}"
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
    asyncio.run(_pg(f'CREATE DATABASE "{PG_NAME}"'))
    return f"{PG_ADMIN.rpartition('/')[0]}/{PG_NAME}"


def one(args: argparse.Namespace, mode: str, engine: str, root: Path, settle: float) -> Figures:
    with tempfile.TemporaryDirectory(prefix="killnine-") as tmp:
        url = fresh_database(engine, Path(tmp))
        try:
            return run(
                mode,
                url,
                Path(tmp),
                opinions=args.opinions,
                kills=args.kills,
                residents=args.residents,
                settle=settle,
                root=root,
            )
        finally:
            if engine == "postgresql":
                asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--opinions", type=int, default=300)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--residents", type=int, default=60)
    p.add_argument("--modes", default="polling,webhook")
    p.add_argument("--engines", default="sqlite,postgresql")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--baseline-rev", default=None, help="default: the tree before the inbox")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="killnine-base-") as base:
        old, rev = (
            baseline_tree(Path(base), args.baseline_rev) if not args.no_baseline else (ROOT, "")
        )
        for engine in args.engines.split(","):
            for mode in args.modes.split(","):
                now = one(args, mode, engine, ROOT, settle=120.0)
                print(f"inbox    {now.line()}   [load {load_average()}]", flush=True)
                if args.no_baseline:
                    continue
                before = one(args, mode, engine, old, settle=120.0 if args.baseline_rev else 30.0)
                print(f"baseline {before.line()}   [{rev}]", flush=True)
                lost_then = before.lost + before.unreceipted
                lost_now = now.lost + now.unreceipted
                print(
                    f"         lost or unreceipted: {lost_now} now vs {lost_then} before",
                    flush=True,
                )


if __name__ == "__main__":
    main()
