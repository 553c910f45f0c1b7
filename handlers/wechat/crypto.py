"""Signatures and the AES message encryption of WeChat's message push (消息加解密).

Protocol (公众号 "消息加解密说明 / 技术方案"):
- signature = sha1 of the sorted, concatenated strings: token, timestamp, nonce (URL check and
  plain-mode pushes); msg_signature adds the Encrypt text as a fourth string (safe mode).
- AESKey = base64decode(EncodingAESKey + "="): 32 bytes. AES-256-CBC, IV = AESKey[:16].
- plaintext = random(16) + len(msg) as 4 bytes big-endian + msg + AppID, PKCS#7-padded to a
  multiple of 32 bytes (not AES's 16), then base64.

Everything here is pure; `cryptography` supplies AES. Comparisons of signatures run in constant
time, and a decrypted message is only trusted after its padding, length and AppID all check out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat's PKCS#7 block: K = 32, not AES's 16


class SignatureError(Exception):
    """A signature did not match: the request is not from WeChat (or the token is wrong)."""


class DecryptError(Exception):
    """An Encrypt payload could not be decrypted into a message for this AppID."""


def sign(*parts: str) -> str:
    """sha1 hex of the parts sorted as strings and joined without a separator."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two hex signatures (None never matches)."""
    if given is None:
        return False
    return hmac.compare_digest(
        expected.encode("ascii"), given.strip().lower().encode("ascii", "replace")
    )


def timestamp_fresh(timestamp: str | None, now: float, window: float) -> bool:
    """Whether `timestamp` (unix seconds, as WeChat sends it) is within `window` of `now`."""
    if timestamp is None or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - now) <= window


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key behind a 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes (43 characters)")
    return key


def pkcs7_pad(data: bytes) -> bytes:
    """Pad to a multiple of 32 bytes; a full block of padding when already aligned."""
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def pkcs7_unpad(data: bytes) -> bytes:
    """Remove and check the padding: 1..32 bytes, all equal to their count."""
    if not data or len(data) % 16:
        raise DecryptError("ciphertext length is not a whole number of AES blocks")
    n = data[-1]
    if not 1 <= n <= BLOCK or n > len(data) or data[-n:] != bytes([n]) * n:
        raise DecryptError("bad PKCS#7 padding")
    return data[:-n]


class MessageCipher:
    """Encrypts replies and decrypts pushes for one account (EncodingAESKey + AppID)."""

    def __init__(self, encoding_aes_key: str, app_id: str) -> None:
        self._key = aes_key(encoding_aes_key)
        self._app_id = app_id.encode("utf-8")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, message: bytes, *, random_prefix: bytes | None = None) -> str:
        """Base64 Encrypt text for `message` (the prefix is random unless a test fixes it)."""
        prefix = os.urandom(16) if random_prefix is None else random_prefix
        if len(prefix) != 16:
            raise ValueError("the random prefix is 16 bytes")
        plain = pkcs7_pad(prefix + struct.pack(">I", len(message)) + message + self._app_id)
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> bytes:
        """The message inside an Encrypt text; DecryptError unless everything checks out."""
        try:
            raw = base64.b64decode(encrypted.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DecryptError("Encrypt is not base64") from exc
        if len(raw) < BLOCK or len(raw) % 16:
            raise DecryptError("ciphertext length is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        content = pkcs7_unpad(decryptor.update(raw) + decryptor.finalize())
        if len(content) < 20:
            raise DecryptError("decrypted text is too short")
        (length,) = struct.unpack(">I", content[16:20])
        if length > len(content) - 20:
            raise DecryptError("message length runs past the end")
        message, app_id = content[20 : 20 + length], content[20 + length :]
        if not hmac.compare_digest(app_id, self._app_id):
            raise DecryptError("the message is for another AppID")
        return message
