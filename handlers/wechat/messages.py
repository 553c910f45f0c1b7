"""What a resident sends the official account, as frozen dataclasses (the app never sees XML).

Field names and shapes follow the 公众号 docs "接收普通消息" and "接收事件推送"
(developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html,
.../Receiving_event_pushes.html) and wechatpy's messages.py / events.py.

Idempotency (WeChat pushes a message again when it got no answer in 5 seconds): the docs say
deduplicate messages on MsgId and events on FromUserName + CreateTime. MsgId has been seen to
collide between users (binarywang/WxJava#333), so the message key includes the sender too, and
the event key includes the event name (a subscribe and a SCAN can share a second).

Official accounts are not pushed files (neither the docs nor wechatpy list a `file` MsgType);
any type not modelled here arrives as UnknownMessage / UnknownEvent, for a polite answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from handlers.wechat.xml import XmlValue, text


@dataclass(frozen=True, kw_only=True)
class Inbound:
    """Fields every push has: the account (ToUserName), the resident's OpenID, the time."""

    to_user: str
    from_user: str
    create_time: int

    @property
    def openid(self) -> str:
        """The resident, as this account knows them."""
        return self.from_user

    @property
    def idempotency_key(self) -> str:
        """The same for every retry of one push, different for any two pushes."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Message(Inbound):
    """A resident's message (everything that has a MsgId)."""

    msg_id: str

    @property
    def idempotency_key(self) -> str:
        return f"wechat:msg:{self.from_user}:{self.msg_id}"


@dataclass(frozen=True, kw_only=True)
class Event(Inbound):
    """An event (follow, scan, menu): no MsgId, keyed on sender + time + event."""

    event: str

    @property
    def idempotency_key(self) -> str:
        return f"wechat:event:{self.from_user}:{self.create_time}:{self.event}"


@dataclass(frozen=True, kw_only=True)
class TextMessage(Message):
    content: str


@dataclass(frozen=True, kw_only=True)
class ImageMessage(Message):
    pic_url: str
    media_id: str


@dataclass(frozen=True, kw_only=True)
class VoiceMessage(Message):
    media_id: str
    format: str
    recognition: str | None = None  # only when 语音识别 is switched on for the account


@dataclass(frozen=True, kw_only=True)
class VideoMessage(Message):
    media_id: str
    thumb_media_id: str
    short: bool = False  # MsgType shortvideo (小视频)


@dataclass(frozen=True, kw_only=True)
class LocationMessage(Message):
    latitude: float  # Location_X
    longitude: float  # Location_Y
    scale: int
    label: str


@dataclass(frozen=True, kw_only=True)
class LinkMessage(Message):
    title: str
    description: str
    url: str


@dataclass(frozen=True, kw_only=True)
class UnknownMessage(Message):
    """A message type this module does not model (e.g. a mini-program card): answer politely."""

    msg_type: str


@dataclass(frozen=True, kw_only=True)
class SubscribeEvent(Event):
    """A follow. `scene` is set when the follow came from a parametric QR code (qrscene_…)."""

    scene: str | None = None
    ticket: str | None = None


