"""User-facing Chinese strings, one module per audience. Everything returned is HTML-safe."""

from __future__ import annotations

import html


def esc(value: object) -> str:
    """Escape anything for Telegram's parse_mode HTML."""
    return html.escape(str(value), quote=False)
