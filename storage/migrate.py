"""Alembic, driven from code so `liaison-bot db upgrade` needs no alembic.ini in the working dir."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head", timezone: str | None = None) -> None:
    """Migrate the database at `url` to `revision` (blocking; run before the event loop starts).

    `timezone`: the bot's TIMEZONE, whose days migration 0011 sums report_days by (default:
    the TIMEZONE environment variable, else Asia/Shanghai)."""
    cfg = alembic_config(url)
    if timezone:
        cfg.attributes["timezone"] = timezone
    command.upgrade(cfg, revision)
