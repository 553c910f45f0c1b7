"""The account's custom menu (自定义菜单) as data, checked against WeChat's documented limits.

创建接口 (developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Creating_Custom-Defined_Menu.html):
at most 3 top-level buttons and 5 under each; a top-level name at most 16 bytes (4 Chinese
characters), a sub-button name at most 60 bytes; a key at most 128 bytes, a URL at most 1024
bytes. Names over 4 Chinese characters (top) or 8 (sub) are accepted but cut with "..." on
screen, so keep them to that. Only `click` buttons send the app an event it can answer (and open 3 customer-service
messages for a minute); `view` opens a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from handlers.wechat.limits import LIMITS

MAX_TOP = LIMITS.menu_top_buttons
MAX_SUB = LIMITS.menu_sub_buttons
MAX_TOP_NAME_BYTES = LIMITS.menu_top_name_bytes
MAX_SUB_NAME_BYTES = LIMITS.menu_sub_name_bytes
MAX_KEY_BYTES = LIMITS.menu_key_bytes
MAX_URL_BYTES = LIMITS.menu_url_bytes


@dataclass(frozen=True)
class MenuButton:
    """A button: `click` with a key, `view` with a URL, or a group of `children`."""

    name: str
    kind: Literal["click", "view", "group"] = "click"
    key: str | None = None
    url: str | None = None
    children: tuple[MenuButton, ...] = ()

    def as_json(self) -> dict[str, Any]:
        if self.kind == "group":
            return {"name": self.name, "sub_button": [c.as_json() for c in self.children]}
        if self.kind == "view":
            return {"type": "view", "name": self.name, "url": self.url}
        return {"type": "click", "name": self.name, "key": self.key}


@dataclass(frozen=True)
class Menu:
    buttons: tuple[MenuButton, ...]

    def as_json(self) -> dict[str, Any]:
        """The body of /cgi-bin/menu/create."""
        return {"button": [b.as_json() for b in self.buttons]}

    def problems(self) -> list[str]:
        """What WeChat would refuse, in words (empty: fine)."""
        out: list[str] = []
        if not 1 <= len(self.buttons) <= MAX_TOP:
            out.append(f"the menu needs 1 to {MAX_TOP} top-level buttons")
        for button in self.buttons:
            out += _check(button, MAX_TOP_NAME_BYTES)
            if button.kind == "group":
                if not 1 <= len(button.children) <= MAX_SUB:
                    out.append(f"{button.name}: 1 to {MAX_SUB} sub-buttons")
                for child in button.children:
                    if child.kind == "group":
                        out.append(f"{child.name}: menus have two levels only")
                    out += _check(child, MAX_SUB_NAME_BYTES)
        return out


def _check(button: MenuButton, name_bytes: int) -> list[str]:
    out: list[str] = []
    if not button.name or len(button.name.encode("utf-8")) > name_bytes:
        out.append(f"{button.name!r}: a name of 1 to {name_bytes} bytes")
    if button.kind == "click" and (
        not button.key or len(button.key.encode("utf-8")) > MAX_KEY_BYTES
    ):
        out.append(f"{button.name}: a key of 1 to {MAX_KEY_BYTES} bytes")
    if button.kind == "view" and (
        not button.url or len(button.url.encode("utf-8")) > MAX_URL_BYTES
    ):
        out.append(f"{button.name}: a URL of 1 to {MAX_URL_BYTES} bytes")
    return out
