"""WeChat's push protocol as the platform side does it, written apart from handlers/wechat.

The fake signs, encrypts and builds XML with this module, not with the bot's code, so a mistake
in the bot's crypto is not mirrored here and cancelled out. Sources:
- signature / msg_signature: "接入指南" and "消息加解密说明 / 技术方案" (sha1 over the sorted
  strings token, timestamp, nonce[, Encrypt]);
- AES: AESKey = base64(EncodingAESKey + "="), AES-256-CBC, IV = first 16 key bytes, PKCS#7 to
  32-byte blocks, plaintext = random(16) ‖ len(4, network order) ‖ msg ‖ AppID;
- envelopes: `<xml><ToUserName/><Encrypt/></xml>` for a safe-mode push, `<xml><Encrypt/>
  <MsgSignature/><TimeStamp/><Nonce/></xml>` for an encrypted reply (same doc, and wechatpy's
  crypto/__init__.py `_encrypt_message`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import xml.etree.ElementTree as ET

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 of the lexicographically sorted strings, concatenated."""
    items = list(parts)
    items.sort()
    return hashlib.sha1("".join(items).encode()).hexdigest()


def _cipher(encoding_aes_key: str) -> Cipher[modes.CBC]:
    key = base64.b64decode(encoding_aes_key + "=")
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt(message: bytes, encoding_aes_key: str, app_id: str) -> str:
    """The Encrypt text WeChat puts into a safe-mode push."""
    body = os.urandom(16) + struct.pack("I", socket.htonl(len(message))) + message + app_id.encode()
    pad = 32 - len(body) % 32
    body += bytes([pad] * pad)
    enc = _cipher(encoding_aes_key).encryptor()
    return base64.b64encode(enc.update(body) + enc.finalize()).decode()


def decrypt(encrypted: str, encoding_aes_key: str) -> tuple[bytes, str]:
    """(message, AppID) inside an Encrypt text; raises ValueError when it is malformed."""
    dec = _cipher(encoding_aes_key).decryptor()
    plain = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad] * pad):
        raise ValueError("bad padding")
    plain = plain[:-pad]
    length = socket.ntohl(struct.unpack("I", plain[16:20])[0])
    return plain[20 : 20 + length], plain[20 + length :].decode()


def to_xml(fields: list[tuple[str, object]]) -> bytes:
    """Serialize like WeChat: strings in CDATA, numbers bare, (name, list) nested."""

    def render(items: list[tuple[str, object]]) -> str:
        out = []
        for name, value in items:
            if isinstance(value, list):
                inner = render(value)
            elif isinstance(value, int | float):
                inner = str(value)
            else:
                inner = "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"
            out.append(f"<{name}>{inner}</{name}>")
        return "".join(out)

    return ("<xml>" + render(fields) + "</xml>").encode()


def from_xml(data: bytes) -> dict[str, object]:
    """Parse a reply the bot sent (trusted: the fake only reads what the bot wrote)."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("a reply with a DTD")
    root = ET.fromstring(data)
    out: dict[str, object] = {}
    for child in root:
        if len(child):
            out[child.tag] = {sub.tag: sub.text or "" for sub in child}
        else:
            out[child.tag] = child.text or ""
    return out
