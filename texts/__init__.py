"""User-facing Chinese strings, one module per audience.

Chat texts are `domain.message.Rich` built from trusted templates (`t`): the markup in a template
is ours, every value put into it stays text. Escaping for a channel happens in its renderer only.
Labels (buttons, toasts, chart labels, command-line output) are plain strings.
"""

from __future__ import annotations

from domain.message import Rich, t

__all__ = ["Rich", "t"]
