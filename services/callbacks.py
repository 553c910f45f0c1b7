"""Callback data: one compact, parseable format for every inline button (<= 64 bytes).

Data from a button press is untrusted (clients can forge it): parsing only yields typed values,
and every service re-checks the caller's rights on the row it names.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64


@dataclass(frozen=True)
class Callback:
    scope: str
    action: str
    args: tuple[int, ...]


def encode(scope: str, action: str, *args: int) -> str:
    data = ":".join([scope, action, *(str(a) for a in args)])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Callback | None:
    """Parse `scope:action:int:int...`; None for anything else (a forged or stale button)."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) < 2 or not parts[0].isalpha() or not parts[1].isalnum():
        return None
    try:
        args = tuple(int(p) for p in parts[2:])
    except ValueError:
        return None
    if any(a < 0 or a > 2**53 for a in args):
        return None
    return Callback(parts[0], parts[1], args)
