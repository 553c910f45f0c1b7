"""Settings for every command: read once, or exit 2 with one line that says what to fix."""

from __future__ import annotations

import sys

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
