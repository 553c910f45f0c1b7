"""Pure text rules shared by chat intake and ledger import."""

from __future__ import annotations

import re

ON_BEHALF_RE = re.compile(r"^\s*(?:代|替|受)\s*(.{1,30}?)\s*(?:反映|转交|委托)\s*[:：，,]\s*")


def meaningful_chars(text: str) -> int:
    """Letters, digits and CJK characters: emoji and punctuation alone are not an opinion."""
    return sum(1 for ch in text if ch.isalnum())


def on_behalf_of(text: str) -> str | None:
    """ "代张大爷反映：…" → 张大爷: whom a representative relays an opinion for."""
    found = ON_BEHALF_RE.match(text)
    return found.group(1) if found else None


_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def storable(text: str) -> str:
    """Without NUL (PostgreSQL text refuses it), lone surrogates (no UTF-8 can hold them) and
    the other control characters XML refuses (the ledger workbook is XML); tab and newlines stay.
    What a platform hands us goes through here once, before anything is stored or answered."""
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text