@dataclass(frozen=True, kw_only=True)
class UnsubscribeEvent(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class ScanEvent(Event):
    """A follower scanned a parametric QR code (EventKey is the scene, without a prefix)."""

    scene: str
    ticket: str | None = None


@dataclass(frozen=True, kw_only=True)
class MenuClickEvent(Event):
    """CLICK on a menu button of type click: `key` is the button's key."""

    key: str


@dataclass(frozen=True, kw_only=True)
class MenuViewEvent(Event):
    """VIEW: the resident opened a menu link (no reply can be sent to a VIEW)."""

    url: str
    menu_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class LocationEvent(Event):
    """LOCATION: the periodic position report (only when the account asks for it)."""

    latitude: float
    longitude: float
    precision: float


@dataclass(frozen=True, kw_only=True)
class TemplateSendResultEvent(Event):
    """TEMPLATESENDJOBFINISH: the final fate of a template message (`msg_id` from the send)."""

    msg_id: str
    status: str  # "success", "failed:user block", "failed: system failed"

    @property
    def delivered(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(Event):
    key: str | None = None


class ParseError(ValueError):
    """The push lacks a field every push has."""


class _Common(TypedDict):
    to_user: str
    from_user: str
    create_time: int


class _MessageBase(_Common):
    msg_id: str


class _EventBase(_Common):
    event: str


def _need(fields: dict[str, XmlValue], name: str) -> str:
    value = text(fields, name)
    if value is None:
        raise ParseError(f"push has no {name}")
    return value


def _float(fields: dict[str, XmlValue], name: str) -> float:
    try:
        return float(_need(fields, name))
    except ValueError as exc:
        raise ParseError(f"{name} is not a number") from exc


def parse_inbound(fields: dict[str, XmlValue]) -> Inbound:
    """Turn the parsed XML of a push into one of the dataclasses above."""
    common = _Common(
        to_user=_need(fields, "ToUserName"),
        from_user=_need(fields, "FromUserName"),
        create_time=_int(_need(fields, "CreateTime")),
    )
    msg_type = _need(fields, "MsgType").lower()
    if msg_type == "event":
        return _event(fields, common)
    msg_id = text(fields, "MsgId") or text(fields, "MsgID")
    if msg_id is None:
        raise ParseError("message has no MsgId")
    base = _MessageBase(**common, msg_id=msg_id)
    if msg_type == "text":
        return TextMessage(**base, content=text(fields, "Content") or "")
    if msg_type == "image":
        return ImageMessage(
            **base, pic_url=text(fields, "PicUrl") or "", media_id=_need(fields, "MediaId")
        )
    if msg_type == "voice":
        return VoiceMessage(
            **base,
            media_id=_need(fields, "MediaId"),
            format=text(fields, "Format") or "",
            recognition=text(fields, "Recognition") or None,
        )
    if msg_type in ("video", "shortvideo"):
        return VideoMessage(
            **base,
            media_id=_need(fields, "MediaId"),
            thumb_media_id=text(fields, "ThumbMediaId") or "",
            short=msg_type == "shortvideo",
        )
    if msg_type == "location":
        return LocationMessage(
            **base,
            latitude=_float(fields, "Location_X"),
            longitude=_float(fields, "Location_Y"),
            scale=_int(text(fields, "Scale") or "0"),
            label=text(fields, "Label") or "",
        )
    if msg_type == "link":
        return LinkMessage(
            **base,
            title=text(fields, "Title") or "",
            description=text(fields, "Description") or "",
            url=text(fields, "Url") or "",
        )
    return UnknownMessage(**base, msg_type=msg_type)


def _event(fields: dict[str, XmlValue], common: _Common) -> Event:
    name = _need(fields, "Event")
    key = text(fields, "EventKey")
    base = _EventBase(**common, event=name)
    lowered = name.lower()
    if lowered == "subscribe":
        scene = key[len("qrscene_") :] if key and key.startswith("qrscene_") else None
        return SubscribeEvent(**base, scene=scene or None, ticket=text(fields, "Ticket"))
    if lowered == "unsubscribe":
        return UnsubscribeEvent(**base)
    if lowered == "scan":
        return ScanEvent(**base, scene=key or "", ticket=text(fields, "Ticket"))
    if lowered == "click":
        return MenuClickEvent(**base, key=key or "")
    if lowered == "view":
        return MenuViewEvent(**base, url=key or "", menu_id=text(fields, "MenuId"))
    if lowered == "location":
        return LocationEvent(
            **base,
            latitude=_float(fields, "Latitude"),
            longitude=_float(fields, "Longitude"),
            precision=_float(fields, "Precision"),
        )
    if lowered == "templatesendjobfinish":
        return TemplateSendResultEvent(
            **base,
            msg_id=text(fields, "MsgID") or text(fields, "MsgId") or "",
            status=text(fields, "Status") or "",
        )
    return UnknownEvent(**base, key=key)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise ParseError(f"{value!r} is not an integer") from exc
