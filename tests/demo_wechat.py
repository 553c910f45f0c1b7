"""The WeChat part of `make demo`: a resident on the official account (tests/fakewechat, safe
mode), the same station's staff and representative on Telegram, one bot process."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from tests.fakewechat import Delivery, FakeWeChat
from tests.wechatproc import Resident, number_for

if TYPE_CHECKING:
    from tests.demo import Script

NAME = "李大爷（微信）"


class WeChatTranscript:
    """Prints what the resident typed and everything the account sent them, in order."""

    def __init__(self, wx: FakeWeChat, resident: Resident) -> None:
        self.wx = wx
        self.resident = resident
        self.printed = wx.mark()

    def flush(self) -> None:
        for d in self.wx.deliveries(self.resident.openid):
            if d.seq > self.printed:
                show(d)
        self.printed = max(self.printed, self.wx.mark())

    def says(self, text: str) -> None:
        self.flush()
        print(f"\n【微信公众号】{NAME}：")
        print(textwrap.indent(text, "    "))
        self.resident.say(text)
        self.flush()

    def waits_for(self, needle: str) -> Delivery:
        found = self.resident.sees(needle, self.printed)
        self.flush()
        return found


def show(d: Delivery) -> None:
    how = {"passive": "回复", "custom": "客服消息", "template": "模板消息"}[d.channel]
    print(f"\n【微信公众号】🤖 联络站（{how}）：")
    body = d.text or f"（{d.kind}）"
    print(textwrap.indent(body, "    "))


def run(s: Script, wx: FakeWeChat, staff: int, rep: int, staff_group: int) -> None:
    print("\n\n========== 微信公众号上的群众 ==========")
    resident = Resident(wx, "李大爷")
    t = WeChatTranscript(wx, resident)
    print(f"\n【微信公众号】{NAME}：\n    （扫联络站的二维码，关注公众号）")
    resident.follow(scene="default")
    t.flush()
    t.says("小区门口的路灯坏了一个多月了，晚上老人出门很不安全，希望尽快修好。")
    print(f"\n【微信公众号】{NAME}：\n    （发来一张照片）")
    resident.photo()
    t.flush()
    s.flush()
    card = s.last(staff_group, "路灯")
    s.press(staff, card, "交办", chat=staff_group)
    s.press(staff, s.last(staff_group, "路灯"), "刘代表", chat=staff_group)
    s.press(staff, s.last(staff_group, "路灯"), "7个工作日", chat=staff_group)
    t.waits_for("已交办给")
    task = s.last(rep, "路灯")
    s.press(rep, task, "签收")
    t.waits_for("签收")
    print("\n（两天过去，李大爷没有再发消息：48 小时客服消息窗口关闭）")
    wx.advance(49 * 3600.0)
    s.press(rep, s.last(rep, "路灯"), "办结")
    s.press(rep, s.last(rep, "哪一类"), "A 已解决")
    s.say(rep, "路灯已更换，晚上已经亮了。")
    t.waits_for("已办结")
    t.says("收到")
    summary = t.waits_for("条新进展")
    t.says(number_for(summary.text, "满意"))
    s.flush()
