"""Action payloads: what a button (or a numbered reply) carries back to us, signed.

A payload is `scope:action:int:int…` plus `.` and a truncated HMAC-SHA256 of it, e.g.
`t:dl:42:1:7:15.Xy3-q0aBcDe` (at most 64 bytes, Telegram's callback_data limit). The secret is
generated once and kept in the database (bot_settings), so every instance agrees without
configuration; ACTION_SECRET overrides it. Data from a press is untrusted: a payload whose
signature does not match is forged and refused; a valid one still only names rows, and every
service re-checks the caller's rights on them.

Buttons sent before payloads were signed carry the bare `scope:action:ints`. They keep working
while bot_settings.legacy_actions_until lies ahead (set by the 0002 migration for databases that
had sent cards); after that an unsigned payload counts as forged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Setting
from storage.upsert import insert_for

MAX_BYTES = 64
SIG_BYTES = 8
SECRET_KEY = "action_secret"
LEGACY_KEY = "legacy_actions_until"


@dataclass(frozen=True, slots=True)
class Press:
    """A decoded payload: which handler (scope, action) and its integer arguments."""

    scope: str
    action: str
    args: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Forged:
    """Well-formed, but not signed by us (or signed with another secret)."""

    press: Press


Decoded = Press | Forged | None  # None: not a payload at all (garbage, or a stale format)


def parse(body: str) -> Press | None:
    """`scope:action:int:int…` into a Press; None for anything else."""
    parts = body.split(":")
    if len(parts) < 2 or not parts[0].isalpha() or not parts[1].isalnum():
        return None
    if not all(p.isascii() and p.isdigit() for p in parts[2:]):
        return None
    args = tuple(int(p) for p in parts[2:])
    if any(a > 2**31 - 1 for a in args):  # ids are 32-bit in the database
        return None
    return Press(parts[0], parts[1], args)


class ActionCodec:
    def __init__(self, secret: bytes | None = None, legacy_until: datetime | None = None) -> None:
        self._secret: bytes | None = None
        self._mac: hmac.HMAC | None = None
        self.legacy_until = legacy_until
        if secret is not None:
            self._set(secret)

    def _set(self, secret: bytes) -> None:
        self._secret = secret
        # Keyed once; each signature copies it (half the cost of keying per payload).
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)

    @property
    def ready(self) -> bool:
        return self._secret is not None

    async def load(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """The shared secret (created by whichever instance comes first) and the legacy window."""
        async with sessions.begin() as s:
            if self._secret is None:
                await s.execute(
                    insert_for(s, Setting)
                    .values(key=SECRET_KEY, value=secrets.token_hex(32))
                    .on_conflict_do_nothing(index_elements=["key"])
                )
                value = (
                    await s.execute(select(Setting.value).where(Setting.key == SECRET_KEY))
                ).scalar_one()
                self._set(bytes.fromhex(value))
            legacy = (
                await s.execute(select(Setting.value).where(Setting.key == LEGACY_KEY))
            ).scalar_one_or_none()
            if legacy is not None and self.legacy_until is None:
                self.legacy_until = datetime.fromisoformat(legacy)

    def _sign(self, body: str) -> str:
        if self._mac is None:
            raise RuntimeError("action signer not loaded: await ServiceContext.prepare() first")
        mac = self._mac.copy()
        mac.update(body.encode())
        return base64.urlsafe_b64encode(mac.digest()[:SIG_BYTES]).rstrip(b"=").decode()

    def encode(self, scope: str, action: str, *args: int) -> str:
        body = ":".join([scope, action, *(str(a) for a in args)])
        data = f"{body}.{self._sign(body)}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"action payload over {MAX_BYTES} bytes: {data!r}")
        return data

    def decode(self, data: str | None, now: datetime) -> Decoded:
        if not data or len(data.encode()) > MAX_BYTES:
            return None
        body, dot, sig = data.partition(".")
        press = parse(body)
        if press is None:
            return None
        if dot:
            ok = hmac.compare_digest(sig, self._sign(body))
            return press if ok else Forged(press)
        if self.legacy_until is not None and now < self.legacy_until:
            return press  # a card sent before the upgrade
        return Forged(press)
