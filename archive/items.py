"""What spiders hand to the archive pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from scraper import Capture, Record

__all__ = ["ArchiveItem", "CaptureFailure"]


@dataclass(frozen=True, slots=True)
class ArchiveItem:
    """A capture and the record built from it, ready to archive."""

    capture: Capture
    record: Record


@dataclass(frozen=True, slots=True)
class CaptureFailure:
    """An input that produced no record, and why (one line for the user)."""

    source: str
    reason: str
