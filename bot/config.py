"""Settings from the environment and an optional `.env`, validated once at start."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

OFFICIAL_BASE_URL = "https://api.telegram.org/bot"
TOKEN_RE = re.compile(r"^\d{3,15}:[A-Za-z0-9_-]{10,}$")


class Settings(BaseSettings):
    """Everything the bot reads from its environment (see the README's table)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str = ""
    database_url: str = "sqlite+aiosqlite:///./data/liaison.db"
    data_dir: Path = Path("./data")
    telegram_base_url: str = OFFICIAL_BASE_URL
    telegram_base_file_url: str = ""
    telegram_http_client: Literal["aiohttp", "httpx"] = "aiohttp"
    # `123` (a Telegram user id), `dingtalk:userId`, `wechat:openid`; comma-separated.
    admin_ids: Annotated[frozenset[tuple[str, str]], NoDecode] = frozenset()
    timezone: str = "Asia/Shanghai"
    station_name: str = "人大代表联络站"
    station_code: str = "default"
    ref_prefix: str = "LL"
    opinions_per_hour: int = Field(default=10, ge=1)
    min_opinion_chars: int = Field(default=5, ge=1)
    max_opinion_chars: int = Field(default=2000, ge=10, le=4000)
    # A staff or assignee prompt (reason, note, result) not answered within this many minutes
    # expires: a later text is not taken as its answer.
    prompt_ttl_minutes: int = Field(default=60, ge=1, le=10080)
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)  # a probability
    model_dir: Path | None = None
    holidays_file: Path | None = None
    reminder_time: time = time(9, 0)
    reminder_days_before: int = Field(default=3, ge=0, le=30)
    overdue_report_after: int = Field(default=3, ge=1, le=30)
    outbox_lease_seconds: float = Field(default=60.0, ge=2, le=3600)
    # How long an update being handled belongs to one process (renewed while it is handled);
    # after a crash another process (or the restarted one) handles it again after this.
    inbox_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    inbox_keep_hours: float = Field(default=48.0, gt=0, le=24 * 365)
    bulk_rate_per_second: float = Field(default=28.0, gt=0, le=1000)
    concurrent_updates: int = Field(default=64, ge=1, le=1024)
    # Replies sent and not yet recorded as sent, per process: what a kill -9 can double
    # (services.kernel.reply_gate). 1: at most one message per crash; replies go one at a time.
    replies_in_flight: int = Field(default=1, ge=1, le=256)
    gil_switch_interval: float = Field(default=0.0005, gt=0, le=0.1)
    tick_seconds: float = Field(default=10.0, gt=0.05, le=300)
    # Sent and dropped outbox rows older than this are deleted by the clock (small batches).
    outbox_retention_days: int = Field(default=90, ge=1, le=36500)
    chart_wait_seconds: float = Field(default=0.1, gt=0, le=60)
    log_level: str = "INFO"
    webhook_secret: str = ""
    # Hex key for signing action payloads; empty: generated once and kept in the database.
    action_secret: str = ""
    # DingTalk (钉钉): an internal app's robot over Stream mode; empty client id = not served.
    dingtalk_client_id: str = ""
    dingtalk_client_secret: str = ""
    dingtalk_robot_code: str = ""
    dingtalk_api_base_url: str = "https://api.dingtalk.com"
    dingtalk_oapi_base_url: str = "https://oapi.dingtalk.com"
    dingtalk_gateway_url: str = ""  # default: the API base + /v1.0/gateway/connections/open
    dingtalk_card_template_id: str = ""
    # Send-only groups (custom robots): `名称=URL|SEC密钥;名称2=URL2`.
    dingtalk_webhooks: str = ""
    dingtalk_rate_per_second: float = Field(default=19.0, gt=0, le=1000)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, int):
            value = str(value)
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            return frozenset(admin_identity(p) for p in parts)
        return value

    @field_validator("action_secret")
    @classmethod
    def _check_secret(cls, value: str) -> str:
        try:
            key = bytes.fromhex(value)
        except ValueError as exc:
            raise ValueError("ACTION_SECRET 应为十六进制字符串（例如 64 个十六进制字符）") from exc
        if value and len(key) < 16:
            raise ValueError("ACTION_SECRET 太短：至少 32 个十六进制字符")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知时区 {value!r}，例如 Asia/Shanghai") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_file_url(self) -> str:
        """Derive the file URL from the API URL the way Bot API servers lay them out."""
        if self.telegram_base_file_url:
            return self.telegram_base_file_url
        base = self.telegram_base_url
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base.rstrip("/") + "/file/bot"

    def token_problem(self) -> str | None:
        """Return why the token cannot be used, or None when it looks like a Bot API token."""
        if not self.bot_token:
            return "缺少 BOT_TOKEN：请在环境变量或 .env 中设置从 @BotFather 获得的令牌 (missing BOT_TOKEN)"
        if not TOKEN_RE.match(self.bot_token):
            return "BOT_TOKEN 格式不正确，应形如 123456789:AAE...（请从 @BotFather 复制完整令牌） (malformed BOT_TOKEN)"
        return None

    def ensure_dirs(self) -> None:
        """Create the data folder and, for SQLite, the database's folder."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = sqlite_path(self.database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)


def admin_identity(entry: str) -> tuple[str, str]:
    """`123` → (telegram, 123); `dingtalk:abc` → (dingtalk, abc); `wechat:openid` likewise."""
    from domain.channels import Address, Channel

    try:
        address = Address.parse(entry)
    except ValueError as exc:
        raise ValueError(f"ADMIN_IDS 条目 {entry!r} 无效") from exc
    if address.channel is Channel.TELEGRAM and not address.id.lstrip("-").isdigit():
        raise ValueError(
            f"ADMIN_IDS 条目 {entry!r} 无效：Telegram 用户 id 是数字，其他渠道写成 dingtalk:ID 或 wechat:openid"
        )
    return (address.channel.value, address.id)


def sqlite_path(url: str) -> Path | None:
    """Return the file of a sqlite URL (None for memory or other engines)."""
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    if not rest or rest.startswith(":memory:"):
        return None
    return Path(rest.split("?", 1)[0])
