"""Passive replies (被动回复): the answer to a push, sent back in the same HTTP response.

Shapes from the 公众号 doc "被动回复用户消息" (Passive_user_reply_message.html) and wechatpy's
replies.py; the encrypted envelope from "消息加解密说明". Answering "success" (or an empty body)
tells WeChat the push was received and nothing is said back; it then neither retries nor shows
the resident "该公众号暂时无法提供服务".
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from handlers.wechat import xml
from handlers.wechat.crypto import MessageCipher, sign

SUCCESS = b"success"


@dataclass(frozen=True)
class TextReply:
    """Plain text; `<a href="…">` links are the only markup WeChat shows."""

    content: str


@dataclass(frozen=True)
class ImageReply:
    """An image uploaded before (media upload) and referenced by its media_id."""

    media_id: str


PassiveReply = TextReply | ImageReply


def reply_xml(reply: PassiveReply, *, openid: str, account: str, create_time: int) -> bytes:
    """The reply document: To is the resident, From the account (the push's ToUserName)."""
    head: list[tuple[str, str | int | list[tuple[str, str | int]]]] = [
        ("ToUserName", openid),
        ("FromUserName", account),
        ("CreateTime", create_time),
    ]
    if isinstance(reply, TextReply):
        return xml.build([*head, ("MsgType", "text"), ("Content", reply.content)])
    return xml.build([*head, ("MsgType", "image"), ("Image", [("MediaId", reply.media_id)])])


def encrypted_envelope(
    document: bytes, *, cipher: MessageCipher, token: str, timestamp: str, nonce: str | None = None
) -> bytes:
    """Wrap a reply for safe mode: Encrypt, MsgSignature over token/timestamp/nonce/Encrypt."""
    nonce = nonce or secrets.token_hex(8)
    encrypted = cipher.encrypt(document)
    return xml.build(
        [
            ("Encrypt", encrypted),
            ("MsgSignature", sign(token, timestamp, nonce, encrypted)),
            ("TimeStamp", int(timestamp)),
            ("Nonce", nonce),
        ]
    )
