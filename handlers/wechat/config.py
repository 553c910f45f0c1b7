"""The official account's settings, read from WECHAT_* variables (bot/config.py stays untouched).

| variable | default | meaning |
|---|---|---|
| `WECHAT_APP_ID` | — (turns the channel on) | AppID (开发者ID) of the official account |
| `WECHAT_APP_SECRET` | — (required) | AppSecret (开发者密码) |
| `WECHAT_TOKEN` | — (required) | 服务器配置 Token: 3–32 letters or digits |
| `WECHAT_AES_KEY` | — | EncodingAESKey: 43 letters or digits (needed for safe and compatible mode) |
| `WECHAT_MODE` | `safe` with a key, else `plain` | 消息加解密方式: `plain`, `compatible` or `safe` |
| `WECHAT_BASE_URL` | `https://api.weixin.qq.com` | API server (the tests point it at their fake) |
| `WECHAT_PATH` | `/wechat` | path of the 服务器配置 URL the endpoint serves |
| `WECHAT_TOKEN_API` | `stable` | `stable` (`/cgi-bin/stable_token`) or `classic` (`/cgi-bin/token`) |
| `WECHAT_TIMESTAMP_WINDOW` | `300` | seconds a push's timestamp may be away from now (replay protection) |
| `WECHAT_REPLY_DEADLINE` | `4.0` | seconds the app gets before the endpoint answers "success" |
| `WECHAT_TEMPLATE_<PURPOSE>` | — | `TEMPLATE_ID;key=field,key=field`, e.g. `Ab12…;character_string1=ref,thing2=title,time3=when` |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["plain", "compatible", "safe"]
TokenApi = Literal["stable", "classic"]

OFFICIAL_API_BASE_URL = "https://api.weixin.qq.com"
# 服务器配置: "Token 必须为英文或数字，长度为3-32字符"; EncodingAESKey: 43 characters of a-z, A-Z, 0-9.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{3,32}$")
_AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")
_FIELD_RE = re.compile(r"^[a-z_]+[0-9]*$")
_TEMPLATE_PREFIX = "WECHAT_TEMPLATE_"


@dataclass(frozen=True)
class TemplateSpec:
    """One configured template message: its id and which value fills each keyword.

    `fields` pairs a template keyword (`thing2`, `character_string1`, `time3`: the type is the
    keyword's prefix) with the name of a value the app supplies (`title`, `ref`, `when`).
    """

    template_id: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WeChatConfig:
    """Everything the WeChat channel needs to know about the account."""

    app_id: str
    app_secret: str
    token: str
    encoding_aes_key: str | None = None
    mode: Mode = "plain"
    api_base_url: str = OFFICIAL_API_BASE_URL
    endpoint_path: str = "/wechat"
    token_api: TokenApi = "stable"
    timestamp_window: float = 300.0
    reply_deadline: float = 4.0
    templates: tuple[tuple[str, TemplateSpec], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.app_id or not self.app_secret:
            raise ValueError("WECHAT_APP_ID and WECHAT_APP_SECRET are both required")
        if not _TOKEN_RE.match(self.token):
            raise ValueError("WECHAT_TOKEN must be 3 to 32 letters or digits (服务器配置 Token)")
        if self.encoding_aes_key is not None and not _AES_KEY_RE.match(self.encoding_aes_key):
            raise ValueError("WECHAT_AES_KEY must be 43 letters or digits (EncodingAESKey)")
        if self.mode != "plain" and self.encoding_aes_key is None:
            raise ValueError(f"WECHAT_MODE={self.mode} needs WECHAT_AES_KEY")
        if not self.endpoint_path.startswith("/"):
            raise ValueError("WECHAT_PATH must start with /")
        if not 0 < self.reply_deadline < 5:
            raise ValueError("WECHAT_REPLY_DEADLINE must be between 0 and 5 seconds")
        if self.timestamp_window <= 0:
            raise ValueError("WECHAT_TIMESTAMP_WINDOW must be positive")

    def template(self, purpose: str) -> TemplateSpec | None:
        """The template configured for `purpose` (lower case), or None."""
        for name, spec in self.templates:
            if name == purpose:
                return spec
        return None


def parse_template(value: str) -> TemplateSpec:
    """Parse `TEMPLATE_ID;key=field,key=field` (see the module table)."""
    template_id, _, mapping = value.partition(";")
    template_id = template_id.strip()
    if not template_id:
        raise ValueError(f"template setting {value!r} has no template id")
    pairs: list[tuple[str, str]] = []
    for item in mapping.split(","):
        if not item.strip():
            continue
        key, sep, source = item.partition("=")
        key, source = key.strip(), source.strip()
        if not sep or not _FIELD_RE.match(key) or not source:
            raise ValueError(f"template field {item!r} is not keyword=value_name")
        pairs.append((key, source))
    if not pairs:
        raise ValueError(f"template setting {value!r} maps no fields")
    return TemplateSpec(template_id, tuple(pairs))


def from_env(env: Mapping[str, str]) -> WeChatConfig | None:
    """Build the config from WECHAT_* variables; None when WECHAT_APP_ID is unset or empty.

    Raises ValueError naming the variable at fault, so start-up can print one clear line.
    """
    app_id = env.get("WECHAT_APP_ID", "").strip()
    if not app_id:
        return None
    aes_key = env.get("WECHAT_AES_KEY", "").strip() or None
    mode = env.get("WECHAT_MODE", "").strip().lower() or ("safe" if aes_key else "plain")
    if mode not in ("plain", "compatible", "safe"):
        raise ValueError("WECHAT_MODE must be plain, compatible or safe")
    token_api = env.get("WECHAT_TOKEN_API", "").strip().lower() or "stable"
    if token_api not in ("stable", "classic"):
        raise ValueError("WECHAT_TOKEN_API must be stable or classic")
    templates = tuple(
        sorted(
            (name[len(_TEMPLATE_PREFIX) :].lower(), parse_template(value))
            for name, value in env.items()
            if name.startswith(_TEMPLATE_PREFIX) and value.strip()
        )
    )
    return WeChatConfig(
        app_id=app_id,
        app_secret=env.get("WECHAT_APP_SECRET", "").strip(),
        token=env.get("WECHAT_TOKEN", "").strip(),
        encoding_aes_key=aes_key,
        mode=mode,  # type: ignore[arg-type]  # checked above
        api_base_url=(env.get("WECHAT_BASE_URL", "").strip() or OFFICIAL_API_BASE_URL).rstrip("/"),
        endpoint_path=env.get("WECHAT_PATH", "").strip() or "/wechat",
        token_api=token_api,  # type: ignore[arg-type]  # checked above
        timestamp_window=_float(env, "WECHAT_TIMESTAMP_WINDOW", 300.0),
        reply_deadline=_float(env, "WECHAT_REPLY_DEADLINE", 4.0),
        templates=templates,
    )


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number") from exc
