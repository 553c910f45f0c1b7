"""DingTalk settings, read from the environment by the composition root (bot/config.py).

Kept as a plain frozen dataclass so the channel parts and their tests need no settings
framework; :func:`from_env` documents the variable names the integrator wires.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

OFFICIAL_API_BASE_URL = "https://api.dingtalk.com"
OFFICIAL_OAPI_BASE_URL = "https://oapi.dingtalk.com"
# The Stream handshake lives on the OpenAPI host (dingtalk_stream/stream.py,
# DingTalkStreamClient.OPEN_CONNECTION_API; developerpedia docs/learn/stream/protocol.md).
GATEWAY_PATH = "/v1.0/gateway/connections/open"

ENV_CLIENT_ID = "DINGTALK_CLIENT_ID"
ENV_CLIENT_SECRET = "DINGTALK_CLIENT_SECRET"
ENV_ROBOT_CODE = "DINGTALK_ROBOT_CODE"
ENV_API_BASE_URL = "DINGTALK_API_BASE_URL"
ENV_OAPI_BASE_URL = "DINGTALK_OAPI_BASE_URL"
ENV_GATEWAY_URL = "DINGTALK_GATEWAY_URL"
ENV_CARD_TEMPLATE_ID = "DINGTALK_CARD_TEMPLATE_ID"
ENV_WEBHOOKS = "DINGTALK_WEBHOOKS"


class DingTalkConfigError(ValueError):
    """A DingTalk setting is missing or malformed (the CLI prints it and exits 2)."""


@dataclass(frozen=True)
class CustomRobot:
    """One group's custom robot (自定义机器人): its webhook URL and, if set, the 加签 secret."""

    name: str
    webhook_url: str
    secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class DingTalkConfig:
    """The app (企业内部应用) credentials, its robot, and where the platform is reached.

    ``robot_code`` defaults to the Client ID: for a robot created inside an internal app the
    two are equal, and the SDK itself sends ``credential.client_id`` as robotCode
    (dingtalk_stream/card_replier.py).
    """

    client_id: str
    client_secret: str = field(repr=False)
    robot_code: str = ""
    api_base_url: str = OFFICIAL_API_BASE_URL
    oapi_base_url: str = OFFICIAL_OAPI_BASE_URL
    gateway_url: str = ""
    card_template_id: str = ""
    custom_robots: tuple[CustomRobot, ...] = ()

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise DingTalkConfigError(
                f"{ENV_CLIENT_ID} 和 {ENV_CLIENT_SECRET} 都要设置（开发者后台 应用凭证 页）"
            )
        for name in ("api_base_url", "oapi_base_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")):
                raise DingTalkConfigError(f"{name} 应以 http:// 或 https:// 开头：{value!r}")
            object.__setattr__(self, name, value.rstrip("/"))
        if not self.robot_code:
            object.__setattr__(self, "robot_code", self.client_id)
        if not self.gateway_url:
            object.__setattr__(self, "gateway_url", self.api_base_url + GATEWAY_PATH)

    def custom_robot(self, name: str) -> CustomRobot | None:
        """The custom robot configured under ``name`` (a group's label), if any."""
        for robot in self.custom_robots:
            if robot.name == name:
                return robot
        return None


_WEBHOOK_ITEM = re.compile(r"^\s*([^=\s]+)\s*=\s*(\S+?)(?:\s*\|\s*(\S+))?\s*$")


def parse_webhooks(value: str) -> tuple[CustomRobot, ...]:
    """``name=URL|SECsecret;name2=URL2`` → custom robots (the secret part is optional)."""
    robots: list[CustomRobot] = []
    for item in filter(None, (part.strip() for part in value.split(";"))):
        match = _WEBHOOK_ITEM.match(item)
        if match is None or not match.group(2).startswith(("http://", "https://")):
            raise DingTalkConfigError(
                f"{ENV_WEBHOOKS} 的一项无法解析：{item!r}（应为 名称=URL|SEC密钥）"
            )
        robots.append(CustomRobot(match.group(1), match.group(2), match.group(3) or ""))
    return tuple(robots)


def from_env(env: Mapping[str, str]) -> DingTalkConfig | None:
    """The DingTalk config from environment variables, or None when DingTalk is not set up.

    | variable | meaning |
    |---|---|
    | DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET | 应用凭证 (Client ID / Client Secret) |
    | DINGTALK_ROBOT_CODE | robotCode; defaults to the Client ID |
    | DINGTALK_API_BASE_URL | OpenAPI host, default https://api.dingtalk.com |
    | DINGTALK_OAPI_BASE_URL | legacy host (media upload), default https://oapi.dingtalk.com |
    | DINGTALK_GATEWAY_URL | Stream handshake URL; default API base + /v1.0/gateway/connections/open |
    | DINGTALK_CARD_TEMPLATE_ID | the interactive-card template (卡片平台) for cards with buttons |
    | DINGTALK_WEBHOOKS | custom group robots: ``名称=URL|SEC密钥;名称2=URL2`` |
    """
    client_id = env.get(ENV_CLIENT_ID, "").strip()
    secret = env.get(ENV_CLIENT_SECRET, "").strip()
    webhooks = parse_webhooks(env.get(ENV_WEBHOOKS, ""))
    if not client_id and not secret:
        if webhooks:
            raise DingTalkConfigError(
                f"{ENV_WEBHOOKS} 需要同时配置 {ENV_CLIENT_ID}/{ENV_CLIENT_SECRET}"
            )
        return None
    api = env.get(ENV_API_BASE_URL, "").strip() or OFFICIAL_API_BASE_URL
    return DingTalkConfig(
        client_id=client_id,
        client_secret=secret,
        robot_code=env.get(ENV_ROBOT_CODE, "").strip(),
        api_base_url=api,
        oapi_base_url=env.get(ENV_OAPI_BASE_URL, "").strip() or OFFICIAL_OAPI_BASE_URL,
        gateway_url=env.get(ENV_GATEWAY_URL, "").strip(),
        card_template_id=env.get(ENV_CARD_TEMPLATE_ID, "").strip(),
        custom_robots=webhooks,
    )
