"""Errors the library raises for captures it cannot turn into records."""

from __future__ import annotations

__all__ = ["CaptureError"]


class CaptureError(Exception):
    """A capture that cannot become a record; the message says why, in a few words."""
