"""One exception type whose message is a single line a station operator can act on."""

from __future__ import annotations


class ClassifierError(Exception):
    """A user-facing problem (bad file, bad model): str(exc) says what to do next."""
