"""Staff corrections become training examples for `liaison-bot train`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from services.casework import CaseworkService
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.learning import load_corrections
from tests.botproc import ROOT
from tests.support import bind_staff, chat, tg

ADMIN = tg(900, "站长")
RES = tg(101, "王阿姨")


async def corrected(ctx: ServiceContext) -> None:
    await bind_staff(ctx, ADMIN, -1001)
    intake = IntakeService(ctx)
    await intake.submit_text(
        RES, chat(RES.external_id), str(1), "护理员一个月才拿两千多，留不住人，希望提高待遇。", None
    )
    cw = CaseworkService(ctx)
    await cw.triage_button(ADMIN, "st", (1, 0))  # first to 居家社区养老 …
    await cw.triage_button(ADMIN, "st", (1, 3))  # … then to 人才培育: the latest counts


async def test_latest_correction_per_opinion(ctx: ServiceContext, db_url: str) -> None:
    await corrected(ctx)
    got = await load_corrections(db_url)
    assert got == [("workforce", "护理员一个月才拿两千多，留不住人，希望提高待遇。")]


async def test_train_command_uses_corrections(
    ctx: ServiceContext, db_url: str, tmp_path: Path
) -> None:
    if not db_url.startswith("sqlite"):
        return  # the command itself is engine-agnostic; one run is enough
    await corrected(ctx)
    env = {**os.environ, "DATABASE_URL": db_url, "DATA_DIR": str(tmp_path / "data")}
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "train", "--data-dir", str(tmp_path / "data"), "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "staff corrections: 1" in out.stderr
    assert (tmp_path / "data" / "model" / "model.json").is_file()
